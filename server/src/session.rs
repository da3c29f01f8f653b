//! One WebSocket connection: its read/write loop, timers and lifecycle.
//!
//! A single task per connection reads commands, runs them in order, and writes
//! replies and queued pushes. Because commands run on this task, the outbound
//! queue is not drained while a command runs: a subscribe reply is always written
//! before any live publication of that channel, and publications already covered
//! by the reply are skipped by offset.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{self, CloseFrame, WebSocket};
use chorus_protocol::cursor::{Advance, Cursor};
use chorus_protocol::message::{ClientInfo, Disconnect, Empty, Error, StreamPosition};
use chorus_protocol::{ClientFrame, CloseCode, Codec, Command, Push, Reply, ServerFrame};
use futures_util::SinkExt;
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until};

use crate::auth::Claims;
use crate::history::HistoryQuery;
use crate::hub::{ClientId, KillSwitch, Recipient};
use crate::listener::Ticket;
use crate::node::Node;
use crate::outgoing::{Item, Outgoing, Route, encode};
use crate::rate::TokenBucket;
use crate::stream_key::StreamKey;

/// Most queued frames written before one flush.
const WRITE_BATCH: usize = 64;

/// What one write of queued frames carried, added to the node's shared
/// metrics once per write rather than once per frame: every delivery would
/// otherwise touch the same counters from every core.
#[derive(Debug, Default)]
struct Tally {
    frames: u64,
    bytes: u64,
    /// When the oldest publication of the write entered the node.
    oldest: Option<std::time::Instant>,
}

impl Tally {
    /// The tally of a write of `msg` alone (a reply or a ping).
    fn of(msg: &ws::Message) -> Tally {
        let mut tally = Tally::default();
        tally.count(msg);
        tally
    }

    fn count(&mut self, msg: &ws::Message) {
        self.frames += 1;
        self.bytes += match msg {
            ws::Message::Text(t) => t.len(),
            ws::Message::Binary(b) => b.len(),
            _ => 0,
        } as u64;
    }
}

/// An authenticated connection's identity.
#[derive(Debug)]
pub(crate) struct Authed {
    pub(crate) client: ClientId,
    pub(crate) user: Arc<str>,
    pub(crate) info: ClientInfo,
    pub(crate) claims: Option<Claims>,
    pub(crate) recipient: Recipient,
    pub(crate) expires_at: Option<Instant>,
}

/// What this connection has delivered on a channel.
#[derive(Debug, Default)]
pub(crate) struct SubState {
    /// Position of the last publication written (history channels).
    pub(crate) last: Cursor,
}

/// Offsets missing from a channel's live publications on this connection.
#[derive(Debug)]
struct Gap {
    channel: Arc<str>,
    /// The last position written.
    after: StreamPosition,
    /// The offset of the publication that showed the gap.
    next: u64,
}

/// What the loop does after handling an input.
pub(crate) enum Flow {
    Continue,
    Close(CloseCode, String),
}

/// What a failed read means, told by the WebSocket error inside axum's: a
/// frame over the size limit or a text frame that is not UTF-8 is the client's
/// fault and gets its close code; anything else is a lost transport (`Err`,
/// no close frame to send).
fn read_failure(e: axum::Error) -> Result<Flow, (CloseCode, String)> {
    let inner = e.into_inner();
    match inner.downcast_ref::<tungstenite::Error>() {
        Some(tungstenite::Error::Capacity(_)) => Ok(Flow::Close(
            CloseCode::MESSAGE_TOO_LARGE,
            "message too large".to_owned(),
        )),
        Some(tungstenite::Error::Utf8(_)) => Ok(Flow::Close(
            CloseCode::PROTOCOL_ERROR,
            "text frame is not valid UTF-8".to_owned(),
        )),
        _ => Err((CloseCode(1006), inner.to_string())),
    }
}

/// Per-connection state shared by the loop and the command handlers.
pub(crate) struct Session {
    pub(crate) node: Arc<Node>,
    pub(crate) codec: Codec,
    pub(crate) kill: Arc<KillSwitch>,
    pub(crate) auth: Option<Authed>,
    pub(crate) subs: HashMap<Arc<str>, SubState>,
    /// Position of the last inbox message delivered (replayed or live).
    pub(crate) inbox_last: Cursor,
    pub(crate) rx: Option<mpsc::Receiver<Item>>,
    /// The connection's place in the node's caps ([`crate::listener`]).
    pub(crate) ticket: Option<Arc<Ticket>>,
    rate: TokenBucket,
    rate_strikes: u32,
    pong_deadline: Option<Instant>,
}

/// Runs a connection to its end; `ticket` (from the accept loop) leaves the
/// pending count when the connection authenticates.
pub(crate) async fn run(
    node: Arc<Node>,
    mut socket: WebSocket,
    codec: Codec,
    ticket: Option<Arc<Ticket>>,
) {
    let limits = node.config().limits.clone();
    let mut session = Session {
        rate: TokenBucket::new(limits.rate_per_second, limits.rate_burst),
        node,
        codec,
        kill: Arc::new(KillSwitch::default()),
        auth: None,
        subs: HashMap::new(),
        inbox_last: Cursor::default(),
        rx: None,
        ticket,
        rate_strikes: 0,
        pong_deadline: None,
    };
    let (code, reason) = session.serve(&mut socket).await;
    if code.0 >= 4000 {
        session.node.metrics.disconnect(code);
    }
    // Leave channels and presence first: saying goodbye to a peer that does
    // not read can take seconds, and the others must see the leave at once.
    Box::pin(session.cleanup(code)).await;
    Box::pin(session.close(&mut socket, code, &reason)).await;
}

impl Session {
    async fn serve(&mut self, socket: &mut WebSocket) -> (CloseCode, String) {
        let limits = self.node.config().limits.clone();
        let handshake_deadline =
            Instant::now() + Duration::from_millis(limits.handshake_timeout_ms);
        let ping_every = Duration::from_millis(limits.ping_interval_ms);
        let mut next_ping = Instant::now() + ping_every;
        let mut shutdown = self.node.shutdown_signal();
        let kill = self.kill.clone();
        let draining = *shutdown.borrow();
        if draining {
            return (CloseCode::SHUTDOWN, "node is shutting down".to_owned());
        }
        loop {
            let authed = self.auth.is_some();
            let expires_at = self.auth.as_ref().and_then(|a| a.expires_at);
            let pong_deadline = self.pong_deadline;
            let rx = self.rx.as_mut();
            let flow = tokio::select! {
                (code, reason) = kill.fired() => Flow::Close(code, reason),
                _ = async { let _ = shutdown.wait_for(|s| *s).await; } => Flow::Close(CloseCode::SHUTDOWN, "node is shutting down".to_owned()),
                _ = sleep_until(handshake_deadline), if !authed => {
                    Flow::Close(CloseCode::AUTH_TIMEOUT, "no connect in time".to_owned())
                }
                _ = sleep_until(expires_at.unwrap_or(handshake_deadline)), if expires_at.is_some() => {
                    Flow::Close(CloseCode::TOKEN_EXPIRED, "token expired".to_owned())
                }
                _ = sleep_until(pong_deadline.unwrap_or(handshake_deadline)), if pong_deadline.is_some() => {
                    Flow::Close(CloseCode::NO_PONG, "no pong in time".to_owned())
                }
                _ = sleep_until(next_ping), if authed && !ping_every.is_zero() => {
                    next_ping = Instant::now() + ping_every;
                    if self.pong_deadline.is_none() {
                        self.pong_deadline = Some(Instant::now() + Duration::from_millis(limits.pong_timeout_ms));
                    }
                    self.write(socket, &ServerFrame::Push(Push::Ping(Empty {}))).await
                }
                item = async move { match rx { Some(rx) => rx.recv().await, None => std::future::pending().await } } => {
                    match item {
                        Some(item) => self.write_queued(socket, item).await,
                        None => Flow::Close(CloseCode::INTERNAL, "queue closed".to_owned()),
                    }
                }
                msg = socket.recv() => match msg {
                    None => return (CloseCode(1006), "transport closed".to_owned()),
                    Some(Err(e)) => match read_failure(e) {
                        Ok(flow) => flow,
                        Err(lost) => return lost,
                    },
                    // Boxed: what a frame sets off is large and short-lived;
                    // an idle connection's task does not carry its size.
                    Some(Ok(msg)) => Box::pin(self.on_message(socket, msg)).await,
                },
            };
            if let Flow::Close(code, reason) = flow {
                return (code, reason);
            }
        }
    }

    async fn on_message(&mut self, socket: &mut WebSocket, msg: ws::Message) -> Flow {
        let max = self.node.config().limits.max_message_size;
        let bytes = match (&msg, self.codec.is_binary()) {
            (ws::Message::Text(t), false) => t.as_bytes(),
            (ws::Message::Binary(b), true) => &b[..],
            (ws::Message::Ping(_) | ws::Message::Pong(_), _) => return Flow::Continue,
            (ws::Message::Close(_), _) => {
                return Flow::Close(CloseCode(1000), "client closed".to_owned());
            }
            (ws::Message::Text(_), true) | (ws::Message::Binary(_), false) => {
                return Flow::Close(
                    CloseCode::PROTOCOL_ERROR,
                    "frame type does not match the subprotocol".to_owned(),
                );
            }
        };
        self.node.metrics.messages_in.inc();
        self.node.metrics.bytes_in.inc_by(bytes.len() as u64);
        if bytes.len() > max {
            return Flow::Close(
                CloseCode::MESSAGE_TOO_LARGE,
                format!("frame exceeds {max} bytes"),
            );
        }
        match self.codec.decode_client(bytes) {
            Ok(ClientFrame::Pong) => {
                self.pong_deadline = None;
                Flow::Continue
            }
            Ok(ClientFrame::Command(cmd)) => self.on_command(socket, cmd).await,
            Err(e) => match e.id() {
                Some(id) => {
                    let error = Error::new(e.error_code(), e.to_string());
                    self.write(
                        socket,
                        &ServerFrame::Reply(Reply {
                            id,
                            result: Err(error),
                        }),
                    )
                    .await
                }
                None => Flow::Close(e.close_code(), e.to_string()),
            },
        }
    }

    async fn on_command(&mut self, socket: &mut WebSocket, cmd: Command) -> Flow {
        let now = Instant::now();
        if !self.rate.take(now, self.node.stall.observe(now)) {
            self.rate_strikes += 1;
            let error = Error::new(chorus_protocol::ErrorCode::TOO_MANY_REQUESTS, "slow down");
            let flow = self
                .write(
                    socket,
                    &ServerFrame::Reply(Reply {
                        id: cmd.id,
                        result: Err(error),
                    }),
                )
                .await;
            // Before connect there is nothing to keep; after it, only persistent abuse closes.
            let persistent = self.rate_strikes > self.node.config().limits.rate_burst;
            if self.auth.is_none() || persistent {
                return Flow::Close(CloseCode::RATE_LIMITED, "rate limit exceeded".to_owned());
            }
            return flow;
        }
        self.rate_strikes = 0;
        let started = Instant::now();
        let crate::commands::Outcome {
            reply: result,
            close: after,
        } = self.dispatch(cmd.request).await;
        // Frames are read in order: a pong queued behind this command could
        // not be read while it ran. The client gets its pong time in full.
        if let Some(deadline) = self.pong_deadline.as_mut() {
            *deadline += started.elapsed();
        }
        let flow = self
            .write(socket, &ServerFrame::Reply(Reply { id: cmd.id, result }))
            .await;
        match (flow, after) {
            (Flow::Continue, Some((code, reason))) => Flow::Close(code, reason),
            (flow, _) => flow,
        }
    }

    /// Writes one frame (a reply or a ping) straight to the socket.
    async fn write(&mut self, socket: &mut WebSocket, frame: &ServerFrame) -> Flow {
        if let ServerFrame::Reply(Reply { result: Err(e), .. }) = frame {
            self.node.metrics.error(e.code);
        }
        let Some(msg) = encode(self.codec, frame) else {
            return Flow::Close(CloseCode::INTERNAL, "encode failed".to_owned());
        };
        self.record(Tally::of(&msg));
        let kill = self.kill.clone();
        tokio::select! {
            sent = socket.send(msg) => match sent {
                Ok(()) => Flow::Continue,
                Err(e) => Flow::Close(CloseCode(1006), e.to_string()),
            },
            // A peer that stopped reading must not pin this task forever.
            (code, reason) = kill.fired() => Flow::Close(code, reason),
        }
    }

    /// Writes a queued item and whatever else is queued (up to a batch), then
    /// flushes; gives up when the connection is killed meanwhile (slow consumer).
    /// With a write delay (`limits.write_delay_ms`) it first waits that long,
    /// so that what queues meanwhile shares the write.
    async fn write_queued(&mut self, socket: &mut WebSocket, first: Item) -> Flow {
        let kill = self.kill.clone();
        let delay = self.node.config().limits.write_delay_ms;
        tokio::select! {
            flow = async {
                if delay > 0 {
                    tokio::time::sleep(Duration::from_millis(delay)).await;
                }
                self.write_batch(socket, first).await
            } => flow,
            (code, reason) = kill.fired() => Flow::Close(code, reason),
        }
    }

    /// Feeds the socket's write buffer with `first` and whatever else is
    /// queued, up to [`WRITE_BATCH`] frames, then flushes: the frames leave in
    /// as few write calls as the buffer allows (`WRITE_BUFFER_BYTES` in http.rs).
    async fn write_batch(&mut self, socket: &mut WebSocket, first: Item) -> Flow {
        let mut item = Some(first);
        let mut tally = Tally::default();
        let flow = 'batch: loop {
            let Some(current) = item.take() else {
                break match socket.flush().await {
                    Ok(()) => Flow::Continue,
                    Err(e) => Flow::Close(CloseCode(1006), e.to_string()),
                };
            };
            if let Some(gap) = self.gap_before(&current) {
                for missing in Box::pin(self.fill(gap)).await {
                    if let Err(flow) = self.feed(socket, missing, &mut tally).await {
                        break 'batch flow;
                    }
                }
            }
            if let Err(flow) = self.feed(socket, current, &mut tally).await {
                break flow;
            }
            if (tally.frames as usize) < WRITE_BATCH {
                item = self.rx.as_mut().and_then(|rx| rx.try_recv().ok());
            }
        };
        self.record(tally);
        flow
    }

    /// Adds one write to the node's metrics.
    fn record(&self, tally: Tally) {
        let latency = tally.oldest.map(|t| t.elapsed().as_secs_f64());
        self.node.metrics.wrote(tally.frames, tally.bytes, latency);
    }

    /// The gap a live publication would leave on its channel: offsets after the
    /// last one written and before it, same epoch. Causes: a publication the
    /// node's NATS server did not route here (new interest, a reconnect) or a
    /// subscribe reply whose page stopped short. None when the item fits.
    fn gap_before(&self, item: &Item) -> Option<Gap> {
        let Route::Publication {
            channel,
            position: Some((offset, epoch)),
        } = &item.route
        else {
            return None;
        };
        match self.subs.get(channel)?.last.check(*offset, epoch) {
            Advance::Gap { after } => Some(Gap {
                channel: channel.clone(),
                after,
                next: *offset,
            }),
            Advance::Next | Advance::Duplicate => None,
        }
    }

    /// The publications of a gap, read from history, as queue items; empty
    /// (and counted as lost) when history cannot fill it. Blocks this
    /// connection's writes for one history read, which is what in-order
    /// delivery costs.
    async fn fill(&self, gap: Gap) -> Vec<Item> {
        let stream = StreamKey::Channel(gap.channel.clone());
        let Some(opts) = self.node.config().history_of(&stream) else {
            return Vec::new();
        };
        let query = HistoryQuery {
            since: Some(gap.after.clone()),
            limit: Some((gap.next - gap.after.offset - 1) as usize),
            reverse: false,
        };
        let page = match self.node.broker.history(stream, opts, query).await {
            Ok(page) => page,
            Err(e) => {
                tracing::warn!(error = %e, channel = %gap.channel, "could not fill a gap in live publications");
                self.node.metrics.gap(false);
                return Vec::new();
            }
        };
        let missing: Vec<Item> = page
            .publications
            .into_iter()
            .filter(|p| p.offset.is_some_and(|o| o < gap.next))
            .map(|p| Outgoing::publication(gap.channel.clone(), p, None))
            .collect();
        let filled = missing.len() as u64 == gap.next - gap.after.offset - 1;
        self.node.metrics.gap(filled);
        missing
    }

    /// Adds a queued item, if it is still to be written, to the socket's
    /// write buffer (which writes out only when full or flushed).
    async fn feed(
        &mut self,
        socket: &mut WebSocket,
        item: Item,
        tally: &mut Tally,
    ) -> Result<(), Flow> {
        let Some(msg) = self.admit(item, tally) else {
            return Ok(());
        };
        socket
            .feed(msg)
            .await
            .map_err(|e| Flow::Close(CloseCode(1006), e.to_string()))
    }

    /// The message to write for a queued item, or `None` to skip it (no longer
    /// subscribed, or a publication already delivered).
    fn admit(&mut self, item: Item, tally: &mut Tally) -> Option<ws::Message> {
        let msg = self.admit_one(item, tally)?;
        tally.count(&msg);
        Some(msg)
    }

    /// [`Session::admit`] before counting: the message, noting in `tally`
    /// when the oldest publication of the write entered the node.
    fn admit_one(&mut self, item: Item, tally: &mut Tally) -> Option<ws::Message> {
        match &item.route {
            Route::Publication { channel, position } => {
                let sub = self.subs.get_mut(channel)?;
                if let Some((offset, epoch)) = position {
                    if sub.last.advance(*offset, epoch) == Advance::Duplicate {
                        return None;
                    }
                }
                tally.oldest.get_or_insert(item.created);
            }
            Route::Inbox {
                position: (offset, epoch),
            } => {
                if self.inbox_last.advance(*offset, epoch) == Advance::Duplicate {
                    return None;
                }
            }
            Route::Push { channel } => {
                if channel.as_ref().is_some_and(|c| !self.subs.contains_key(c)) {
                    return None;
                }
            }
        }
        item.message_for(self.codec)
    }

    /// Says goodbye: a `disconnect` push (for Chorus close codes) and a close
    /// frame, each given at most a second, since the peer may not be reading.
    async fn close(&mut self, socket: &mut WebSocket, code: CloseCode, reason: &str) {
        if code.0 == 1006 {
            return;
        }
        let grace = Duration::from_secs(1);
        if code.0 >= 4000 {
            tracing::debug!(code = code.0, reason, "closing connection");
            let push = Push::Disconnect(Disconnect {
                code,
                reason: reason.to_owned(),
                reconnect: code.should_reconnect(),
            });
            if let Some(msg) = encode(self.codec, &ServerFrame::Push(push)) {
                if tokio::time::timeout(grace, socket.send(msg)).await.is_err() {
                    return;
                }
            }
        }
        let frame = CloseFrame {
            code: code.0,
            reason: truncate(reason, 120).into(),
        };
        if tokio::time::timeout(grace, socket.send(ws::Message::Close(Some(frame))))
            .await
            .is_err()
        {
            return;
        }
        // Complete the closing handshake: read until the peer's close. Closing a
        // socket with unread input makes the kernel reset it, and the peer would
        // lose the close frame.
        let _ = tokio::time::timeout(grace, async {
            while let Some(Ok(msg)) = socket.recv().await {
                if matches!(msg, ws::Message::Close(_)) {
                    break;
                }
            }
        })
        .await;
    }

    async fn cleanup(&mut self, code: CloseCode) {
        let channels: Vec<Arc<str>> = self.subs.keys().cloned().collect();
        for channel in channels {
            self.leave(&channel).await;
        }
        if let Some(auth) = self.auth.take() {
            self.node.hub.unregister(&auth.client, &auth.user);
            if !auth.user.is_empty() {
                if let Err(e) = self.node.status_leave(&auth.info).await {
                    tracing::warn!(error = %e, "could not update the user's status");
                }
            }
            if !auth.user.is_empty() {
                if let Err(e) = self.node.broker.user_interest(auth.user.clone()).await {
                    tracing::warn!(error = %e, "could not drop user interest");
                }
            }
            self.node.hooks.on_disconnect(&auth.info, code);
        }
    }
}

/// At most `max` bytes of `s`, cut at a character boundary (close reasons are
/// limited to 123 bytes by the WebSocket protocol).
fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}
