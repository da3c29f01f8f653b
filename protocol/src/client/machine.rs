//! The core of the state machine: its state, what the driver polls, and the
//! dispatch of frames and timer expiries to the connection side
//! (`connection`), the command side (`requests`) and the subscription side
//! (`subscription`).

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use super::backoff::{Backoff, Rng};
use super::config::ClientConfig;
use super::event::*;
use super::inbox::Inbox;
use super::requests::{Pending, Queued};
use super::subscription::Subscription;
use crate::codes::CloseCode;
use crate::frame::{ClientFrame, Push, ServerFrame};

/// Where a connection attempt stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// Disconnected or closed: no transport, no timers.
    Idle,
    /// Waiting for the application to supply a token.
    WaitingToken,
    /// Transport requested, not yet open.
    Opening,
    /// `connect` sent, reply outstanding.
    Handshaking,
    /// The connect reply was accepted: commands flow, and the ping watchdog,
    /// token refresh and subscription retries run.
    Live,
    /// Waiting to retry.
    Backoff,
}

/// The sans-IO Chorus client.
///
/// Feed it inputs (API calls, transport events, frames, timer expiries, each with
/// the current time) and drain [`ClientMachine::poll_action`] after every input.
/// See the module documentation for the driver contract.
#[derive(Debug)]
pub struct ClientMachine {
    pub(super) config: ClientConfig,
    pub(super) rng: Rng,
    pub(super) backoff: Backoff,
    pub(super) state: ConnectionState,
    pub(super) phase: Phase,
    pub(super) token: Option<String>,
    pub(super) actions: VecDeque<Action>,
    pub(super) next_wire_id: u64,
    pub(super) next_request_id: u64,
    pub(super) pending: HashMap<u64, Pending>,
    pub(super) deadlines: BTreeSet<(Millis, u64)>,
    pub(super) queue: VecDeque<Queued>,
    pub(super) subs: BTreeMap<String, Subscription>,
    pub(super) retries: BTreeSet<(Millis, String)>,
    pub(super) connect_id: Option<u64>,
    pub(super) connect_deadline: Option<Millis>,
    pub(super) reconnect_at: Option<Millis>,
    pub(super) ping_interval_ms: u64,
    pub(super) pong: bool,
    pub(super) ping_deadline: Option<Millis>,
    pub(super) refresh_at: Option<Millis>,
    pub(super) refresh_in_flight: bool,
    pub(super) server_disconnect: Option<CloseReason>,
    armed: Option<Millis>,
    /// Index into `config.urls` of the node the next attempt goes to.
    pub(super) url_index: usize,
    pub(super) inbox: Inbox,
    /// Whether the connect in flight carried an inbox position.
    pub(super) inbox_asked: bool,
    /// Failed attempts since the last connection (reported in [`Failure`]).
    pub(super) failures: u32,
}

impl ClientMachine {
    /// A client in `disconnected`, doing nothing until [`connect`](Self::connect).
    /// `config` is used as given: check it with [`ClientConfig::validate`] first.
    pub fn new(config: ClientConfig) -> Self {
        ClientMachine {
            rng: Rng::new(config.random_seed),
            backoff: Backoff::new(config.backoff),
            token: config.token.clone(),
            inbox: Inbox::new(config.inbox_since.clone()),
            inbox_asked: false,
            config,
            state: ConnectionState::Disconnected,
            phase: Phase::Idle,
            actions: VecDeque::new(),
            next_wire_id: 1,
            next_request_id: 1,
            pending: HashMap::new(),
            deadlines: BTreeSet::new(),
            queue: VecDeque::new(),
            subs: BTreeMap::new(),
            retries: BTreeSet::new(),
            connect_id: None,
            connect_deadline: None,
            reconnect_at: None,
            ping_interval_ms: 0,
            pong: false,
            ping_deadline: None,
            refresh_at: None,
            refresh_in_flight: false,
            server_disconnect: None,
            armed: None,
            url_index: 0,
            failures: 0,
        }
    }

    /// The settings it was created with; they never change (a token from
    /// [`set_token`](Self::set_token) is held apart).
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// The state the application sees (docs/protocol.md 10.2); every change is
    /// also emitted as [`Event::State`].
    pub fn state(&self) -> ConnectionState {
        self.state
    }

    /// The next thing for the driver to do, in order.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// The earliest time at which [`ClientMachine::handle_timeout`] has work to do.
    pub fn poll_timeout(&self) -> Option<Millis> {
        let connecting = matches!(
            self.phase,
            Phase::WaitingToken | Phase::Opening | Phase::Handshaking
        );
        let live = self.phase == Phase::Live;
        [
            self.connect_deadline.filter(|_| connecting),
            self.reconnect_at,
            self.ping_deadline.filter(|_| live),
            self.refresh_at.filter(|_| live),
            self.deadlines.first().map(|(at, _)| *at),
            self.queue.front().map(|q| q.deadline),
            self.retries.first().map(|(at, _)| *at).filter(|_| live),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// The position of the last inbox message delivered, for applications that
    /// persist it (pass it back through [`ClientConfig::inbox_since`]).
    pub fn inbox_position(&self) -> Option<&crate::message::StreamPosition> {
        self.inbox.position()
    }

    /// The URL the current (or last) attempt went to.
    pub fn current_url(&self) -> Option<&str> {
        self.config.urls.get(self.url_index).map(String::as_str)
    }

    // ---- frame and timer inputs ----

    /// A WebSocket message arrived. Ignored unless a `connect` is outstanding or
    /// the connection is live; one that does not decode becomes [`Event::Warning`].
    pub fn handle_frame(&mut self, now: Millis, bytes: &[u8]) {
        if matches!(self.phase, Phase::Handshaking | Phase::Live) {
            match self.config.codec.decode_server(bytes) {
                Ok(frame) => {
                    if self.phase == Phase::Live {
                        self.arm_ping(now);
                    }
                    match frame {
                        ServerFrame::Reply(reply) => self.on_reply(now, reply),
                        ServerFrame::Push(push) => self.on_push(now, push),
                    }
                }
                Err(e) => self.emit(Event::Warning(format!("ignored server frame: {e}"))),
            }
        }
        self.rearm();
    }

    /// The timer fired (early, on time or late); handle whatever is due. The
    /// timer is re-armed for what is still pending, even for the same time:
    /// hosts fire timers up to a millisecond early (Node.js does), and a
    /// timer that fired is no longer armed.
    pub fn handle_timeout(&mut self, now: Millis) {
        self.armed = None;
        self.handle_due(now);
        self.rearm();
    }

    fn handle_due(&mut self, now: Millis) {
        let connecting = matches!(
            self.phase,
            Phase::WaitingToken | Phase::Opening | Phase::Handshaking
        );
        if connecting && self.connect_deadline.is_some_and(|d| d <= now) {
            let what = if self.phase == Phase::WaitingToken {
                "no token supplied in time"
            } else {
                "connect timed out"
            };
            self.abort(now, CloseCode::REQUEST_TIMEOUT, what);
        }
        if self.phase == Phase::Backoff && self.reconnect_at.is_some_and(|d| d <= now) {
            self.start_attempt(now);
        }
        if self.phase == Phase::Live && self.ping_deadline.is_some_and(|d| d <= now) {
            self.abort(now, CloseCode::PING_TIMEOUT, "no ping from the server");
        }
        if self.phase == Phase::Live && self.refresh_at.is_some_and(|d| d <= now) {
            self.refresh_at = None;
            if self.config.token_provider {
                self.refresh_in_flight = true;
                self.actions.push_back(Action::FetchToken);
            }
        }
        self.expire_requests(now);
        if self.phase == Phase::Live {
            self.retry_subscriptions(now);
        }
    }

    // ---- internals ----

    pub(super) fn emit(&mut self, event: Event) {
        self.actions.push_back(Action::Emit(event));
    }

    pub(super) fn set_state(&mut self, state: ConnectionState, reason: Option<CloseReason>) {
        if self.state != state {
            self.state = state;
            self.emit(Event::State { state, reason });
        }
    }

    pub(super) fn rearm(&mut self) {
        let next = self.poll_timeout();
        if next != self.armed {
            self.armed = next;
            if let Some(at) = next {
                self.actions.push_back(Action::ArmTimer { at });
            }
        }
    }

    fn on_push(&mut self, now: Millis, push: Push) {
        match push {
            Push::Publication(publication) => self.on_publication(now, publication),
            Push::Join(m) => {
                if self.is_subscribed(&m.channel) {
                    self.emit(Event::Join(m));
                }
            }
            Push::Leave(m) => {
                if self.is_subscribed(&m.channel) {
                    self.emit(Event::Leave(m));
                }
            }
            Push::Message(m) => {
                if self.inbox.accept(&m) {
                    self.emit(Event::Message(m));
                }
            }
            Push::Disconnect(d) => {
                self.server_disconnect = Some(CloseReason {
                    code: d.code,
                    reason: d.reason,
                });
            }
            Push::Unsubscribed(u) => self.on_server_unsubscribe(now, u),
            Push::Ping(_) => {
                if self.pong {
                    self.send_frame(&ClientFrame::Pong);
                }
            }
        }
    }
}
