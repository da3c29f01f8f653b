//! The connection side of the state machine: lifecycle, requests, timers.

use super::inbox::Inbox;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use super::backoff::{Backoff, Rng};
use super::config::ClientConfig;
use super::event::*;
use super::subscription::Subscription;
use crate::channel::Channel;
use crate::codes::{CloseCode, ErrorCode};
use crate::frame::{ClientFrame, Command, Push, Reply, ReplyBody, Request, ServerFrame};
use crate::message::{ConnectRequest, ConnectResult, Error, RefreshRequest};

/// What a sent command is waiting for.
#[derive(Debug)]
pub(super) enum PendingKind {
    Connect,
    Subscribe(String),
    /// A `history` read filling a gap in a channel's live publications.
    Repair(String),
    Unsubscribe,
    Refresh,
    User(RequestId),
}

#[derive(Debug)]
pub(super) struct Pending {
    pub(super) kind: PendingKind,
    pub(super) deadline: Millis,
}

/// An application request made while reconnecting.
#[derive(Debug)]
struct Queued {
    id: RequestId,
    request: Request,
    deadline: Millis,
}

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
    /// Connected.
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
    backoff: Backoff,
    state: ConnectionState,
    pub(super) phase: Phase,
    token: Option<String>,
    actions: VecDeque<Action>,
    next_wire_id: u64,
    next_request_id: u64,
    pending: HashMap<u64, Pending>,
    deadlines: BTreeSet<(Millis, u64)>,
    queue: VecDeque<Queued>,
    pub(super) subs: BTreeMap<String, Subscription>,
    pub(super) retries: BTreeSet<(Millis, String)>,
    connect_id: Option<u64>,
    connect_deadline: Option<Millis>,
    reconnect_at: Option<Millis>,
    ping_interval_ms: u64,
    pong: bool,
    ping_deadline: Option<Millis>,
    refresh_at: Option<Millis>,
    refresh_in_flight: bool,
    server_disconnect: Option<CloseReason>,
    armed: Option<Millis>,
    /// Index into `config.urls` of the node the next attempt goes to.
    url_index: usize,
    inbox: Inbox,
    /// Whether the connect in flight carried an inbox position.
    inbox_asked: bool,
    /// Failed attempts since the last connection (reported in [`Failure`]).
    failures: u32,
}

fn local_error(code: ErrorCode, message: impl Into<String>) -> Error {
    Error::new(code, message)
}

impl ClientMachine {
    /// A disconnected client.
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

    /// The settings in force.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// The connection state.
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

    // ---- application API ----

    /// Start connecting (no-op when already connected or connecting).
    pub fn connect(&mut self, now: Millis) {
        if !matches!(
            self.state,
            ConnectionState::Connected | ConnectionState::Connecting
        ) {
            self.backoff.reset();
            self.failures = 0;
            self.set_state(ConnectionState::Connecting, None);
            self.start_attempt(now);
        }
        self.rearm();
    }

    /// Close the connection and stop reconnecting. Subscriptions are kept and
    /// resubscribed by the next `connect`; requests in flight or queued fail with
    /// `client_closed`.
    pub fn disconnect(&mut self, now: Millis) {
        let _ = now;
        if self.state != ConnectionState::Disconnected {
            if matches!(
                self.phase,
                Phase::Opening | Phase::Handshaking | Phase::Live
            ) {
                self.actions.push_back(Action::CloseTransport(CloseReason {
                    code: CloseCode::NORMAL,
                    reason: "client disconnect".to_owned(),
                }));
            }
            self.teardown(ErrorCode::CLIENT_CLOSED);
            self.fail_queue(ErrorCode::CLIENT_CLOSED);
            self.phase = Phase::Idle;
            self.set_state(ConnectionState::Disconnected, None);
        }
        self.rearm();
    }

    /// Supply a token (after [`Action::FetchToken`], or at any time to replace it).
    pub fn set_token(&mut self, now: Millis, token: String) {
        self.token = Some(token.clone());
        match self.phase {
            Phase::WaitingToken => self.open_transport(),
            Phase::Live if self.refresh_in_flight => {
                let deadline = now + self.config.request_timeout_ms;
                self.send_command(
                    Request::Refresh(RefreshRequest { token }),
                    PendingKind::Refresh,
                    deadline,
                );
            }
            _ => {}
        }
        self.rearm();
    }

    /// The application could not supply a token. A terminal error (the user logged
    /// out) closes the client; a temporary one retries with backoff.
    pub fn token_failed(&mut self, now: Millis, error: Error) {
        match self.phase {
            Phase::WaitingToken => {
                let reason = CloseReason {
                    code: CloseCode::for_connect_error(if error.temporary {
                        ErrorCode::INTERNAL
                    } else {
                        ErrorCode::UNAUTHORIZED
                    }),
                    reason: error.message,
                };
                self.lose(now, reason, error.temporary);
            }
            Phase::Live if self.refresh_in_flight => {
                self.refresh_in_flight = false;
                if error.temporary {
                    self.refresh_at = Some(now + self.config.backoff.max_ms.min(5_000));
                }
            }
            _ => {}
        }
        self.rearm();
    }

    /// Send an application request (`publish`, `send`, `broadcast`, `presence`,
    /// `presence_stats`, `history`, `rpc`, `ping`). While reconnecting it is queued
    /// (up to `max_queued`, for at most the request timeout). Its answer arrives as
    /// [`Event::Reply`] with the returned id.
    pub fn request(&mut self, now: Millis, request: Request) -> Result<RequestId, Error> {
        let result = self.request_inner(now, request);
        self.rearm();
        result
    }

    fn request_inner(&mut self, now: Millis, request: Request) -> Result<RequestId, Error> {
        let channel = match &request {
            Request::Publish(r) => Some(&r.channel),
            Request::Presence(r) | Request::PresenceStats(r) => Some(&r.channel),
            Request::History(r) => Some(&r.channel),
            Request::Send(_) | Request::Broadcast(_) | Request::Rpc(_) | Request::Ping(_) => None,
            Request::Connect(_)
            | Request::Subscribe(_)
            | Request::Unsubscribe(_)
            | Request::Refresh(_) => {
                return Err(local_error(
                    ErrorCode::BAD_REQUEST,
                    "connect, subscribe, unsubscribe and refresh are managed by the client",
                ));
            }
        };
        if let Some(channel) = channel {
            Channel::parse(channel)
                .map_err(|e| local_error(ErrorCode::INVALID_CHANNEL, e.to_string()))?;
        }
        let id = RequestId(self.next_request_id);
        let deadline = now + self.config.request_timeout_ms;
        match self.state {
            ConnectionState::Connected => {
                self.next_request_id += 1;
                self.send_command(request, PendingKind::User(id), deadline);
                Ok(id)
            }
            ConnectionState::Connecting => {
                if self.queue.len() >= self.config.max_queued {
                    return Err(local_error(
                        ErrorCode::QUEUE_FULL,
                        format!(
                            "not connected and the queue holds {} requests",
                            self.queue.len()
                        ),
                    ));
                }
                self.next_request_id += 1;
                self.queue.push_back(Queued {
                    id,
                    request,
                    deadline,
                });
                Ok(id)
            }
            ConnectionState::Disconnected | ConnectionState::Closed => Err(local_error(
                ErrorCode::CLIENT_CLOSED,
                "the client is not connected; call connect first",
            )),
        }
    }

    /// The position of the last inbox message delivered, for applications that
    /// persist it (pass it back through [`ClientConfig::inbox_since`]).
    pub fn inbox_position(&self) -> Option<&crate::message::StreamPosition> {
        self.inbox.position()
    }

    // ---- transport and timer inputs ----

    /// The transport asked for by [`Action::OpenTransport`] is open.
    pub fn transport_opened(&mut self, now: Millis) {
        if self.phase == Phase::Opening {
            self.phase = Phase::Handshaking;
            let subs = self.subscribe_requests_for_connect();
            let request = Request::Connect(ConnectRequest {
                token: self.token.clone(),
                name: Some(self.config.name.clone()),
                version: Some(self.config.version.clone()),
                data: self.config.connect_data.clone(),
                subs,
                inbox: self.inbox.position().cloned(),
            });
            self.inbox_asked = self.inbox.position().is_some();
            let deadline = self
                .connect_deadline
                .unwrap_or(now + self.config.connect_timeout_ms);
            let id = self.send_command(request, PendingKind::Connect, deadline);
            self.connect_id = id;
            for sub in self.subs.values_mut() {
                if sub.state == SubscriptionState::Subscribing {
                    sub.in_flight = id;
                }
            }
        }
        self.rearm();
    }

    /// The transport closed (or failed to open) without being asked to.
    /// `code` is the WebSocket close code when one was received.
    pub fn transport_closed(&mut self, now: Millis, code: Option<u16>, reason: &str) {
        if matches!(
            self.phase,
            Phase::Opening | Phase::Handshaking | Phase::Live
        ) {
            let received = code
                .filter(|c| !matches!(c, 1005 | 1006))
                .map(|c| CloseReason {
                    code: CloseCode(c),
                    reason: reason.to_owned(),
                });
            let reason = match (received, self.server_disconnect.take()) {
                (Some(r), _) => r,
                (None, Some(pushed)) => pushed,
                (None, None) => CloseReason {
                    code: CloseCode(code.unwrap_or(1006)),
                    reason: match (reason.is_empty(), self.phase) {
                        (false, _) => reason.to_owned(),
                        // Browsers say nothing about why a socket never opened.
                        (true, Phase::Opening) => "could not open the connection".to_owned(),
                        (true, _) => "connection lost".to_owned(),
                    },
                },
            };
            let expired = reason.code == CloseCode::TOKEN_EXPIRED;
            if expired {
                self.token = None;
            }
            let reconnect =
                reason.code.should_reconnect() || (expired && self.config.token_provider);
            self.lose(now, reason, reconnect);
        }
        self.rearm();
    }

    /// A WebSocket message arrived.
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
        while let Some(&(at, id)) = self.deadlines.first() {
            if at > now {
                break;
            }
            self.deadlines.pop_first();
            let Some(pending) = self.pending.remove(&id) else {
                continue;
            };
            match pending.kind {
                PendingKind::User(request) => self.emit(Event::Reply {
                    request,
                    result: Err(local_error(ErrorCode::TIMEOUT, "no reply in time")),
                }),
                PendingKind::Unsubscribe => {}
                PendingKind::Repair(channel) => {
                    let timeout = local_error(ErrorCode::TIMEOUT, "no reply in time");
                    self.on_repair_reply(now, &channel, id, Err(timeout));
                }
                PendingKind::Connect | PendingKind::Subscribe(_) | PendingKind::Refresh => {
                    if self.phase != Phase::Idle && self.phase != Phase::Backoff {
                        self.abort(now, CloseCode::REQUEST_TIMEOUT, "request timed out");
                    }
                }
            }
        }
        while self.queue.front().is_some_and(|q| q.deadline <= now) {
            if let Some(q) = self.queue.pop_front() {
                self.emit(Event::Reply {
                    request: q.id,
                    result: Err(local_error(ErrorCode::TIMEOUT, "not connected in time")),
                });
            }
        }
        if self.phase == Phase::Live {
            self.retry_subscriptions(now);
        }
    }

    // ---- internals ----

    pub(super) fn emit(&mut self, event: Event) {
        self.actions.push_back(Action::Emit(event));
    }

    fn set_state(&mut self, state: ConnectionState, reason: Option<CloseReason>) {
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

    fn start_attempt(&mut self, now: Millis) {
        self.reconnect_at = None;
        self.connect_deadline = Some(now + self.config.connect_timeout_ms);
        if self.config.token_provider && self.token.is_none() {
            self.phase = Phase::WaitingToken;
            self.actions.push_back(Action::FetchToken);
        } else {
            self.open_transport();
        }
    }

    fn open_transport(&mut self) {
        self.phase = Phase::Opening;
        let url = self
            .config
            .urls
            .get(self.url_index)
            .cloned()
            .unwrap_or_default();
        self.actions.push_back(Action::OpenTransport {
            url,
            subprotocol: self.config.codec.subprotocol(),
        });
    }

    /// The URL the current (or last) attempt went to.
    pub fn current_url(&self) -> Option<&str> {
        self.config.urls.get(self.url_index).map(String::as_str)
    }

    fn arm_ping(&mut self, now: Millis) {
        if self.ping_interval_ms > 0 {
            self.ping_deadline = Some(now + self.ping_interval_ms + self.config.ping_grace_ms);
        }
    }

    /// Encodes and sends a frame; false if it could not be encoded.
    pub(super) fn send_frame(&mut self, frame: &ClientFrame) -> bool {
        match self.config.codec.encode_client(frame) {
            Ok(bytes) => {
                self.actions.push_back(Action::Send {
                    bytes,
                    binary: self.config.codec.is_binary(),
                });
                true
            }
            Err(e) => {
                self.emit(Event::Warning(e.to_string()));
                false
            }
        }
    }

    /// Sends a command and tracks its reply; returns its wire id.
    pub(super) fn send_command(
        &mut self,
        request: Request,
        kind: PendingKind,
        deadline: Millis,
    ) -> Option<u64> {
        let id = self.next_wire_id;
        self.next_wire_id += 1;
        if !self.send_frame(&ClientFrame::Command(Command { id, request })) {
            if let PendingKind::User(request) = kind {
                self.emit(Event::Reply {
                    request,
                    result: Err(local_error(ErrorCode::INTERNAL, "could not encode")),
                });
            }
            return None;
        }
        self.pending.insert(id, Pending { kind, deadline });
        self.deadlines.insert((deadline, id));
        Some(id)
    }

    /// Closes the transport locally and handles the loss (always reconnects).
    fn abort(&mut self, now: Millis, code: CloseCode, reason: &str) {
        let reason = CloseReason {
            code,
            reason: reason.to_owned(),
        };
        if matches!(
            self.phase,
            Phase::Opening | Phase::Handshaking | Phase::Live
        ) {
            self.actions
                .push_back(Action::CloseTransport(reason.clone()));
        }
        self.lose(now, reason, true);
    }

    /// Clears per-connection state: timers, requests in flight, subscription
    /// confirmations. Subscriptions fall back to subscribing.
    fn teardown(&mut self, pending_error: ErrorCode) {
        self.connect_id = None;
        self.connect_deadline = None;
        self.reconnect_at = None;
        self.ping_deadline = None;
        self.refresh_at = None;
        self.refresh_in_flight = false;
        self.server_disconnect = None;
        self.deadlines.clear();
        self.retries.clear();
        let mut pending: Vec<_> = self.pending.drain().collect();
        pending.sort_unstable_by_key(|(id, _)| *id);
        for (_, p) in pending {
            if let PendingKind::User(request) = p.kind {
                self.emit(Event::Reply {
                    request,
                    result: Err(local_error(pending_error, "the connection closed")),
                });
            }
        }
        self.reset_subscriptions();
    }

    fn fail_queue(&mut self, code: ErrorCode) {
        while let Some(q) = self.queue.pop_front() {
            self.emit(Event::Reply {
                request: q.id,
                result: Err(local_error(code, "the client stopped before connecting")),
            });
        }
    }

    /// The transport is gone: reconnect after a backoff delay, or close for good.
    fn lose(&mut self, now: Millis, reason: CloseReason, reconnect: bool) {
        self.teardown(ErrorCode::CONNECTION_LOST);
        self.failures = self.failures.saturating_add(1);
        let delay = reconnect.then(|| self.backoff.next_delay(&mut self.rng));
        self.emit(Event::Failure(Failure {
            reason: reason.clone(),
            url: self.current_url().unwrap_or_default().to_owned(),
            attempt: self.failures,
            retry_in_ms: delay,
        }));
        if let Some(delay) = delay {
            // The next attempt goes to the next node: the one just lost may
            // be dead, and its peers serve the same system.
            if !self.config.urls.is_empty() {
                self.url_index = (self.url_index + 1) % self.config.urls.len();
            }
            self.phase = Phase::Backoff;
            self.reconnect_at = Some(now + delay);
            if self.state == ConnectionState::Connected {
                self.set_state(ConnectionState::Connecting, Some(reason));
            }
        } else {
            self.phase = Phase::Idle;
            self.fail_queue(ErrorCode::CLIENT_CLOSED);
            self.set_state(ConnectionState::Closed, Some(reason));
        }
    }

    fn on_reply(&mut self, now: Millis, reply: Reply) {
        let Some(pending) = self.pending.remove(&reply.id) else {
            return; // late reply to a request that already timed out
        };
        self.deadlines.remove(&(pending.deadline, reply.id));
        match (pending.kind, reply.result) {
            (PendingKind::Connect, Ok(ReplyBody::Connect(result))) => {
                self.on_connected(now, reply.id, result)
            }
            (PendingKind::Connect, Err(error)) => self.on_connect_refused(now, error),
            (PendingKind::Subscribe(channel), result) => {
                self.on_subscribe_reply(now, &channel, reply.id, result)
            }
            (PendingKind::Repair(channel), result) => {
                self.on_repair_reply(now, &channel, reply.id, result)
            }
            (PendingKind::Refresh, Ok(ReplyBody::Refresh(result))) => {
                self.refresh_in_flight = false;
                self.schedule_refresh(now, result.expires_in_ms);
            }
            (PendingKind::Refresh, Err(error)) => {
                self.refresh_in_flight = false;
                if error.temporary {
                    self.refresh_at = Some(now + self.config.backoff.max_ms.min(5_000));
                }
                self.emit(Event::Warning(format!("token refresh refused: {error}")));
            }
            (PendingKind::Unsubscribe, _) => {}
            (PendingKind::User(request), result) => self.emit(Event::Reply { request, result }),
            (kind, result) => {
                self.emit(Event::Warning(format!(
                    "reply {result:?} does not answer {kind:?}"
                )));
                if matches!(kind, PendingKind::Connect) {
                    self.abort(now, CloseCode::PROTOCOL_ERROR, "bad connect reply");
                }
            }
        }
    }

    fn on_connected(&mut self, now: Millis, id: u64, mut result: ConnectResult) {
        self.phase = Phase::Live;
        self.connect_deadline = None;
        self.backoff.reset();
        self.failures = 0;
        self.ping_interval_ms = u64::from(result.ping_interval_ms);
        self.pong = result.pong;
        self.arm_ping(now);
        self.schedule_refresh(now, result.expires_in_ms);
        let subs = std::mem::take(&mut result.subs);
        let inbox = result.inbox.take();
        self.set_state(ConnectionState::Connected, None);
        self.emit(Event::Connected(result));
        if let Some(inbox) = inbox {
            for event in self.inbox.connected(inbox, self.inbox_asked) {
                self.emit(event);
            }
        }
        self.apply_connect_subs(now, id, subs);
        while let Some(q) = self.queue.pop_front() {
            self.send_command(q.request, PendingKind::User(q.id), q.deadline);
        }
    }

    fn on_connect_refused(&mut self, now: Millis, error: Error) {
        let expired = error.code == ErrorCode::TOKEN_EXPIRED;
        if expired {
            self.token = None;
        }
        let reconnect = if expired {
            self.config.token_provider
        } else {
            error.temporary
        };
        let reason = CloseReason {
            code: error.connect_close_code(),
            reason: error.message,
        };
        self.actions
            .push_back(Action::CloseTransport(reason.clone()));
        self.lose(now, reason, reconnect);
    }

    fn schedule_refresh(&mut self, now: Millis, expires_in_ms: Option<u64>) {
        self.refresh_at = expires_in_ms
            .map(|ttl| now + (ttl / 2).max(ttl.saturating_sub(self.config.refresh_margin_ms)));
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
