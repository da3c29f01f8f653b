//! A test harness: an in-process node on a free port (or a `chorus`
//! process), tokens, and a raw protocol client (no SDK, so the server is
//! tested against the wire). The client, the HTTP requests and the WebSocket
//! upgrades are the conformance suite's, as steps that panic on a failure.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chorus_conformance::suite::client::{self, Conn, Upgrade, upgrade_with_origin};
use chorus_conformance::suite::http::{self, HttpError};
use chorus_conformance::suite::{Api, Failure};
use chorus_protocol::message::{ConnectRequest, Error, Publication};
use chorus_protocol::{ClientFrame, Codec, Command, Push, ReplyBody, Request, ServerFrame};
use chorus_server::auth::{Claims, mint};
use chorus_server::config::NamespaceConfig;
use chorus_server::{Config, Handle, Node, ServerBuilder};
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::Message;

/// How a connection ended; options for opening one; the longest wait for
/// anything (generous: two shared cores, debug builds); seconds since the
/// Unix epoch.
pub use chorus_conformance::suite::client::{Closed, ConnOptions, WAIT};
pub use chorus_conformance::suite::tokens::unix_now;

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

    /// The node's handle, as an embedder gets it.
    pub fn handle(&self) -> Handle {
        Handle::new(self.node.clone())
    }

    /// Authenticated connections on the node.
    pub fn connections(&self) -> usize {
        self.handle().stats().connections
    }

    /// Subscribers of `channel` on the node.
    pub fn channel_members(&self, channel: &str) -> usize {
        self.handle()
            .channels()
            .into_iter()
            .find(|c| c.channel == channel)
            .map_or(0, |c| c.members)
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

    /// A client opened with `options` (e.g. one that does not answer pings).
    pub async fn client_with(&self, codec: Codec, options: ConnOptions) -> Client {
        Client::open_with(&self.url(), codec, options).await
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

/// Claims of `user` valid for an hour.
pub fn claims(user: &str) -> Claims {
    claims_expiring(user, 3600)
}

pub fn token(user: &str) -> String {
    mint::hs256(SECRET, &claims(user)).unwrap()
}

pub fn token_with(claims: &Claims) -> String {
    mint::hs256(SECRET, claims).unwrap()
}

/// Steps that must succeed: a [`Failure`] panics with its message.
#[track_caller]
fn must<T>(result: Result<T, Failure>) -> T {
    result.unwrap_or_else(|f| panic!("{f}"))
}

/// A raw protocol client: the conformance suite's [`Conn`] (no SDK, so the
/// server is tested against the wire), with steps that panic on a failure.
/// Its background reader answers server pings once the connect reply asks
/// for pongs (unless opened with `answer_pings: false`); [`Client::next`]
/// still shows them. The [`Conn`] itself is reachable through `Deref`, for
/// what the steps do not cover (`pause_reading`, `expect_reply_to`, `codec`).
pub struct Client {
    conn: Conn,
}

impl Deref for Client {
    type Target = Conn;

    fn deref(&self) -> &Conn {
        &self.conn
    }
}

impl DerefMut for Client {
    fn deref_mut(&mut self) -> &mut Conn {
        &mut self.conn
    }
}

impl Client {
    /// Opens a connection with `codec`'s subprotocol, which the server must echo.
    pub async fn open(url: &str, codec: Codec) -> Client {
        Client::open_with(url, codec, ConnOptions::default()).await
    }

    /// Like [`Client::open`], with options (`answer_pings: false` for a test
    /// that answers pings itself, or never).
    pub async fn open_with(url: &str, codec: Codec, options: ConnOptions) -> Client {
        Client {
            conn: must(Conn::open_with(url, codec, options).await),
        }
    }

    /// Sends one WebSocket message as it is. Once the server's close has
    /// been read the message is dropped, as the server would not read it.
    pub async fn send_raw(&mut self, msg: Message) {
        must(self.conn.send_if_open(msg).await);
    }

    /// A WebSocket message carrying `bytes` in the frame type of this client's codec.
    pub fn data_message(&self, bytes: Vec<u8>) -> Message {
        client::data_message(self.conn.codec, bytes)
    }

    /// A text WebSocket message with arbitrary (possibly invalid UTF-8) bytes,
    /// sent as a raw frame so the client library does not validate it.
    pub async fn send_text_bytes(&mut self, bytes: Vec<u8>) {
        self.send_raw(client::data_message(Codec::Json, bytes))
            .await;
    }

    /// Encodes and sends a frame.
    pub async fn send_frame(&mut self, frame: &ClientFrame) {
        let msg = self.data_message(must(self.conn.encode(frame)));
        self.send_raw(msg).await;
    }

    /// Sends a command; returns its id.
    pub async fn send(&mut self, request: Request) -> u64 {
        let id = self.conn.take_id();
        self.send_frame(&ClientFrame::Command(Command { id, request }))
            .await;
        id
    }

    /// The next frame (server pings included), or the close.
    pub async fn next(&mut self) -> Result<ServerFrame, Closed> {
        must(self.conn.recv().await).map(|received| received.frame)
    }

    /// Waits for the reply to `id` (also of a command sent raw), keeping
    /// pushes for later.
    pub async fn reply(&mut self, id: u64) -> Result<ReplyBody, Error> {
        self.conn.expect_reply_to(id);
        must(self.conn.reply(id).await)
    }

    /// Sends a command and waits for its reply.
    pub async fn request(&mut self, request: Request) -> Result<ReplyBody, Error> {
        let id = self.send(request).await;
        self.reply(id).await
    }

    /// Sends `connect` with `token` and the client name `test`.
    pub async fn connect(&mut self, token: Option<String>) -> Result<ReplyBody, Error> {
        let request = ConnectRequest {
            token,
            name: Some("test".into()),
            ..Default::default()
        };
        must(self.conn.connect_raw(request).await)
            .1
            .map(ReplyBody::Connect)
    }

    /// The next push other than ping (kept ones first).
    pub async fn push(&mut self) -> Push {
        must(self.conn.push().await)
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
    /// last `disconnect` push, if any.
    pub async fn closed(&mut self) -> Closed {
        must(self.conn.closed().await)
    }

    /// Closes with 1000 and waits for the server's answering close.
    pub async fn close(self) {
        self.conn.close().await;
    }

    /// Waits until the transport ends. The server drops a connection only
    /// after unregistering it, so once this returns the node no longer counts
    /// it.
    pub async fn wait_eof(&mut self) {
        must(self.conn.wait_eof().await);
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
    pub async fn close_fully(self) {
        must(self.conn.close_fully().await);
    }
}

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

/// Data no other probe of this test process publishes.
fn probe_marker() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!("\"probe {}\"", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// Proves the server still serves others: a fresh subscriber (JSON) and a fresh
/// publisher (MessagePack) on `channel`, one publication delivered end to end.
/// Both users need to be allowed to subscribe and publish there.
pub async fn assert_round_trip(server: &TestServer, channel: &str) {
    let marker = probe_marker();
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
    match must(upgrade_with_origin(url, protocol, origin).await) {
        Upgrade::Accepted(mut ws, selected) => {
            let _ = ws.close(None).await;
            Ok(selected)
        }
        Upgrade::Refused(status, body) => Err((status, body)),
    }
}

/// The HTTP API of the node at `addr`, for requests with their own
/// `Authorization` or none.
fn api(addr: SocketAddr) -> Api {
    Api {
        url: format!("http://{addr}"),
        key: None,
    }
}

/// A minimal HTTP/1.1 GET over a fresh TCP connection: the status and body.
/// `Err` when the connection is refused or reset before an answer.
pub async fn http_get(addr: SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
    match api(addr).get(path).await {
        Ok(r) => Ok((r.status, r.body)),
        Err(HttpError::Io { source, .. }) => Err(source),
        Err(HttpError::Response { why, .. }) => Err(invalid_data(why)),
        Err(e) => panic!("{e}"),
    }
}

/// Status and body of a raw HTTP/1.1 response.
pub fn parse_http_response(buf: &[u8]) -> std::io::Result<(u16, String)> {
    http::parse_response(buf)
        .map(|r| (r.status, r.body))
        .map_err(invalid_data)
}

fn invalid_data(why: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, why)
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
        let marker = probe_marker();
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

/// The connection still answers commands (a ping round trip).
pub async fn assert_usable(client: &mut Client) {
    assert_eq!(
        client.request(ping_req()).await,
        Ok(ReplyBody::Ping(chorus_protocol::message::Empty {}))
    );
}

/// A minimal HTTP/1.1 request with the API key `key`, if any; returns the
/// status and body.
pub async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    key: Option<&str>,
    body: &str,
) -> (u16, String) {
    let authorization = key.map(|k| format!("apikey {k}"));
    match api(addr)
        .request(method, path, Some(body), authorization.as_deref())
        .await
    {
        Ok(r) => (r.status, r.body),
        Err(e) => panic!("{e}"),
    }
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
        signal(self.child.id(), name);
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

/// Sends a signal by name (`HUP`, `TERM`, `STOP`, `CONT`) to a process with
/// the `kill` command.
pub fn signal(pid: u32, name: &str) {
    let status = std::process::Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill -{name} {pid} failed");
}
