//! The connection side of the state machine: attempts and their handshake,
//! the loss of a connection and the reconnect after backoff (to the next
//! URL), the ping watchdog and token refresh.

use super::event::*;
use super::machine::{ClientMachine, Phase};
use super::requests::{PendingKind, local_error};
use crate::codes::{CloseCode, ErrorCode};
use crate::frame::Request;
use crate::message::{ConnectRequest, ConnectResult, Error, RefreshRequest};

impl ClientMachine {
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

    // ---- transport inputs ----

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

    // ---- internals ----

    pub(super) fn start_attempt(&mut self, now: Millis) {
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

    pub(super) fn arm_ping(&mut self, now: Millis) {
        if self.ping_interval_ms > 0 {
            self.ping_deadline = Some(now + self.ping_interval_ms + self.config.ping_grace_ms);
        }
    }

    /// Closes the transport locally and handles the loss (always reconnects).
    pub(super) fn abort(&mut self, now: Millis, code: CloseCode, reason: &str) {
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

    pub(super) fn on_connected(&mut self, now: Millis, id: u64, mut result: ConnectResult) {
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

    pub(super) fn on_connect_refused(&mut self, now: Millis, error: Error) {
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

    pub(super) fn schedule_refresh(&mut self, now: Millis, expires_in_ms: Option<u64>) {
        self.refresh_at = expires_in_ms
            .map(|ttl| now + (ttl / 2).max(ttl.saturating_sub(self.config.refresh_margin_ms)));
    }
}
