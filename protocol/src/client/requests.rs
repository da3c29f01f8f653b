//! Commands and their replies: application requests (sent at once, or
//! queued while reconnecting), the wire id and deadline of every command in
//! flight, and the dispatch of each reply, or its timeout, to what awaits it.

use super::event::*;
use super::machine::{ClientMachine, Phase};
use crate::channel::Channel;
use crate::codes::{CloseCode, ErrorCode};
use crate::frame::{ClientFrame, Command, Reply, ReplyBody, Request};
use crate::message::Error;

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
pub(super) struct Queued {
    pub(super) id: RequestId,
    pub(super) request: Request,
    pub(super) deadline: Millis,
}

pub(super) fn local_error(code: ErrorCode, message: impl Into<String>) -> Error {
    Error::new(code, message)
}

impl ClientMachine {
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

    pub(super) fn fail_queue(&mut self, code: ErrorCode) {
        while let Some(q) = self.queue.pop_front() {
            self.emit(Event::Reply {
                request: q.id,
                result: Err(local_error(code, "the client stopped before connecting")),
            });
        }
    }

    /// Fails the commands in flight and the queued requests whose deadline
    /// has passed.
    pub(super) fn expire_requests(&mut self, now: Millis) {
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
    }

    pub(super) fn on_reply(&mut self, now: Millis, reply: Reply) {
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
}
