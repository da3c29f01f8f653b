//! A raw protocol client over tokio-tungstenite: no SDK and no state machine,
//! so that what is checked is exactly what the server puts on the wire.
//!
//! A background task reads the connection as frames arrive and answers server
//! pings at once (when the connect reply asked for pongs), so a scenario busy
//! with other connections is never closed for a missing pong. Frames are then
//! handed to the scenario in order. Every wait is bounded by [`WAIT`]; every
//! failure is a [`Failure`] that says what was expected, never a panic.
//!
//! The client is strict where the protocol is: each command gets exactly one
//! reply echoing its id, data frames match the codec's frame type, and server
//! frames decode (pushes of unknown kinds, which a newer server may send, are
//! ignored as the protocol requires).

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use chorus_protocol::message::{
    ConnectRequest, ConnectResult, Disconnect, Empty, Error, Publication,
};
use chorus_protocol::{ClientFrame, Codec, Command, Push, Reply, ReplyBody, Request, ServerFrame};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use serde::de::IgnoredAny;
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::{Mutex, mpsc, watch};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode as WsCloseCode;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// The longest a client waits for any one thing (an upgrade, a frame, a close).
/// Generous, so that a loaded machine never fails a scenario by timing.
pub const WAIT: Duration = Duration::from_secs(20);

/// Why a check failed: a human-readable reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Failure(pub String);

/// Builds a [`Failure`] from `format!` arguments.
macro_rules! fail {
    ($($arg:tt)*) => { $crate::suite::client::Failure(format!($($arg)*)) };
}
pub(crate) use fail;

/// A WebSocket over plain TCP.
pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;
type Sink = Arc<Mutex<SplitSink<Ws, Message>>>;

/// The answer to a WebSocket upgrade request.
#[derive(Debug)]
pub enum Upgrade {
    /// `101 Switching Protocols`: the connection and the subprotocol the
    /// server echoed, if any.
    Accepted(Box<Ws>, Option<String>),
    /// The server answered with another HTTP status: status and body.
    Refused(u16, String),
}

/// How a connection is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnOptions {
    /// `SO_RCVBUF` for the socket, to make a client that stops reading fill
    /// its buffers quickly (slow consumers). `None`: the system default.
    pub recv_buffer: Option<u32>,
    /// Whether to answer server pings when the connect reply asks for pongs.
    pub answer_pings: bool,
}

impl Default for ConnOptions {
    fn default() -> Self {
        ConnOptions {
            recv_buffer: None,
            answer_pings: true,
        }
    }
}

/// Opens a TCP connection to the host of a `ws://` URL.
async fn dial(url: &str, recv_buffer: Option<u32>) -> Result<TcpStream, Failure> {
    let req = url
        .into_client_request()
        .map_err(|e| fail!("invalid WebSocket URL {url:?}: {e}"))?;
    let uri = req.uri();
    if uri.scheme_str() != Some("ws") {
        return Err(fail!(
            "unsupported URL {url:?}: the suite speaks plain ws:// (test a TLS-terminated server on its plain port)"
        ));
    }
    let host = uri
        .host()
        .ok_or_else(|| fail!("no host in {url:?}"))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = uri.port_u16().unwrap_or(80);
    let connect = async {
        let mut last = None;
        for addr in tokio::net::lookup_host((host.as_str(), port)).await? {
            let socket = if addr.is_ipv4() {
                TcpSocket::new_v4()?
            } else {
                TcpSocket::new_v6()?
            };
            if let Some(size) = recv_buffer {
                socket.set_recv_buffer_size(size)?;
            }
            socket.set_nodelay(true)?;
            match socket.connect(addr).await {
                Ok(stream) => return Ok(stream),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| std::io::Error::other("the host resolves to no address")))
    };
    tokio::time::timeout(WAIT, connect)
        .await
        .map_err(|_| fail!("cannot connect to {url} within {} s", WAIT.as_secs()))?
        .map_err(|e| fail!("cannot connect to {url}: {e}"))
}

/// Sends a WebSocket upgrade to `url` offering `protocol` (if any; a
/// comma-separated list offers several). Transport errors (connection refused,
/// timeout) are failures; an HTTP answer other than 101 is [`Upgrade::Refused`].
pub async fn upgrade(url: &str, protocol: Option<&str>) -> Result<Upgrade, Failure> {
    upgrade_with(url, protocol, ConnOptions::default()).await
}

async fn upgrade_with(
    url: &str,
    protocol: Option<&str>,
    options: ConnOptions,
) -> Result<Upgrade, Failure> {
    let mut req = url
        .into_client_request()
        .map_err(|e| fail!("invalid WebSocket URL {url:?}: {e}"))?;
    if let Some(p) = protocol {
        let value =
            HeaderValue::from_str(p).map_err(|e| fail!("invalid subprotocol {p:?}: {e}"))?;
        req.headers_mut().insert("Sec-WebSocket-Protocol", value);
    }
    let stream = dial(url, options.recv_buffer).await?;
    let handshake = tokio_tungstenite::client_async(req, MaybeTlsStream::Plain(stream));
    let result = tokio::time::timeout(WAIT, handshake).await.map_err(|_| {
        fail!(
            "no answer to the upgrade of {url} within {} s",
            WAIT.as_secs()
        )
    })?;
    match result {
        Ok((ws, resp)) => {
            let selected = resp
                .headers()
                .get("sec-websocket-protocol")
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
            Ok(Upgrade::Accepted(Box::new(ws), selected))
        }
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
            let body = resp
                .body()
                .as_ref()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default();
            Ok(Upgrade::Refused(resp.status().as_u16(), body))
        }
        Err(tokio_tungstenite::tungstenite::Error::Protocol(e)) => {
            // tungstenite refuses a 101 whose subprotocol does not match the
            // offer; report it as such rather than as a transport error.
            Err(fail!("the upgrade of {url} was answered wrongly: {e}"))
        }
        Err(e) => Err(fail!("cannot open {url}: {e}")),
    }
}

/// How a connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Closed {
    /// The WebSocket close code (1005 when the close frame had none, 1006 when
    /// the transport dropped without a close frame).
    pub code: u16,
    /// The close reason.
    pub reason: String,
    /// The last `disconnect` push received on the connection, if any.
    pub pushed: Option<Disconnect>,
}

impl std::fmt::Display for Closed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "close {} {:?}", self.code, self.reason)?;
        match &self.pushed {
            Some(d) => write!(f, " after a disconnect push with code {}", d.code.0),
            None => write!(f, " without a disconnect push"),
        }
    }
}

/// One decoded server frame with the bytes it came in.
#[derive(Debug, Clone)]
pub struct Received {
    /// The WebSocket message's payload.
    pub raw: Vec<u8>,
    /// The decoded frame.
    pub frame: ServerFrame,
    /// When the background reader received it.
    pub at: Instant,
}

/// What the background reader hands over.
enum Event {
    Frame(Received),
    Closed(Closed),
    Bad(String),
}

/// A raw protocol connection with one codec.
pub struct Conn {
    sink: Sink,
    events: mpsc::UnboundedReceiver<Event>,
    reader: tokio::task::JoinHandle<()>,
    paused: watch::Sender<bool>,
    /// The codec of this connection.
    pub codec: Codec,
    next_id: u64,
    /// Ids of commands sent and not yet answered.
    pending: HashSet<u64>,
    /// Replies that arrived while waiting for something else.
    replies: BTreeMap<u64, (Vec<u8>, Result<ReplyBody, Error>)>,
    /// Pushes received while waiting for something else, oldest first.
    pushes: VecDeque<Push>,
    /// The last `disconnect` push seen.
    disconnect: Option<Disconnect>,
    /// How the connection ended, once it has.
    closed: Option<Closed>,
    /// The successful connect reply, once there is one.
    pub session: Option<ConnectResult>,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn")
            .field("codec", &self.codec)
            .field("session", &self.session)
            .field("closed", &self.closed)
            .finish_non_exhaustive()
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// The message type of `codec` holding `bytes`; bytes that are not UTF-8 on a
/// JSON connection go out as a raw text frame, unchecked.
fn data_message(codec: Codec, bytes: Vec<u8>) -> Message {
    if codec.is_binary() {
        return Message::Binary(bytes.into());
    }
    match String::from_utf8(bytes) {
        Ok(text) => Message::Text(text.into()),
        Err(e) => Message::Frame(Frame::message(
            e.into_bytes(),
            OpCode::Data(Data::Text),
            true,
        )),
    }
}

/// True for a well-formed server frame that holds no operation this client
/// knows and no id: a push of a kind added by a newer server, which the
/// protocol says to ignore.
fn is_unknown_push(codec: Codec, raw: &[u8]) -> bool {
    type Keys = BTreeMap<String, IgnoredAny>;
    let keys: Option<Keys> = match codec {
        Codec::Json => serde_json::from_slice(raw).ok(),
        Codec::MessagePack => rmp_serde::from_slice(raw).ok(),
    };
    keys.is_some_and(|keys| {
        keys.keys().all(|k| {
            k != "id" && k != "error" && !Push::KEYS.contains(&k.as_str()) && {
                !ReplyBody::KEYS.contains(&k.as_str())
            }
        })
    })
}

/// Reads the connection until it ends, answering pings and forwarding frames.
async fn read_loop(
    mut stream: SplitStream<Ws>,
    sink: Sink,
    tx: mpsc::UnboundedSender<Event>,
    codec: Codec,
    mut paused: watch::Receiver<bool>,
    may_answer_pings: bool,
) {
    let mut answer_pings = false;
    loop {
        if paused.wait_for(|p| !*p).await.is_err() {
            return;
        }
        let msg = tokio::select! {
            changed = paused.changed() => {
                if changed.is_err() {
                    return;
                }
                continue;
            }
            msg = stream.next() => msg,
        };
        let raw = match msg {
            Some(Ok(Message::Text(t))) if !codec.is_binary() => t.as_bytes().to_vec(),
            Some(Ok(Message::Binary(b))) if codec.is_binary() => b.to_vec(),
            Some(Ok(Message::Text(_))) => {
                let _ = tx.send(Event::Bad(
                    "the server sent a text message on a MessagePack connection".into(),
                ));
                continue;
            }
            Some(Ok(Message::Binary(_))) => {
                let _ = tx.send(Event::Bad(
                    "the server sent a binary message on a JSON connection".into(),
                ));
                continue;
            }
            Some(Ok(Message::Close(frame))) => {
                let (code, reason) = frame.map_or((1005, String::new()), |f| {
                    (u16::from(f.code), f.reason.to_string())
                });
                let _ = tx.send(Event::Closed(Closed {
                    code,
                    reason,
                    pushed: None,
                }));
                return;
            }
            Some(Ok(_)) => continue,
            Some(Err(e)) => {
                let _ = tx.send(Event::Closed(Closed {
                    code: 1006,
                    reason: e.to_string(),
                    pushed: None,
                }));
                return;
            }
            None => {
                let _ = tx.send(Event::Closed(Closed {
                    code: 1006,
                    reason: String::new(),
                    pushed: None,
                }));
                return;
            }
        };
        let at = Instant::now();
        match codec.decode_server(&raw) {
            Ok(frame) => {
                match &frame {
                    ServerFrame::Reply(Reply {
                        result: Ok(ReplyBody::Connect(r)),
                        ..
                    }) => answer_pings = may_answer_pings && r.pong,
                    ServerFrame::Push(Push::Ping(_)) if answer_pings => {
                        if let Ok(bytes) = codec.encode_client(&ClientFrame::Pong) {
                            let _ = sink.lock().await.send(data_message(codec, bytes)).await;
                        }
                    }
                    _ => {}
                }
                if tx.send(Event::Frame(Received { raw, frame, at })).is_err() {
                    return;
                }
            }
            Err(_) if is_unknown_push(codec, &raw) => {}
            Err(e) => {
                let _ = tx.send(Event::Bad(format!(
                    "undecodable server frame {}: {e}",
                    show(&raw, codec)
                )));
            }
        }
    }
}

impl Conn {
    /// Opens a connection with `codec`'s subprotocol; fails unless the server
    /// upgrades and echoes that subprotocol.
    pub async fn open(url: &str, codec: Codec) -> Result<Conn, Failure> {
        Conn::open_with(url, codec, ConnOptions::default()).await
    }

    /// Like [`Conn::open`], with options.
    pub async fn open_with(url: &str, codec: Codec, options: ConnOptions) -> Result<Conn, Failure> {
        let ws = match upgrade_with(url, Some(codec.subprotocol()), options).await? {
            Upgrade::Accepted(ws, Some(p)) if p == codec.subprotocol() => ws,
            Upgrade::Accepted(_, other) => {
                return Err(fail!(
                    "the server accepted the upgrade but echoed subprotocol {other:?}, expected {:?}",
                    codec.subprotocol()
                ));
            }
            Upgrade::Refused(status, body) => {
                return Err(fail!(
                    "upgrade with {} refused: HTTP {status} {body:?}",
                    codec.subprotocol()
                ));
            }
        };
        let (sink, stream) = (*ws).split();
        let sink: Sink = Arc::new(Mutex::new(sink));
        let (tx, events) = mpsc::unbounded_channel();
        let (paused, paused_rx) = watch::channel(false);
        let reader = tokio::spawn(read_loop(
            stream,
            Arc::clone(&sink),
            tx,
            codec,
            paused_rx,
            options.answer_pings,
        ));
        Ok(Conn {
            sink,
            events,
            reader,
            paused,
            codec,
            next_id: 1,
            pending: HashSet::new(),
            replies: BTreeMap::new(),
            pushes: VecDeque::new(),
            disconnect: None,
            closed: None,
            session: None,
        })
    }

    /// This connection's client id from the connect reply (empty before).
    pub fn client_id(&self) -> &str {
        self.session.as_ref().map_or("", |s| s.client.as_str())
    }

    /// This connection's user from the connect reply (empty before).
    pub fn user(&self) -> &str {
        self.session.as_ref().map_or("", |s| s.user.as_str())
    }

    /// Stops reading from the socket (what is already read stays available),
    /// so that the server's writes pile up as with a client that reads too slowly.
    pub fn pause_reading(&self) {
        let _ = self.paused.send(true);
    }

    /// Resumes reading after [`Conn::pause_reading`].
    pub fn resume_reading(&self) {
        let _ = self.paused.send(false);
    }

    /// Sends one WebSocket message as it is.
    pub async fn send_message(&mut self, msg: Message) -> Result<(), Failure> {
        let send = async { self.sink.lock().await.send(msg).await };
        tokio::time::timeout(WAIT, send)
            .await
            .map_err(|_| fail!("could not send within {} s", WAIT.as_secs()))?
            .map_err(|e| fail!("send failed: {e}"))
    }

    /// Sends `bytes` in the WebSocket message type of this connection's codec
    /// (text for JSON, binary for MessagePack). Non-UTF-8 bytes on a JSON
    /// connection go out as a raw text frame, unchecked.
    pub async fn send_bytes(&mut self, bytes: Vec<u8>) -> Result<(), Failure> {
        let msg = data_message(self.codec, bytes);
        self.send_message(msg).await
    }

    /// Encodes a frame for this codec.
    pub fn encode(&self, frame: &ClientFrame) -> Result<Vec<u8>, Failure> {
        self.codec
            .encode_client(frame)
            .map_err(|e| fail!("cannot encode {frame:?}: {e}"))
    }

    /// Encodes and sends a frame.
    pub async fn send_frame(&mut self, frame: &ClientFrame) -> Result<(), Failure> {
        let bytes = self.encode(frame)?;
        self.send_bytes(bytes).await
    }

    /// A fresh id for a command (ids count up from 1); a reply to it is expected.
    pub fn take_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.pending.insert(id);
        id
    }

    /// Expects a reply to `id`, for a command sent as raw bytes with an id
    /// not taken from [`Conn::take_id`].
    pub fn expect_reply_to(&mut self, id: u64) {
        self.pending.insert(id);
    }

    /// Sends a command; returns its id.
    pub async fn send(&mut self, request: Request) -> Result<u64, Failure> {
        let id = self.take_id();
        self.send_frame(&ClientFrame::Command(Command { id, request }))
            .await?;
        Ok(id)
    }

    /// Sends several commands in one write (a pipeline); returns their ids.
    pub async fn send_pipelined(&mut self, requests: Vec<Request>) -> Result<Vec<u64>, Failure> {
        let mut messages = Vec::with_capacity(requests.len());
        let mut ids = Vec::with_capacity(requests.len());
        for request in requests {
            let id = self.take_id();
            let bytes = self.encode(&ClientFrame::Command(Command { id, request }))?;
            messages.push(data_message(self.codec, bytes));
            ids.push(id);
        }
        let send = async {
            let mut sink = self.sink.lock().await;
            for msg in messages {
                sink.feed(msg).await?;
            }
            sink.flush().await
        };
        tokio::time::timeout(WAIT, send)
            .await
            .map_err(|_| fail!("could not send within {} s", WAIT.as_secs()))?
            .map_err(|e| fail!("send failed: {e}"))?;
        Ok(ids)
    }

    /// The next frame from the wire, or how the connection ended (again and
    /// again once it has). Pushes and replies kept by other methods are not
    /// returned here.
    pub async fn recv(&mut self) -> Result<Result<Received, Closed>, Failure> {
        if let Some(closed) = &self.closed {
            return Ok(Err(closed.clone()));
        }
        let event = tokio::time::timeout(WAIT, self.events.recv())
            .await
            .map_err(|_| {
                fail!(
                    "nothing received from the server within {} s",
                    WAIT.as_secs()
                )
            })?;
        let received = match event {
            None => {
                let closed = Closed {
                    code: 1006,
                    reason: "the reader stopped".into(),
                    pushed: self.disconnect.clone(),
                };
                self.closed = Some(closed.clone());
                return Ok(Err(closed));
            }
            Some(Event::Closed(mut closed)) => {
                closed.pushed = self.disconnect.clone();
                self.closed = Some(closed.clone());
                return Ok(Err(closed));
            }
            Some(Event::Bad(why)) => return Err(Failure(why)),
            Some(Event::Frame(received)) => received,
        };
        match &received.frame {
            ServerFrame::Push(Push::Disconnect(d)) => self.disconnect = Some(d.clone()),
            ServerFrame::Reply(reply) => {
                if !self.pending.remove(&reply.id) {
                    return Err(fail!(
                        "a reply to id {} arrived, but no command with that id awaits a reply (never sent, or already answered): {}",
                        reply.id,
                        show(&received.raw, self.codec)
                    ));
                }
            }
            ServerFrame::Push(_) => {}
        }
        Ok(Ok(received))
    }

    /// Waits for the reply to `id`, with its bytes; keeps pushes for
    /// [`Conn::push`] and other replies for their own waits. Fails on a close
    /// or a timeout.
    pub async fn reply_raw(
        &mut self,
        id: u64,
    ) -> Result<(Vec<u8>, Result<ReplyBody, Error>), Failure> {
        if let Some(kept) = self.replies.remove(&id) {
            return Ok(kept);
        }
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let received = tokio::time::timeout_at(deadline, self.recv())
                .await
                .map_err(|_| fail!("no reply to id {id} within {} s", WAIT.as_secs()))?;
            match received? {
                Ok(Received {
                    raw,
                    frame: ServerFrame::Reply(Reply { id: got, result }),
                    ..
                }) => {
                    if got == id {
                        return Ok((raw, result));
                    }
                    self.replies.insert(got, (raw, result));
                }
                Ok(Received {
                    frame: ServerFrame::Push(Push::Ping(_)),
                    ..
                }) => {}
                Ok(Received {
                    frame: ServerFrame::Push(p),
                    ..
                }) => self.pushes.push_back(p),
                Err(closed) => {
                    return Err(fail!(
                        "the server closed while waiting for the reply to id {id}: {closed}"
                    ));
                }
            }
        }
    }

    /// Waits for the reply to `id`.
    pub async fn reply(&mut self, id: u64) -> Result<Result<ReplyBody, Error>, Failure> {
        Ok(self.reply_raw(id).await?.1)
    }

    /// Sends a command and waits for its reply.
    pub async fn request(&mut self, request: Request) -> Result<Result<ReplyBody, Error>, Failure> {
        let id = self.send(request).await?;
        self.reply(id).await
    }

    /// Sends a command and requires a successful reply under the command's own key.
    pub async fn request_ok(&mut self, request: Request) -> Result<ReplyBody, Failure> {
        let op = request.key();
        match self.request(request).await? {
            Ok(body) if body.key() == op => Ok(body),
            Ok(body) => Err(fail!(
                "the reply to `{op}` has op `{}`, expected `{op}`",
                body.key()
            )),
            Err(e) => Err(fail!("`{op}` failed: error {} {:?}", e.code.0, e.message)),
        }
    }

    /// Sends `connect` with `token` and the suite's client name.
    pub async fn connect(
        &mut self,
        token: Option<String>,
    ) -> Result<Result<ConnectResult, Error>, Failure> {
        let request = ConnectRequest {
            token,
            name: Some("chorus-conformance".into()),
            version: Some(env!("CARGO_PKG_VERSION").into()),
            ..Default::default()
        };
        Ok(self.connect_raw(request).await?.1)
    }

    /// Sends `connect` as given; returns the reply's bytes too. A successful
    /// reply is remembered in [`Conn::session`].
    pub async fn connect_raw(
        &mut self,
        request: ConnectRequest,
    ) -> Result<(Vec<u8>, Result<ConnectResult, Error>), Failure> {
        let id = self.send(Request::Connect(request)).await?;
        let (raw, reply) = self.reply_raw(id).await?;
        match reply {
            Ok(ReplyBody::Connect(result)) => {
                self.session = Some(result.clone());
                Ok((raw, Ok(result)))
            }
            Ok(other) => Err(fail!(
                "the reply to `connect` has op `{}`: {}",
                other.key(),
                show(&raw, self.codec)
            )),
            Err(e) => Ok((raw, Err(e))),
        }
    }

    /// Sends a `ping` command and requires the `ping` reply.
    pub async fn ping(&mut self) -> Result<(), Failure> {
        self.request_ok(Request::Ping(Empty {})).await.map(|_| ())
    }

    /// The next push other than a server ping (kept ones first).
    pub async fn push(&mut self) -> Result<Push, Failure> {
        self.push_where("a push", |_| true).await
    }

    /// The first push (other than a server ping) for which `pred` holds,
    /// described by `what` in failures. Pushes that do not match are kept, in
    /// order, for later waits.
    pub async fn push_where(
        &mut self,
        what: &str,
        mut pred: impl FnMut(&Push) -> bool,
    ) -> Result<Push, Failure> {
        if let Some(i) = self.pushes.iter().position(&mut pred) {
            if let Some(p) = self.pushes.remove(i) {
                return Ok(p);
            }
        }
        // One deadline for the whole wait: pings alone must not keep it going.
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let received = tokio::time::timeout_at(deadline, self.recv())
                .await
                .map_err(|_| fail!("no {what} within {} s", WAIT.as_secs()))?;
            match received? {
                Ok(Received {
                    frame: ServerFrame::Push(Push::Ping(_)),
                    ..
                }) => {}
                Ok(Received {
                    frame: ServerFrame::Push(p),
                    ..
                }) => {
                    if pred(&p) {
                        return Ok(p);
                    }
                    self.pushes.push_back(p);
                }
                Ok(Received {
                    raw,
                    frame: ServerFrame::Reply(Reply { id, result }),
                    ..
                }) => {
                    self.replies.insert(id, (raw, result));
                }
                Err(closed) => {
                    return Err(fail!(
                        "the server closed while waiting for {what}: {closed}"
                    ));
                }
            }
        }
    }

    /// The next publication in `channel`.
    pub async fn publication(&mut self, channel: &str) -> Result<Publication, Failure> {
        let what = format!("a publication in {channel:?}");
        match self
            .push_where(
                &what,
                |p| matches!(p, Push::Publication(p) if p.channel == channel),
            )
            .await?
        {
            Push::Publication(p) => Ok(p),
            other => Err(fail!("expected {what}, got {other:?}")),
        }
    }

    /// The pushes kept so far (received while waiting for other things), oldest first.
    pub fn kept_pushes(&self) -> impl Iterator<Item = &Push> {
        self.pushes.iter()
    }

    /// Reads until the server closes; returns the close code, reason and the
    /// last `disconnect` push. Other frames are skipped.
    pub async fn closed(&mut self) -> Result<Closed, Failure> {
        loop {
            match self.recv().await {
                Ok(Ok(_)) => {}
                Ok(Err(closed)) => return Ok(closed),
                Err(f) => return Err(fail!("while waiting for the server to close: {f}")),
            }
        }
    }

    /// Whether the server has closed the connection (as far as read so far).
    pub fn is_closed(&self) -> bool {
        self.closed.is_some()
    }

    /// Closes with 1000 (best effort) and waits (boundedly) for the server's
    /// answering close, so that the server has seen the close when this returns.
    pub async fn close(mut self) {
        if self.closed.is_some() {
            return;
        }
        let frame = CloseFrame {
            code: WsCloseCode::Normal,
            reason: "".into(),
        };
        let sent = {
            let mut sink = self.sink.lock().await;
            tokio::time::timeout(WAIT, sink.send(Message::Close(Some(frame)))).await
        };
        if matches!(sent, Ok(Ok(()))) {
            let _ = self.closed().await;
        }
    }

    /// Drops the TCP connection without a WebSocket close: what a client sees
    /// when its network goes away.
    pub async fn drop_transport(mut self) {
        self.reader.abort();
        let reader = std::mem::replace(&mut self.reader, tokio::spawn(async {}));
        let _ = reader.await;
        // The socket closes when both halves are gone: the reader's with the
        // aborted task, the sink's with `self`.
    }
}

/// Encodes an arbitrary value with `codec` (JSON, or MessagePack maps with
/// string keys), for frames the protocol types cannot express.
pub fn encode_value(codec: Codec, value: &serde_json::Value) -> Result<Vec<u8>, Failure> {
    match codec {
        Codec::Json => serde_json::to_vec(value).map_err(|e| fail!("cannot encode: {e}")),
        Codec::MessagePack => {
            rmp_serde::to_vec_named(value).map_err(|e| fail!("cannot encode: {e}"))
        }
    }
}

/// A frame for messages: JSON as text, MessagePack as hex (shortened).
pub fn show(raw: &[u8], codec: Codec) -> String {
    const MAX: usize = 300;
    let mut s = match codec {
        Codec::Json => String::from_utf8_lossy(raw).into_owned(),
        Codec::MessagePack => raw.iter().map(|b| format!("{b:02x}")).collect(),
    };
    if s.len() > MAX {
        let mut cut = MAX;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_pushes_are_recognised() {
        for codec in [Codec::Json, Codec::MessagePack] {
            let unknown =
                encode_value(codec, &serde_json::json!({"presence_changed": {}})).expect("encodes");
            assert!(is_unknown_push(codec, &unknown), "{codec:?}");
            for known in [
                serde_json::json!({"publication": 1}),
                serde_json::json!({"id": 3, "teleport": {}}),
                serde_json::json!({"error": {}}),
            ] {
                let bytes = encode_value(codec, &known).expect("encodes");
                assert!(!is_unknown_push(codec, &bytes), "{codec:?} {known}");
            }
            assert!(!is_unknown_push(codec, b"\xff not a frame"));
        }
    }
}
