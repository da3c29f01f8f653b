//! The subscription side of the state machine: subscribe, resubscribe with
//! recovery, exactly-once in-order delivery per channel.
//!
//! Offsets are contiguous per channel, so a live publication whose offset is
//! not the last delivered + 1 (same epoch) shows a gap. The machine then holds
//! live publications back, reads the missing ones from history, delivers
//! them, reports [`Event::Gap`] and goes on: the last line of defence behind
//! the server's own recovery, the same in every SDK.

use super::backoff::Backoff;
use super::event::*;
use super::machine::{ClientMachine, Phase};
use super::requests::PendingKind;
use crate::channel::Channel;
use crate::codes::ErrorCode;
use crate::cursor::{Advance, Cursor};
use crate::frame::{ReplyBody, Request};
use crate::message::{
    ChannelRequest, ConnectSub, Error, HistoryRequest, HistoryResult, Publication, StreamPosition,
    SubscribeRequest, SubscribeResult, Unsubscribed,
};
use crate::payload::Payload;

/// Options of a subscription.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubscribeOptions {
    /// Data for the server's `on_subscribe` hook, sent with every (re)subscribe.
    pub data: Option<Payload>,
    /// Start from a position the application saved earlier (for example across
    /// page reloads): the first subscribe then recovers what came after it.
    pub since: Option<StreamPosition>,
}

/// One channel's subscription as the client sees it.
#[derive(Debug)]
pub(super) struct Subscription {
    pub(super) state: SubscriptionState,
    /// The last position delivered to the application.
    position: Cursor,
    data: Option<Payload>,
    /// Wire id of the subscribe (or connect) command awaiting its reply.
    pub(super) in_flight: Option<u64>,
    /// Whether the in-flight subscribe asked to recover from `position`.
    recovering: bool,
    retry_at: Option<Millis>,
    backoff: Backoff,
    /// Live publications held back: before the subscribe reply, or while a
    /// gap is being repaired.
    buffer: Vec<Publication>,
    /// The gap being repaired, if any.
    repair: Option<Repair>,
    /// Whether [`Event::Ready`] was emitted.
    ready: bool,
}

/// Attempts at reading a gap from history before giving it up.
const REPAIR_ATTEMPTS: u32 = 3;

/// A gap in a channel's live publications, being read from history.
#[derive(Debug)]
struct Repair {
    /// The last position delivered before the gap.
    after: StreamPosition,
    /// The offset of the live publication that showed it.
    next: u64,
    /// Wire id of the `history` request in flight.
    in_flight: Option<u64>,
    /// When to ask again after a failed attempt.
    retry_at: Option<Millis>,
    /// History reads sent for this gap so far; it is given up at [`REPAIR_ATTEMPTS`].
    attempts: u32,
}

impl Subscription {
    fn request(&self, channel: &str) -> SubscribeRequest {
        SubscribeRequest {
            channel: channel.to_owned(),
            since: self.position.last().cloned(),
            data: self.data.clone(),
        }
    }

    /// How `p` fits what was delivered; for [`Advance::Next`] the position
    /// advances to it (a gap is repaired before it moves).
    fn fit(&mut self, p: &Publication) -> Advance {
        let (Some(offset), Some(epoch)) = (p.offset, p.epoch.as_deref()) else {
            return Advance::Next; // a channel without history: nothing to order by
        };
        let fit = self.position.check(offset, epoch);
        if fit == Advance::Next {
            self.position.advance(offset, epoch);
        }
        fit
    }

    /// Resets what belongs to one connection (the transport is gone).
    fn reset(&mut self) {
        self.in_flight = None;
        self.retry_at = None;
        self.buffer.clear();
        self.repair = None;
    }
}

impl ClientMachine {
    /// Subscribe to a channel. The subscription lives until `unsubscribe` (or a
    /// terminal refusal): it is resubscribed, with recovery, after every reconnect.
    pub fn subscribe(
        &mut self,
        now: Millis,
        channel: &str,
        options: SubscribeOptions,
    ) -> Result<(), Error> {
        let result = self.subscribe_inner(now, channel, options);
        self.rearm();
        result
    }

    fn subscribe_inner(
        &mut self,
        now: Millis,
        channel: &str,
        options: SubscribeOptions,
    ) -> Result<(), Error> {
        Channel::parse(channel)
            .map_err(|e| Error::new(ErrorCode::INVALID_CHANNEL, e.to_string()))?;
        if self.subs.contains_key(channel) {
            return Err(Error::new(
                ErrorCode::DUPLICATE_SUBSCRIPTION,
                format!("already subscribed to {channel:?}"),
            ));
        }
        let sub = Subscription {
            state: SubscriptionState::Subscribing,
            position: Cursor::new(options.since),
            data: options.data,
            in_flight: None,
            recovering: false,
            retry_at: None,
            backoff: Backoff::new(self.config.backoff),
            buffer: Vec::new(),
            repair: None,
            ready: false,
        };
        self.subs.insert(channel.to_owned(), sub);
        self.emit(Event::Subscribing {
            channel: channel.to_owned(),
        });
        if self.phase == Phase::Live {
            self.send_subscribe(now, channel);
        }
        Ok(())
    }

    /// End a subscription. Idempotent.
    pub fn unsubscribe(&mut self, now: Millis, channel: &str) {
        if let Some(sub) = self.subs.remove(channel) {
            if let Some(at) = sub.retry_at {
                self.retries.remove(&(at, channel.to_owned()));
            }
            let server_knows = sub.state == SubscriptionState::Subscribed
                || (sub.in_flight.is_some() && self.phase == Phase::Live);
            if server_knows {
                let deadline = now + self.config.request_timeout_ms;
                let request = Request::Unsubscribe(ChannelRequest {
                    channel: channel.to_owned(),
                });
                self.send_command(request, PendingKind::Unsubscribe, deadline);
            }
            self.emit(Event::Unsubscribed {
                channel: channel.to_owned(),
                reason: UnsubscribeReason::Client,
            });
        }
        self.rearm();
    }

    /// The state of a channel's subscription.
    pub fn subscription_state(&self, channel: &str) -> SubscriptionState {
        self.subs
            .get(channel)
            .map_or(SubscriptionState::Unsubscribed, |s| s.state)
    }

    /// The last delivered position of every channel that has one, for applications
    /// that persist positions (pass them back through [`SubscribeOptions::since`]).
    pub fn positions(&self) -> impl Iterator<Item = (&str, &StreamPosition)> {
        self.subs
            .iter()
            .filter_map(|(ch, s)| s.position.last().map(|p| (ch.as_str(), p)))
    }

    pub(super) fn is_subscribed(&self, channel: &str) -> bool {
        self.subscription_state(channel) == SubscriptionState::Subscribed
    }

    /// Subscriptions to carry in the `connect` command (all of them: on connect
    /// every subscription is subscribing).
    pub(super) fn subscribe_requests_for_connect(&mut self) -> Vec<SubscribeRequest> {
        self.subs
            .iter_mut()
            .filter(|(_, s)| s.state == SubscriptionState::Subscribing)
            .map(|(ch, s)| {
                s.recovering = s.position.last().is_some();
                s.request(ch)
            })
            .collect()
    }

    /// After a transport loss: everything is subscribing again.
    pub(super) fn reset_subscriptions(&mut self) {
        let mut resubscribing = Vec::new();
        for (channel, sub) in &mut self.subs {
            sub.reset();
            if sub.state == SubscriptionState::Subscribed {
                sub.state = SubscriptionState::Subscribing;
                resubscribing.push(channel.clone());
            }
        }
        for channel in resubscribing {
            self.emit(Event::Subscribing { channel });
        }
    }

    fn send_subscribe(&mut self, now: Millis, channel: &str) {
        let Some(sub) = self.subs.get_mut(channel) else {
            return;
        };
        sub.recovering = sub.position.last().is_some();
        let request = Request::Subscribe(sub.request(channel));
        let deadline = now + self.config.request_timeout_ms;
        let id = self.send_command(
            request,
            PendingKind::Subscribe(channel.to_owned()),
            deadline,
        );
        if let Some(sub) = self.subs.get_mut(channel) {
            sub.in_flight = id;
        }
    }

    pub(super) fn apply_connect_subs(
        &mut self,
        now: Millis,
        connect_id: u64,
        subs: Vec<ConnectSub>,
    ) {
        for cs in subs {
            let ours = self
                .subs
                .get(&cs.channel)
                .is_some_and(|s| s.in_flight == Some(connect_id));
            if !ours {
                if cs.ok.is_some() {
                    // Unsubscribed while connecting: undo on the server.
                    let deadline = now + self.config.request_timeout_ms;
                    let request = Request::Unsubscribe(ChannelRequest {
                        channel: cs.channel,
                    });
                    self.send_command(request, PendingKind::Unsubscribe, deadline);
                }
                continue;
            }
            let result = match (cs.ok, cs.error) {
                (Some(ok), _) => Ok(ReplyBody::Subscribe(ok)),
                (None, Some(err)) => Err(err),
                (None, None) => continue, // malformed entry: subscribe again below
            };
            self.on_subscribe_reply(now, &cs.channel, connect_id, result);
        }
        // Anything the server did not answer in the connect reply (or that was
        // added after connect was sent) is subscribed with its own command.
        let missing: Vec<String> = self
            .subs
            .iter()
            .filter(|(_, s)| {
                s.state == SubscriptionState::Subscribing
                    && (s.in_flight.is_none() || s.in_flight == Some(connect_id))
                    && s.retry_at.is_none()
            })
            .map(|(ch, _)| ch.clone())
            .collect();
        for channel in missing {
            self.send_subscribe(now, &channel);
        }
    }

    pub(super) fn on_subscribe_reply(
        &mut self,
        now: Millis,
        channel: &str,
        id: u64,
        result: Result<ReplyBody, Error>,
    ) {
        let Some(sub) = self.subs.get_mut(channel) else {
            return; // unsubscribed meanwhile; the unsubscribe command is on its way
        };
        if sub.in_flight != Some(id) {
            return;
        }
        sub.in_flight = None;
        match result {
            Ok(ReplyBody::Subscribe(result)) => self.on_subscribed(now, channel, result),
            Err(error) if error.temporary => {
                let at = now + sub.backoff.next_delay(&mut self.rng);
                sub.retry_at = Some(at);
                sub.buffer.clear();
                self.retries.insert((at, channel.to_owned()));
            }
            Err(error) => {
                self.subs.remove(channel);
                self.emit(Event::Unsubscribed {
                    channel: channel.to_owned(),
                    reason: UnsubscribeReason::Refused(error),
                });
            }
            Ok(other) => {
                sub.buffer.clear();
                let at = now + sub.backoff.next_delay(&mut self.rng);
                sub.retry_at = Some(at);
                self.retries.insert((at, channel.to_owned()));
                self.emit(Event::Warning(format!(
                    "subscribe to {channel:?} answered with {:?}",
                    other.key()
                )));
            }
        }
    }

    /// Delivers recovered, then buffered publications, then the `Subscribed` marker.
    fn on_subscribed(&mut self, now: Millis, channel: &str, result: SubscribeResult) {
        let Some(sub) = self.subs.get_mut(channel) else {
            return;
        };
        let recovery = match (sub.recovering, result.recovered) {
            (false, _) => Recovery::Fresh,
            (true, true) => Recovery::Recovered,
            (true, false) => Recovery::Unrecoverable,
        };
        if recovery != Recovery::Recovered {
            sub.position = Cursor::new(result.position.clone());
        }
        sub.backoff.reset();
        sub.state = SubscriptionState::Subscribed;
        let first = !std::mem::replace(&mut sub.ready, true);
        let buffered = std::mem::take(&mut sub.buffer);
        if first {
            self.emit(Event::Ready {
                channel: channel.to_owned(),
            });
        }
        for p in result.publications.into_iter().chain(buffered) {
            self.deliver(now, p);
        }
        self.emit(Event::Subscribed {
            channel: channel.to_owned(),
            recovery,
            data: result.data,
        });
    }

    pub(super) fn on_publication(&mut self, now: Millis, p: Publication) {
        let max_buffered = self.config.max_buffered_publications;
        let Some(sub) = self.subs.get_mut(&p.channel) else {
            return;
        };
        let subscribed = sub.state == SubscriptionState::Subscribed;
        let awaiting_reply = sub.state == SubscriptionState::Subscribing && sub.in_flight.is_some();
        if subscribed {
            self.deliver(now, p);
        } else if awaiting_reply && sub.buffer.len() < max_buffered {
            sub.buffer.push(p);
        } else if awaiting_reply {
            self.warn_dropped(&p.channel, "before the subscribe reply");
        }
    }

    fn warn_dropped(&mut self, channel: &str, when: &str) {
        let max_buffered = self.config.max_buffered_publications;
        self.emit(Event::Warning(format!(
            "dropped a publication on {channel:?}: more than {max_buffered} arrived {when}"
        )));
    }

    /// Delivers a publication of a subscribed channel in offset order: drops
    /// what was delivered already, holds it back while a gap is repaired, and
    /// starts a repair when it shows one.
    fn deliver(&mut self, now: Millis, p: Publication) {
        let max_buffered = self.config.max_buffered_publications;
        let Some(sub) = self.subs.get_mut(&p.channel) else {
            return;
        };
        if sub.repair.is_some() {
            if sub.buffer.len() < max_buffered {
                sub.buffer.push(p);
            } else {
                // Dropped here, it shows up as the next gap once this one is closed.
                self.warn_dropped(&p.channel, "while a gap was repaired");
            }
            return;
        }
        match sub.fit(&p) {
            Advance::Next => self.emit(Event::Publication(p)),
            Advance::Duplicate => {}
            Advance::Gap { after } => {
                sub.repair = Some(Repair {
                    after,
                    next: p.offset.unwrap_or_default(),
                    in_flight: None,
                    retry_at: None,
                    attempts: 0,
                });
                let channel = p.channel.clone();
                sub.buffer.push(p);
                self.send_repair(now, &channel);
            }
        }
    }

    /// Asks history for the publications of the gap being repaired.
    fn send_repair(&mut self, now: Millis, channel: &str) {
        let Some(repair) = self.subs.get_mut(channel).and_then(|s| s.repair.as_mut()) else {
            return;
        };
        repair.attempts += 1;
        repair.retry_at = None;
        let missing = repair.next.saturating_sub(repair.after.offset + 1);
        let request = Request::History(HistoryRequest {
            channel: channel.to_owned(),
            limit: Some(u32::try_from(missing).unwrap_or(u32::MAX)),
            since: Some(repair.after.clone()),
            reverse: false,
        });
        let deadline = now + self.config.request_timeout_ms;
        let id = self.send_command(request, PendingKind::Repair(channel.to_owned()), deadline);
        if let Some(repair) = self.subs.get_mut(channel).and_then(|s| s.repair.as_mut()) {
            repair.in_flight = id;
        }
    }

    /// The history read of a gap answered (or failed, or timed out).
    pub(super) fn on_repair_reply(
        &mut self,
        now: Millis,
        channel: &str,
        id: u64,
        result: Result<ReplyBody, Error>,
    ) {
        let Some(sub) = self.subs.get_mut(channel) else {
            return;
        };
        let Some(repair) = sub.repair.as_mut().filter(|r| r.in_flight == Some(id)) else {
            return;
        };
        repair.in_flight = None;
        let page = match result {
            Ok(ReplyBody::History(page)) => page,
            Err(error) if error.temporary && repair.attempts < REPAIR_ATTEMPTS => {
                let at = now + sub.backoff.next_delay(&mut self.rng);
                repair.retry_at = Some(at);
                self.retries.insert((at, channel.to_owned()));
                return;
            }
            Err(_) | Ok(_) => HistoryResult::default(),
        };
        self.close_gap(now, channel, page);
    }

    /// Delivers what history returned for the gap, reports it, and goes on
    /// with the publications held back.
    fn close_gap(&mut self, now: Millis, channel: &str, page: HistoryResult) {
        let Some(sub) = self.subs.get_mut(channel) else {
            return;
        };
        let Some(repair) = sub.repair.take() else {
            return;
        };
        // What history still holds of the gap is delivered in order, even
        // where it has holes of its own; the holes are what is lost.
        let mut delivered = Vec::new();
        let mut reached = repair.after.offset;
        let mut recovered = true;
        for p in page.publications {
            let Some(offset) = p.offset else { continue };
            let ours = p.epoch.as_deref() == Some(&*repair.after.epoch);
            if ours && offset > reached && offset < repair.next {
                recovered &= offset == reached + 1;
                reached = offset;
                delivered.push(p);
            }
        }
        recovered &= reached + 1 == repair.next;
        sub.position.set(StreamPosition {
            offset: repair.next - 1,
            epoch: repair.after.epoch.clone(),
        });
        let held = std::mem::take(&mut sub.buffer);
        for p in delivered {
            self.emit(Event::Publication(p));
        }
        self.emit(Event::Gap {
            channel: channel.to_owned(),
            first: repair.after.offset + 1,
            last: repair.next - 1,
            recovered,
        });
        for p in held {
            self.deliver(now, p);
        }
    }

    pub(super) fn on_server_unsubscribe(&mut self, _now: Millis, u: Unsubscribed) {
        if let Some(sub) = self.subs.remove(&u.channel) {
            if let Some(at) = sub.retry_at {
                self.retries.remove(&(at, u.channel.clone()));
            }
            self.emit(Event::Unsubscribed {
                channel: u.channel,
                reason: UnsubscribeReason::Server(Error::new(u.code, u.reason)),
            });
        }
    }

    /// Resubscribe channels whose temporary refusal has waited long enough,
    /// and ask again for gaps whose history read failed.
    pub(super) fn retry_subscriptions(&mut self, now: Millis) {
        while let Some((at, channel)) = self.retries.first().cloned() {
            if at > now {
                break;
            }
            self.retries.pop_first();
            if let Some(sub) = self.subs.get_mut(&channel) {
                if sub.retry_at == Some(at) && sub.in_flight.is_none() {
                    sub.retry_at = None;
                    self.send_subscribe(now, &channel);
                } else if sub.repair.as_ref().is_some_and(|r| r.retry_at == Some(at)) {
                    self.send_repair(now, &channel);
                }
            }
        }
    }
}
