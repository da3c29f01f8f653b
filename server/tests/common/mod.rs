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
        let server = ServerBuilder::new(config)
            .bind()
            .await
            .expect("server starts");
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

    /// A connected client of `user`.
    pub async fn user(&self, codec: Codec, user: &str) -> Client {
        let mut c = self.client(codec).await;
        c.connect(Some(token(user)))
            .await
            .expect("connect succeeds");
        c
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
