//! A raw protocol client over tokio-tungstenite: no SDK and no state machine,
//! so that what is checked is exactly what the server puts on the wire.
//!
//! Every wait is bounded by [`WAIT`]; every failure is a [`Failure`] that
//! explains what was expected, never a panic.

use std::collections::VecDeque;
use std::time::Duration;

use chorus_protocol::message::{ConnectRequest, ConnectResult, Disconnect, Empty, Error};
use chorus_protocol::{ClientFrame, Codec, Command, Push, Reply, ReplyBody, Request, ServerFrame};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode as WsCloseCode;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// The longest a client waits for any one thing (an upgrade, a frame, a close).
pub const WAIT: Duration = Duration::from_secs(10);

/// Why a check failed: a human-readable reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure(pub String);

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Builds a [`Failure`] from `format!` arguments.
macro_rules! fail {
    ($($arg:tt)*) => { $crate::suite::client::Failure(format!($($arg)*)) };
}
pub(crate) use fail;

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The answer to a WebSocket upgrade request.
#[derive(Debug)]
pub enum Upgrade {
    /// `101 Switching Protocols`: the connection and the subprotocol the
    /// server echoed, if any.
    Accepted(Box<Ws>, Option<String>),
    /// The server answered with another HTTP status: status and body.
    Refused(u16, String),
}

/// Sends a WebSocket upgrade to `url` offering `protocol` (if any).
/// Transport errors (connection refused, timeout) are failures.
pub async fn upgrade(url: &str, protocol: Option<&str>) -> Result<Upgrade, Failure> {
    let mut req = url
        .into_client_request()
        .map_err(|e| fail!("invalid WebSocket URL {url:?}: {e}"))?;
    if let Some(p) = protocol {
        let value =
            HeaderValue::from_str(p).map_err(|e| fail!("invalid subprotocol {p:?}: {e}"))?;
        req.headers_mut().insert("Sec-WebSocket-Protocol", value);
    }
    let result = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(req))
        .await
        .map_err(|_| {
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
    /// The `disconnect` push received just before, if any.
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
}

/// A raw protocol connection with one codec.
#[derive(Debug)]
pub struct Conn {
    ws: Box<Ws>,
    /// The codec of this connection.
    pub codec: Codec,
    next_id: u64,
    /// Pushes received while waiting for replies, oldest first.
    pushes: VecDeque<Push>,
    /// Whether the connect reply asked for pongs.
    answer_pings: bool,
}

impl Conn {
    /// Opens a connection with `codec`'s subprotocol; fails unless the server
    /// upgrades and echoes that subprotocol.
    pub async fn open(url: &str, codec: Codec) -> Result<Conn, Failure> {
        match upgrade(url, Some(codec.subprotocol())).await? {
            Upgrade::Accepted(ws, Some(p)) if p == codec.subprotocol() => Ok(Conn {
                ws,
                codec,
                next_id: 1,
                pushes: VecDeque::new(),
                answer_pings: false,
            }),
            Upgrade::Accepted(_, other) => Err(fail!(
                "the server accepted the upgrade but echoed subprotocol {other:?}, expected {:?}",
                codec.subprotocol()
            )),
            Upgrade::Refused(status, body) => Err(fail!(
                "upgrade with {} refused: HTTP {status} {body:?}",
                codec.subprotocol()
            )),
        }
    }

    /// Opens a connection and authenticates with `token`; fails unless the
    /// connect succeeds.
    pub async fn connected(url: &str, codec: Codec, token: String) -> Result<Conn, Failure> {
        let mut conn = Conn::open(url, codec).await?;
        match conn.connect(Some(token)).await? {
            Ok(_) => Ok(conn),
            Err(e) => Err(fail!(
                "connect with a valid token refused: error {} {:?}",
                e.code.0,
                e.message
            )),
        }
    }

    /// Sends one WebSocket message as it is.
    pub async fn send_message(&mut self, msg: Message) -> Result<(), Failure> {
        tokio::time::timeout(WAIT, self.ws.send(msg))
            .await
            .map_err(|_| fail!("could not send within {} s", WAIT.as_secs()))?
            .map_err(|e| fail!("send failed: {e}"))
    }

    /// Sends `bytes` in the WebSocket message type of this connection's codec
    /// (text for JSON, binary for MessagePack). Non-UTF-8 bytes on a JSON
    /// connection go out as a raw text frame, unchecked.
    pub async fn send_bytes(&mut self, bytes: Vec<u8>) -> Result<(), Failure> {
        let msg = if self.codec.is_binary() {
            Message::Binary(bytes.into())
        } else {
            match String::from_utf8(bytes) {
                Ok(text) => Message::Text(text.into()),
                Err(e) => {
                    use tokio_tungstenite::tungstenite::protocol::frame::Frame;
                    use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
                    Message::Frame(Frame::message(
                        e.into_bytes(),
                        OpCode::Data(Data::Text),
                        true,
                    ))
                }
            }
        };
        self.send_message(msg).await
    }

    /// Encodes and sends a frame.
    pub async fn send_frame(&mut self, frame: &ClientFrame) -> Result<(), Failure> {
        let bytes = self
            .codec
            .encode_client(frame)
            .map_err(|e| fail!("cannot encode {frame:?}: {e}"))?;
        self.send_bytes(bytes).await
    }

    /// The id the next command will get; ids count up from 1.
    pub fn take_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// Sends a command; returns its id.
    pub async fn send(&mut self, request: Request) -> Result<u64, Failure> {
        let id = self.take_id();
        self.send_frame(&ClientFrame::Command(Command { id, request }))
            .await?;
        Ok(id)
    }

    /// The next frame, or how the connection ended. Server pings are answered
    /// with a pong (when the connect reply asked for it) and also returned.
    pub async fn recv(&mut self) -> Result<Result<Received, Closed>, Failure> {
        loop {
            let msg = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .map_err(|_| {
                    fail!(
                        "nothing received from the server within {} s",
                        WAIT.as_secs()
                    )
                })?;
            let raw = match msg {
                Some(Ok(Message::Text(t))) => {
                    if self.codec != Codec::Json {
                        return Err(fail!("text message on a MessagePack connection"));
                    }
                    t.as_bytes().to_vec()
                }
                Some(Ok(Message::Binary(b))) => {
                    if self.codec != Codec::MessagePack {
                        return Err(fail!("binary message on a JSON connection"));
                    }
                    b.to_vec()
                }
                Some(Ok(Message::Close(frame))) => {
                    let (code, reason) = frame.map_or((1005, String::new()), |f| {
                        (u16::from(f.code), f.reason.to_string())
                    });
                    return Ok(Err(Closed {
                        code,
                        reason,
                        pushed: None,
                    }));
                }
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => {
                    return Ok(Err(Closed {
                        code: 1006,
                        reason: String::new(),
                        pushed: None,
                    }));
                }
            };
            let frame = self
                .codec
                .decode_server(&raw)
                .map_err(|e| fail!("undecodable server frame {}: {e}", show(&raw, self.codec)))?;
            if matches!(frame, ServerFrame::Push(Push::Ping(_))) && self.answer_pings {
                self.send_frame(&ClientFrame::Pong).await?;
            }
            return Ok(Ok(Received { raw, frame }));
        }
    }

    /// Waits for the reply to `id`; keeps pushes for [`Conn::push`]. Fails on
    /// a close, a timeout or a reply to another id.
    pub async fn reply_raw(
        &mut self,
        id: u64,
    ) -> Result<(Vec<u8>, Result<ReplyBody, Error>), Failure> {
        loop {
            match self.recv().await? {
                Ok(Received {
                    raw,
                    frame: ServerFrame::Reply(Reply { id: got, result }),
                }) => {
                    if got == id {
                        return Ok((raw, result));
                    }
                    return Err(fail!(
                        "a reply to id {got} arrived while waiting for id {id}: {}",
                        show(&raw, self.codec)
                    ));
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
                        "the server closed while waiting for reply {id}: {closed}"
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

    /// Sends a command and requires a successful reply.
    pub async fn request_ok(&mut self, request: Request) -> Result<ReplyBody, Failure> {
        let op = request.key();
        match self.request(request).await? {
            Ok(body) => Ok(body),
            Err(e) => Err(fail!("`{op}` failed: error {} {:?}", e.code.0, e.message)),
        }
    }

    /// Sends `connect` with `token`; remembers whether pings must be answered.
    pub async fn connect(
        &mut self,
        token: Option<String>,
    ) -> Result<Result<ConnectResult, Error>, Failure> {
        Ok(self.connect_raw(token).await?.1)
    }

    /// Like [`Conn::connect`], also returning the reply's bytes.
    pub async fn connect_raw(
        &mut self,
        token: Option<String>,
    ) -> Result<(Vec<u8>, Result<ConnectResult, Error>), Failure> {
        let id = self
            .send(Request::Connect(ConnectRequest {
                token,
                name: Some("chorus-conformance".into()),
                version: Some(env!("CARGO_PKG_VERSION").into()),
                ..Default::default()
            }))
            .await?;
        let (raw, reply) = self.reply_raw(id).await?;
        match reply {
            Ok(ReplyBody::Connect(result)) => {
                self.answer_pings = result.pong;
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
        match self.request(Request::Ping(Empty {})).await? {
            Ok(ReplyBody::Ping(_)) => Ok(()),
            Ok(other) => Err(fail!("the reply to `ping` has op `{}`", other.key())),
            Err(e) => Err(fail!("`ping` failed: error {} {:?}", e.code.0, e.message)),
        }
    }

    /// The next push other than a server ping (kept ones first).
    pub async fn push(&mut self) -> Result<Push, Failure> {
        if let Some(p) = self.pushes.pop_front() {
            return Ok(p);
        }
        loop {
            match self.recv().await? {
                Ok(Received {
                    frame: ServerFrame::Push(Push::Ping(_)),
                    ..
                }) => {}
                Ok(Received {
                    frame: ServerFrame::Push(p),
                    ..
                }) => return Ok(p),
                Ok(Received { raw, .. }) => {
                    return Err(fail!(
                        "unexpected reply while waiting for a push: {}",
                        show(&raw, self.codec)
                    ));
                }
                Err(closed) => {
                    return Err(fail!(
                        "the server closed while waiting for a push: {closed}"
                    ));
                }
            }
        }
    }

    /// Reads until the server closes; returns the close code, reason and the
    /// `disconnect` push that preceded it, if any. Other frames are skipped.
    pub async fn closed(&mut self) -> Result<Closed, Failure> {
        let mut pushed = None;
        loop {
            match self.recv().await {
                Ok(Ok(Received {
                    frame: ServerFrame::Push(Push::Disconnect(d)),
                    ..
                })) => pushed = Some(d),
                Ok(Ok(_)) => {}
                Ok(Err(mut c)) => {
                    c.pushed = pushed;
                    return Ok(c);
                }
                Err(f) => return Err(fail!("while waiting for the server to close: {f}")),
            }
        }
    }

    /// Closes with 1000 (best effort).
    pub async fn close(mut self) {
        let frame = CloseFrame {
            code: WsCloseCode::Normal,
            reason: "".into(),
        };
        let _ = tokio::time::timeout(WAIT, WebSocketStream::close(&mut self.ws, Some(frame))).await;
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
