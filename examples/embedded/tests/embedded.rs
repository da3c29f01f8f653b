//! The example's server, started in-process, driven by a raw WebSocket client:
//! hooks, rpc and the server-side clock, as a browser would see them.

use std::collections::VecDeque;
use std::time::Duration;

use chorus_example_embedded::{CLOCK_CHANNEL, hooks, spawn_clock, start};
use chorus_protocol::message::*;
use chorus_protocol::{
    ClientFrame, Codec, Command, ErrorCode, Payload, Push, Reply, ReplyBody, Request, ServerFrame,
};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Generous: shared CI machines, debug builds.
const WAIT: Duration = Duration::from_secs(20);

/// A minimal raw protocol client (JSON codec), after the server's test harness.
struct Client {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    next_id: u64,
    pushes: VecDeque<Push>,
}

impl Client {
    async fn open(url: &str) -> Client {
        let mut req = url.into_client_request().unwrap();
        req.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            HeaderValue::from_static(Codec::Json.subprotocol()),
        );
        let (ws, _) = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(req))
            .await
            .expect("upgrade in time")
            .expect("upgrade succeeds");
        Client {
            ws,
            next_id: 1,
            pushes: VecDeque::new(),
        }
    }

    async fn send_frame(&mut self, frame: &ClientFrame) {
        let bytes = Codec::Json.encode_client(frame).unwrap();
        let text = String::from_utf8(bytes).unwrap();
        self.ws
            .send(Message::Text(text.into()))
            .await
            .expect("send");
    }

    async fn next(&mut self) -> ServerFrame {
        loop {
            let msg = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("a frame in time");
            match msg {
                Some(Ok(Message::Text(t))) => {
                    return Codec::Json.decode_server(t.as_bytes()).expect("decodes");
                }
                Some(Ok(Message::Close(frame))) => panic!("closed: {frame:?}"),
                Some(Ok(_)) => continue,
                other => panic!("connection lost: {other:?}"),
            }
        }
    }

    /// Sends a command and waits for its reply, keeping pushes for later.
    async fn request(&mut self, request: Request) -> Result<ReplyBody, Error> {
        let id = self.next_id;
        self.next_id += 1;
        self.send_frame(&ClientFrame::Command(Command { id, request }))
            .await;
        loop {
            match self.next().await {
                ServerFrame::Reply(Reply { id: got, result }) if got == id => return result,
                ServerFrame::Reply(other) => panic!("unexpected reply {other:?}"),
                ServerFrame::Push(Push::Ping(_)) => self.send_frame(&ClientFrame::Pong).await,
                ServerFrame::Push(p) => self.pushes.push_back(p),
            }
        }
    }

    /// The next publication in `channel`, skipping other pushes.
    async fn publication(&mut self, channel: &str) -> Publication {
        loop {
            let push = match self.pushes.pop_front() {
                Some(p) => p,
                None => match self.next().await {
                    ServerFrame::Push(Push::Ping(_)) => {
                        self.send_frame(&ClientFrame::Pong).await;
                        continue;
                    }
                    ServerFrame::Push(p) => p,
                    ServerFrame::Reply(r) => panic!("unexpected reply {r:?}"),
                },
            };
            if let Push::Publication(p) = push
                && p.channel == channel
            {
                return p;
            }
        }
    }

    async fn subscribe(&mut self, channel: &str) {
        let reply = self
            .request(Request::Subscribe(SubscribeRequest {
                channel: channel.into(),
                ..Default::default()
            }))
            .await;
        assert!(matches!(reply, Ok(ReplyBody::Subscribe(_))), "{reply:?}");
    }

    async fn publish(&mut self, channel: &str, data: &'static str) -> Result<ReplyBody, Error> {
        self.request(Request::Publish(PublishRequest {
            channel: channel.into(),
            data: Payload::from(data),
            idempotency_key: None,
        }))
        .await
    }

    async fn rpc(&mut self, method: &str, data: &'static str) -> Result<Payload, Error> {
        let reply = self
            .request(Request::Rpc(RpcRequest {
                method: method.into(),
                data: Payload::from(data),
            }))
            .await?;
        match reply {
            ReplyBody::Rpc(r) => Ok(r.data),
            other => panic!("expected an rpc reply, got {other:?}"),
        }
    }
}

fn json(payload: &Payload) -> serde_json::Value {
    payload.parse_json().expect("JSON payload")
}

#[tokio::test]
async fn embedded_server_applies_its_hooks_and_publishes_ticks() {
    let server = start("127.0.0.1:0".parse().unwrap())
        .await
        .expect("server starts");
    let url = format!("ws://{}/ws", server.local_addr());
    let clock = spawn_clock(server.handle());
    let (stop, stopped) = oneshot::channel::<()>();
    let done = tokio::spawn(server.run_until(async {
        let _ = stopped.await;
    }));

    let mut client = Client::open(&url).await;
    let reply = client
        .request(Request::Connect(ConnectRequest::default()))
        .await;
    assert!(matches!(reply, Ok(ReplyBody::Connect(_))), "{reply:?}");

    // The server's clock task reaches subscribers.
    client.subscribe(CLOCK_CHANNEL).await;
    let tick = client.publication(CLOCK_CHANNEL).await;
    assert!(tick.info.is_none(), "published by the server, not a client");
    assert!(json(&tick.data)["tick"].is_u64(), "{:?}", tick.data);

    // on_publish refuses banned words with the application code.
    client.subscribe("demo:room").await;
    let refused = client
        .publish("demo:room", r#"{"text":"buy SPAM now"}"#)
        .await;
    let e = refused.expect_err("banned word is refused");
    assert_eq!(e.code, hooks::MESSAGE_REFUSED);
    assert_eq!(e.code, ErrorCode(1001));
    assert_eq!(e.message, "message refused");

    // Other messages pass unchanged, carrying the info on_connect attached.
    let reply = client.publish("demo:room", r#"{"text":"hello"}"#).await;
    assert!(matches!(reply, Ok(ReplyBody::Publish(_))), "{reply:?}");
    let p = client.publication("demo:room").await;
    assert_eq!(p.data, Payload::from(r#"{"text":"hello"}"#));
    let info = p.info.expect("a client publication has info");
    assert_eq!(info.user, "", "anonymous");
    assert_eq!(
        json(&info.info.expect("on_connect attached info")),
        serde_json::json!({ "name": "guest" })
    );

    // rpc: echo, time, and an unknown method.
    let echoed = client.rpc("echo", r#"{"a":[1,2,3]}"#).await.unwrap();
    assert_eq!(echoed, Payload::from(r#"{"a":[1,2,3]}"#));
    let before = hooks::unix_time_ms();
    let time = json(&client.rpc("time", "null").await.unwrap());
    let time = time.as_u64().expect("time is a number");
    assert!(time + 60_000 > before && time < before + 60_000, "{time}");
    let e = client
        .rpc("nope", "null")
        .await
        .expect_err("unknown method");
    assert_eq!(e.code, hooks::UNKNOWN_METHOD);
    assert_eq!(e.code, ErrorCode(1002));

    clock.abort();
    let _ = stop.send(());
    tokio::time::timeout(WAIT, done)
        .await
        .expect("graceful shutdown in time")
        .unwrap();
}
