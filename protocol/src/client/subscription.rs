//! The subscription side of the state machine: subscribe, resubscribe with
//! recovery, exactly-once in-order delivery per channel.

use super::backoff::Backoff;
use super::event::*;
use super::machine::{ClientMachine, PendingKind, Phase};
use crate::channel::Channel;
use crate::codes::ErrorCode;
use crate::frame::{ReplyBody, Request};
use crate::message::{
    ChannelRequest, ConnectSub, Error, Publication, StreamPosition, SubscribeRequest,
    SubscribeResult, Unsubscribed,
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
    position: Option<StreamPosition>,
    data: Option<Payload>,
    /// Wire id of the subscribe (or connect) command awaiting its reply.
    pub(super) in_flight: Option<u64>,
    /// Whether the in-flight subscribe asked to recover from `position`.
    recovering: bool,
    retry_at: Option<Millis>,
    backoff: Backoff,
    /// Live publications that arrived before the subscribe reply.
    buffer: Vec<Publication>,
}

impl Subscription {
    fn request(&self, channel: &str) -> SubscribeRequest {
        SubscribeRequest {
            channel: channel.to_owned(),
            since: self.position.clone(),
            data: self.data.clone(),
        }
    }

    /// Dedupe by offset and advance the position; true when `p` is new.
    fn accept(&mut self, p: &Publication) -> bool {
        let (Some(offset), Some(epoch)) = (p.offset, p.epoch.as_ref()) else {
            return true; // a channel without history: nothing to order by
        };
        match &mut self.position {
            Some(pos) if pos.epoch == *epoch => {
                if offset <= pos.offset {
                    return false;
                }
                pos.offset = offset;
            }
            _ => {
                self.position = Some(StreamPosition {
                    offset,
                    epoch: epoch.clone(),
                })
            }
        }
        true
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
            position: options.since,
            data: options.data,
            in_flight: None,
            recovering: false,
            retry_at: None,
            backoff: Backoff::new(self.config.backoff),
            buffer: Vec::new(),
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
            .filter_map(|(ch, s)| s.position.as_ref().map(|p| (ch.as_str(), p)))
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
                s.recovering = s.position.is_some();
                s.request(ch)
            })
            .collect()
    }

    /// After a transport loss: everything is subscribing again.
    pub(super) fn reset_subscriptions(&mut self) {
        let mut resubscribing = Vec::new();
        for (channel, sub) in &mut self.subs {
            sub.in_flight = None;
            sub.retry_at = None;
            sub.buffer.clear();
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
        sub.recovering = sub.position.is_some();
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
            Ok(ReplyBody::Subscribe(result)) => self.on_subscribed(channel, result),
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
    fn on_subscribed(&mut self, channel: &str, result: SubscribeResult) {
        let Some(sub) = self.subs.get_mut(channel) else {
            return;
        };
        let recovery = match (sub.recovering, result.recovered) {
            (false, _) => Recovery::Fresh,
            (true, true) => Recovery::Recovered,
            (true, false) => Recovery::Unrecoverable,
        };
        if recovery != Recovery::Recovered {
            sub.position = result.position.clone();
        }
        sub.backoff.reset();
        let mut deliver = Vec::new();
        let buffered = std::mem::take(&mut sub.buffer);
        for p in result.publications.into_iter().chain(buffered) {
            if sub.accept(&p) {
                deliver.push(p);
            }
        }
        sub.state = SubscriptionState::Subscribed;
        for p in deliver {
            self.emit(Event::Publication(p));
        }
        self.emit(Event::Subscribed {
            channel: channel.to_owned(),
            recovery,
            data: result.data,
        });
    }

    pub(super) fn on_publication(&mut self, p: Publication) {
        let max_buffered = self.config.max_buffered_publications;
        let Some(sub) = self.subs.get_mut(&p.channel) else {
            return;
        };
        let subscribed = sub.state == SubscriptionState::Subscribed;
        let awaiting_reply = sub.state == SubscriptionState::Subscribing && sub.in_flight.is_some();
        if subscribed && sub.accept(&p) {
            self.emit(Event::Publication(p));
        } else if awaiting_reply && sub.buffer.len() < max_buffered {
            sub.buffer.push(p);
        } else if awaiting_reply {
            let channel = p.channel;
            self.emit(Event::Warning(format!(
                "dropped a publication on {channel:?}: more than {max_buffered} arrived before the subscribe reply"
            )));
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

    /// Resubscribe channels whose temporary refusal has waited long enough.
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
                }
            }
        }
    }
}
