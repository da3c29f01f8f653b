//! A test harness: an in-process node on a free port, and a raw protocol client
//! over tokio-tungstenite (no SDK, so the server is tested against the wire).
#![allow(dead_code)]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use chorus_protocol::message::{Error, Publication};
use chorus_protocol::{ClientFrame, Codec, Command, Push, Reply, ReplyBody, Request, ServerFrame};
use chorus_server::auth::{Claims, mint};
use chorus_server::config::NamespaceConfig;
use chorus_server::{Config, Node, ServerBuilder};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode as WsCloseCode;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Generous: two shared cores, debug builds.
pub const WAIT: Duration = Duration::from_secs(20);
pub const SECRET: &str = "test-secret-with-enough-length-for-hs256";

pub fn both() -> [Codec; 2] {
    [Codec::Json, Codec::MessagePack]
}

/// A config with an HMAC secret and a `chat` namespace with history and presence.
pub fn config() -> Config {
    let mut c = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..Default::default()
    };
    c.auth.hmac_secret = Some(SECRET.to_owned());
    c.namespaces.insert(
        "chat".into(),
        NamespaceConfig {
            history_size: 100,
            history_ttl_ms: 600_000,
            presence: true,
            join_leave: true,
            ..Default::default()
        },
    );
    c
}

pub struct TestServer {
    pub addr: SocketAddr,
    pub node: Arc<Node>,
    stop: Option<oneshot::Sender<()>>,
    pub done: tokio::task::JoinHandle<()>,
}

impl TestServer {
    pub async fn start(config: Config) -> TestServer {
        TestServer::start_with_hooks(config, chorus_server::NoHooks).await
    }

    pub fn url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    /// Starts graceful shutdown.
    pub fn stop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }

    pub async fn client(&self, codec: Codec) -> Client {
        Client::open(&self.url(), codec).await
    }

    /// A connected client of `user`. A connect refused with a temporary
    /// error is tried again on a new connection, as the SDKs do: a cluster
    /// that has just started may still be electing its JetStream leaders.
    pub async fn user(&self, codec: Codec, user: &str) -> Client {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let mut c = self.client(codec).await;
            match c.connect(Some(token(user))).await {
                Ok(_) => return c,
                Err(e) if e.temporary && tokio::time::Instant::now() < deadline => {
                    eprintln!("connect of {user} refused for now ({e:?}); trying again");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => panic!("connect of {user} failed: {e:?}"),
            }
        }
    }
}

pub fn claims(user: &str) -> Claims {
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    Claims {
        sub: user.into(),
        exp: Some(exp),
        ..Default::default()
    }
}

pub fn token(user: &str) -> String {
    mint::hs256(SECRET, &claims(user)).unwrap()
}

pub fn token_with(claims: &Claims) -> String {
    mint::hs256(SECRET, claims).unwrap()
}

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A raw protocol client.
pub struct Client {
    ws: Ws,
    pub codec: Codec,
    next_id: u64,
    pushes: VecDeque<Push>,
}

/// How a connection ended.
#[derive(Debug, PartialEq)]
pub struct Closed {
    pub code: u16,
    pub reason: String,
    pub pushed: Option<chorus_protocol::message::Disconnect>,
}

impl Client {
    pub async fn open(url: &str, codec: Codec) -> Client {
        let mut req = url.into_client_request().unwrap();
        req.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            HeaderValue::from_static(codec.subprotocol()),
        );
        let (ws, resp) = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(req))
            .await
            .expect("upgrade in time")
            .expect("upgrade succeeds");
        assert_eq!(
            resp.headers()
                .get("sec-websocket-protocol")
                .map(|v| v.to_str().unwrap()),
            Some(codec.subprotocol())
        );
        Client {
            ws,
            codec,
            next_id: 1,
            pushes: VecDeque::new(),
        }
    }

    pub async fn send_raw(&mut self, msg: Message) {
        self.ws.send(msg).await.expect("send");
    }

    pub async fn send_frame(&mut self, frame: &ClientFrame) {
        let bytes = self.codec.encode_client(frame).unwrap();
        let msg = if self.codec.is_binary() {
            Message::Binary(bytes.into())
        } else {
            Message::Text(String::from_utf8(bytes).unwrap().into())
        };
        self.send_raw(msg).await;
    }

    /// Sends a command; returns its id.
    pub async fn send(&mut self, request: Request) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.send_frame(&ClientFrame::Command(Command { id, request }))
            .await;
        id
    }

    /// The next frame, or the close.
    pub async fn next(&mut self) -> Result<ServerFrame, Closed> {
        loop {
            let msg = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("a frame in time");
            match msg {
                Some(Ok(Message::Text(t))) => {
                    assert_eq!(self.codec, Codec::Json, "text frame on msgpack");
                    return Ok(self.codec.decode_server(t.as_bytes()).expect("decodes"));
                }
                Some(Ok(Message::Binary(b))) => {
                    assert_eq!(self.codec, Codec::MessagePack, "binary frame on json");
                    return Ok(self.codec.decode_server(&b).expect("decodes"));
                }
                Some(Ok(Message::Close(frame))) => {
                    let (code, reason) = frame.map_or((1005, String::new()), |f| {
                        (u16::from(f.code), f.reason.to_string())
                    });
                    return Err(Closed {
                        code,
                        reason,
                        pushed: None,
                    });
                }
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => {
                    return Err(Closed {
                        code: 1006,
                        reason: String::new(),
                        pushed: None,
                    });
                }
            }
        }
    }

    /// Waits for the reply to `id`, keeping pushes for later (pings are answered).
    pub async fn reply(&mut self, id: u64) -> Result<ReplyBody, Error> {
        loop {
            match self.next().await {
                Ok(ServerFrame::Reply(Reply { id: got, result })) if got == id => return result,
                Ok(ServerFrame::Reply(other)) => {
                    panic!("unexpected reply {other:?} while waiting for {id}")
                }
                Ok(ServerFrame::Push(Push::Ping(_))) => self.send_frame(&ClientFrame::Pong).await,
                Ok(ServerFrame::Push(p)) => self.pushes.push_back(p),
                Err(closed) => panic!("closed while waiting for reply {id}: {closed:?}"),
            }
        }
    }

    pub async fn request(&mut self, request: Request) -> Result<ReplyBody, Error> {
        let id = self.send(request).await;
        self.reply(id).await
    }

    pub async fn connect(&mut self, token: Option<String>) -> Result<ReplyBody, Error> {
        self.request(Request::Connect(chorus_protocol::message::ConnectRequest {
            token,
            name: Some("test".into()),
            ..Default::default()
        }))
        .await
    }

    /// The next push other than ping.
    pub async fn push(&mut self) -> Push {
        if let Some(p) = self.pushes.pop_front() {
            return p;
        }
        loop {
            match self.next().await {
                Ok(ServerFrame::Push(Push::Ping(_))) => self.send_frame(&ClientFrame::Pong).await,
                Ok(ServerFrame::Push(p)) => return p,
                Ok(ServerFrame::Reply(r)) => panic!("unexpected reply {r:?}"),
                Err(closed) => panic!("closed while waiting for a push: {closed:?}"),
            }
        }
    }

    /// The next publication, skipping join/leave.
    pub async fn publication(&mut self) -> Publication {
        loop {
            match self.push().await {
                Push::Publication(p) => return p,
                Push::Join(_) | Push::Leave(_) => continue,
                other => panic!("expected a publication, got {other:?}"),
            }
        }
    }

    /// Reads until the server closes; returns the close code, reason and the
    /// `disconnect` push that preceded it, if any. Does not answer pings.
    pub async fn closed(&mut self) -> Closed {
        let mut pushed = None;
        loop {
            match self.next().await {
                Ok(ServerFrame::Push(Push::Disconnect(d))) => pushed = Some(d),
                Ok(_) => continue,
                Err(mut c) => {
                    c.pushed = pushed;
                    return c;
                }
            }
        }
    }

    pub async fn close(mut self) {
        let _ = self
            .ws
            .close(Some(tokio_tungstenite::tungstenite::protocol::CloseFrame {
                code: WsCloseCode::Normal,
                reason: "".into(),
            }))
            .await;
    }
}

// ---------------------------------------------------------------------------
// Helpers for the limits, errors and auth suites (appended; the harness above
// is unchanged).
// ---------------------------------------------------------------------------

/// A `subscribe` command for `channel`.
pub fn subscribe_req(channel: &str) -> Request {
    Request::Subscribe(chorus_protocol::message::SubscribeRequest {
        channel: channel.into(),
        ..Default::default()
    })
}

/// A `publish` command.
pub fn publish_req(channel: &str, data: impl Into<chorus_protocol::Payload>) -> Request {
    Request::Publish(chorus_protocol::message::PublishRequest {
        channel: channel.into(),
        data: data.into(),
        idempotency_key: None,
    })
}

/// A client-initiated `ping` command.
pub fn ping_req() -> Request {
    Request::Ping(chorus_protocol::message::Empty {})
}

/// Asserts that a reply is an error with `code`; returns the error.
#[track_caller]
pub fn expect_error(reply: Result<ReplyBody, Error>, code: chorus_protocol::ErrorCode) -> Error {
    match reply {
        Err(e) if e.code == code => e,
        other => panic!("expected error {code:?}, got {other:?}"),
    }
}

/// Asserts that a reply is a success; returns the body.
#[track_caller]
pub fn expect_ok(reply: Result<ReplyBody, Error>) -> ReplyBody {
    match reply {
        Ok(body) => body,
        Err(e) => panic!("expected success, got {e:?}"),
    }
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Claims of `user` whose `exp` is `secs` seconds from now (negative: in the past).
pub fn claims_expiring(user: &str, secs: i64) -> Claims {
    Claims {
        sub: user.into(),
        exp: Some(unix_now().saturating_add_signed(secs)),
        ..Default::default()
    }
}

/// Polls `cond` every 20 ms for at most [`WAIT`]; panics naming `what` on timeout.
/// Only for state the server exposes no event for (counters).
pub async fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Proves the server still serves others: a fresh subscriber (JSON) and a fresh
/// publisher (MessagePack) on `channel`, one publication delivered end to end.
/// Both users need to be allowed to subscribe and publish there.
pub async fn assert_round_trip(server: &TestServer, channel: &str) {
    let marker = format!("\"probe {}\"", server.node.next_client_id());
    let mut sub = server.user(Codec::Json, "probe-sub").await;
    let mut publisher = server.user(Codec::MessagePack, "probe-pub").await;
    expect_ok(sub.request(subscribe_req(channel)).await);
    expect_ok(publisher.request(subscribe_req(channel)).await);
    expect_ok(
        publisher
            .request(publish_req(channel, marker.clone()))
            .await,
    );
    let p = sub.publication().await;
    assert_eq!(p.channel, channel);
    assert_eq!(p.data, chorus_protocol::Payload::from(marker));
    sub.close().await;
    publisher.close().await;
}

/// Asserts that a connection closed with `code`, preceded by a `disconnect` push
/// with the same code and the reconnect flag the code's range implies.
#[track_caller]
pub fn assert_closed_with(closed: &Closed, code: chorus_protocol::CloseCode) {
    assert_eq!(closed.code, code.0, "close code: {closed:?}");
    let pushed = closed
        .pushed
        .as_ref()
        .unwrap_or_else(|| panic!("no disconnect push before the close: {closed:?}"));
    assert_eq!(pushed.code, code, "disconnect push: {closed:?}");
    assert_eq!(
        pushed.reconnect,
        code.should_reconnect(),
        "reconnect flag: {closed:?}"
    );
}

/// A WebSocket upgrade with an optional `Sec-WebSocket-Protocol` and `Origin`.
/// `Ok` carries the subprotocol the server selected; `Err` the HTTP status and
/// body of a refused upgrade.
pub async fn try_upgrade(
    url: &str,
    protocol: Option<&str>,
    origin: Option<&str>,
) -> Result<Option<String>, (u16, String)> {
    let mut req = url.into_client_request().unwrap();
    if let Some(p) = protocol {
        req.headers_mut()
            .insert("Sec-WebSocket-Protocol", HeaderValue::from_str(p).unwrap());
    }
    if let Some(o) = origin {
        req.headers_mut()
            .insert("Origin", HeaderValue::from_str(o).unwrap());
    }
    let result = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(req))
        .await
        .expect("upgrade answered in time");
    match result {
        Ok((mut ws, resp)) => {
            let selected = resp
                .headers()
                .get("sec-websocket-protocol")
                .map(|v| v.to_str().unwrap().to_owned());
            let _ = ws.close(None).await;
            Ok(selected)
        }
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
            let body = resp
                .body()
                .as_ref()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default();
            Err((resp.status().as_u16(), body))
        }
        Err(other) => panic!("upgrade failed without an HTTP answer: {other}"),
    }
}

/// A minimal HTTP/1.1 GET over a fresh TCP connection: the status and body.
/// `Err` when the connection is refused or reset before an answer.
pub async fn http_get(addr: SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let fut = async {
        let mut stream = TcpStream::connect(addr).await?;
        let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        stream.write_all(req.as_bytes()).await?;
        let mut buf = Vec::new();
        stream.read_to_end(&mut buf).await?;
        Ok::<_, std::io::Error>(buf)
    };
    let buf = tokio::time::timeout(WAIT, fut)
        .await
        .expect("HTTP answer in time")?;
    parse_http_response(&buf)
}

/// Status and body of a raw HTTP/1.1 response (no chunked encoding expected).
pub fn parse_http_response(buf: &[u8]) -> std::io::Result<(u16, String)> {
    let text = String::from_utf8_lossy(buf);
    let bad = || std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{text:?}"));
    let (head, body) = text.split_once("\r\n\r\n").ok_or_else(bad)?;
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(bad)?;
    Ok((status, body.to_owned()))
}

impl Client {
    /// A WebSocket message carrying `bytes` in the frame type of this client's codec.
    pub fn data_message(&self, bytes: Vec<u8>) -> Message {
        if self.codec.is_binary() {
            Message::Binary(bytes.into())
        } else {
            Message::Text(String::from_utf8(bytes).expect("utf-8").into())
        }
    }

    /// A text WebSocket message with arbitrary (possibly invalid UTF-8) bytes,
    /// sent as a raw frame so the client library does not validate it.
    pub async fn send_text_bytes(&mut self, bytes: Vec<u8>) {
        use tokio_tungstenite::tungstenite::protocol::frame::Frame;
        use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
        let frame = Frame::message(bytes, OpCode::Data(Data::Text), true);
        self.send_raw(Message::Frame(frame)).await;
    }
}

/// A connection that watches the server survive bad input elsewhere: subscribed
/// to a channel before the test's bad input, checked with a publication from a
/// fresh connection afterwards.
pub struct Bystander {
    client: Client,
    channel: String,
}

impl Bystander {
    /// A `bystander` user (JSON) subscribed to `channel`.
    pub async fn new(server: &TestServer, channel: &str) -> Bystander {
        let mut client = server.user(Codec::Json, "bystander").await;
        expect_ok(client.request(subscribe_req(channel)).await);
        Bystander {
            client,
            channel: channel.to_owned(),
        }
    }

    /// A fresh MessagePack connection subscribes and publishes to the channel;
    /// the bystander receives that publication.
    pub async fn check(&mut self, server: &TestServer) {
        let marker = format!("\"probe {}\"", server.node.next_client_id());
        let mut publisher = server.user(Codec::MessagePack, "probe-pub").await;
        expect_ok(publisher.request(subscribe_req(&self.channel)).await);
        expect_ok(
            publisher
                .request(publish_req(&self.channel, marker.clone()))
                .await,
        );
        let p = self.client.publication().await;
        assert_eq!(p.channel, self.channel);
        assert_eq!(p.data, chorus_protocol::Payload::from(marker));
        publisher.close().await;
    }
}

impl Client {
    /// Like [`Client::open`], with Nagle's algorithm off on the client side, for
    /// tests that pipeline many frames and must not wait on delayed ACKs.
    pub async fn open_nodelay(url: &str, codec: Codec) -> Client {
        let mut req = url.into_client_request().unwrap();
        req.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            HeaderValue::from_static(codec.subprotocol()),
        );
        let (ws, _) = tokio::time::timeout(
            WAIT,
            tokio_tungstenite::connect_async_with_config(req, None, true),
        )
        .await
        .expect("upgrade in time")
        .expect("upgrade succeeds");
        Client {
            ws,
            codec,
            next_id: 1,
            pushes: VecDeque::new(),
        }
    }
}

impl TestServer {
    /// A connected client of `user` without Nagle's algorithm on the client side.
    pub async fn user_nodelay(&self, codec: Codec, user: &str) -> Client {
        let mut c = Client::open_nodelay(&self.url(), codec).await;
        c.connect(Some(token(user)))
            .await
            .expect("connect succeeds");
        c
    }
}

impl TestServer {
    /// Like [`TestServer::start`], with embedder hooks.
    pub async fn start_with_hooks(config: Config, hooks: impl chorus_server::Hooks) -> TestServer {
        TestServer::from_builder(ServerBuilder::new(config).hooks(hooks)).await
    }

    /// Binds and runs a configured builder.
    pub async fn from_builder(builder: ServerBuilder) -> TestServer {
        let server = builder.bind().await.expect("server starts");
        let addr = server.local_addr();
        let node = server.node();
        let (stop, stopped) = oneshot::channel::<()>();
        let done = tokio::spawn(server.run_until(async {
            let _ = stopped.await;
        }));
        TestServer {
            addr,
            node,
            stop: Some(stop),
            done,
        }
    }
}

impl Client {
    /// Reads until the transport ends. The server drops a connection only
    /// after unregistering it, so once this returns the node no longer counts
    /// it. Polling also sends tungstenite's pending reply to a close frame.
    pub async fn wait_eof(&mut self) {
        loop {
            match tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("the connection ends in time")
            {
                None | Some(Err(_)) => return,
                Some(Ok(_)) => continue,
            }
        }
    }

    /// [`Client::closed`], then [`Client::wait_eof`]: the server has finished
    /// with the connection when this returns.
    pub async fn closed_fully(&mut self) -> Closed {
        let closed = self.closed().await;
        self.wait_eof().await;
        closed
    }

    /// Closes with 1000 and waits until the server has finished with the
    /// connection.
    pub async fn close_fully(mut self) {
        let _ = self
            .ws
            .close(Some(tokio_tungstenite::tungstenite::protocol::CloseFrame {
                code: WsCloseCode::Normal,
                reason: "".into(),
            }))
            .await;
        self.wait_eof().await;
    }
}

/// The connection still answers commands (a ping round trip).
pub async fn assert_usable(client: &mut Client) {
    assert_eq!(
        client.request(ping_req()).await,
        Ok(ReplyBody::Ping(chorus_protocol::message::Empty {}))
    );
}

/// A minimal HTTP/1.1 request; returns the status and body.
pub async fn http(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    key: Option<&str>,
    body: &str,
) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let auth = key
        .map(|k| format!("Authorization: apikey {k}\r\n"))
        .unwrap_or_default();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut resp = String::new();
    tokio::time::timeout(WAIT, stream.read_to_string(&mut resp))
        .await
        .unwrap()
        .unwrap();
    let status = resp
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = resp
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// A node as a separate `chorus` process, so that a test can signal or
/// SIGKILL it. Its configuration file lives in a temp dir with its log.
pub struct NodeProcess {
    child: std::process::Child,
    pub addr: SocketAddr,
    pub config_path: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl NodeProcess {
    /// Starts `chorus --config` with `toml` (everything but `listen`) on a free
    /// port and waits until `/readyz` answers 200.
    pub async fn start(toml: &str) -> NodeProcess {
        Self::start_with(toml, &[], &[], None).await
    }

    /// Like [`NodeProcess::start`], with more arguments and environment, and
    /// the user state directory (`XDG_STATE_HOME`, where a development node
    /// keeps its keys) at `state` instead of one of its own.
    pub async fn start_with(
        toml: &str,
        args: &[&str],
        env: &[(&str, &str)],
        state: Option<&std::path::Path>,
    ) -> NodeProcess {
        let dir = tempfile::tempdir().unwrap();
        let state = state.map_or_else(|| dir.path().join("state"), |p| p.to_owned());
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let config_path = dir.path().join("chorus.toml");
        std::fs::write(&config_path, format!("listen = \"{addr}\"\n{toml}")).unwrap();
        let log = std::fs::File::create(dir.path().join("node.log")).unwrap();
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_chorus"))
            .arg("--config")
            .arg(&config_path)
            .args(args)
            .env_remove("CHORUS_LOG")
            .env_remove("CHORUS_AUTH__HMAC_SECRET")
            .env("XDG_STATE_HOME", &state)
            .envs(env.iter().copied())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let node = NodeProcess {
            child,
            addr,
            config_path,
            _dir: dir,
        };
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Ok((200, _)) = http_get(addr, "/readyz").await {
                return node;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "node process did not become ready"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    /// A connected MessagePack client of `user`.
    pub async fn user(&self, user: &str) -> Client {
        let mut c = Client::open(&self.url(), Codec::MessagePack).await;
        c.connect(Some(token(user)))
            .await
            .expect("connect succeeds");
        c
    }

    /// What the node logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("node.log")).unwrap_or_default()
    }

    /// Sends a signal by name (`HUP`, `TERM`) with the `kill` command.
    pub fn signal(&self, name: &str) {
        let status = std::process::Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success(), "kill -{name} failed");
    }

    /// SIGKILL, and waits for the exit.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
