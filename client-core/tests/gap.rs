//! The client's gap repair end to end: a real node, a real client, and
//! between them a WebSocket relay that drops one live publication, as a fault
//! between server and client would. The client sees the hole in the offsets,
//! reads the missing publication from history and delivers everything once,
//! in order, with a `Gap` event that says it recovered.

use std::net::SocketAddr;
use std::time::Duration;

use chorus_client::{Client, Codec, Payload, Recovery, SubEvent};
use chorus_protocol::message::PublishRequest;
use chorus_protocol::{Push, ServerFrame};
use chorus_server::auth::{Claims, mint};
use chorus_server::config::NamespaceConfig;
use chorus_server::{Config, ServerBuilder};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::http::HeaderValue;

const WAIT: Duration = Duration::from_secs(30);
const SECRET: &str = "client-test-secret-of-at-least-32-bytes";

fn token(user: &str) -> String {
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    let claims = Claims {
        sub: user.into(),
        exp: Some(exp),
        ..Default::default()
    };
    mint::hs256(SECRET, &claims).unwrap()
}

async fn server() -> (SocketAddr, chorus_server::Handle) {
    let mut config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..Default::default()
    };
    config.auth.hmac_secret = Some(SECRET.into());
    config.namespaces.insert(
        "chat".into(),
        NamespaceConfig {
            history_size: 100,
            ..Default::default()
        },
    );
    let server = ServerBuilder::new(config).bind().await.unwrap();
    let addr = server.local_addr();
    let handle = server.handle();
    tokio::spawn(server.run_until(std::future::pending()));
    (addr, handle)
}

/// A WebSocket relay to `upstream` that drops the server's live publication
/// at offset `drop` (JSON frames), and nothing else.
async fn dropping_relay(upstream: SocketAddr, drop: u64) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut protocol = None;
                // The callback's error type is tungstenite's HTTP response.
                #[allow(clippy::result_large_err)]
                let accept = |req: &Request, mut resp: Response| {
                    protocol = req.headers().get("Sec-WebSocket-Protocol").cloned();
                    if let Some(p) = &protocol {
                        resp.headers_mut()
                            .insert("Sec-WebSocket-Protocol", p.clone());
                    }
                    Ok(resp)
                };
                let Ok(down) = tokio_tungstenite::accept_hdr_async(tcp, accept).await else {
                    return;
                };
                let mut request = format!("ws://{upstream}/ws").into_client_request().unwrap();
                let offered = protocol.unwrap_or(HeaderValue::from_static("chorus.v1.json"));
                request
                    .headers_mut()
                    .insert("Sec-WebSocket-Protocol", offered);
                let Ok((up, _)) = tokio_tungstenite::connect_async(request).await else {
                    return;
                };
                let (mut down_tx, mut down_rx) = down.split();
                let (mut up_tx, mut up_rx) = up.split();
                let to_server = async {
                    while let Some(Ok(m)) = down_rx.next().await {
                        if up_tx.send(m).await.is_err() {
                            break;
                        }
                    }
                };
                let to_client = async {
                    while let Some(Ok(m)) = up_rx.next().await {
                        if let Message::Text(text) = &m {
                            let frame = Codec::Json.decode_server(text.as_bytes());
                            if let Ok(ServerFrame::Push(Push::Publication(p))) = frame {
                                if p.offset == Some(drop) {
                                    continue;
                                }
                            }
                        }
                        if down_tx.send(m).await.is_err() {
                            break;
                        }
                    }
                };
                tokio::select! {
                    () = to_server => {}
                    () = to_client => {}
                }
            });
        }
    });
    addr
}

#[tokio::test]
async fn a_publication_lost_on_the_way_is_read_from_history_and_reported() {
    let (addr, handle) = server().await;
    let relay = dropping_relay(addr, 3).await;
    let client = Client::builder(format!("ws://{relay}/ws"))
        .token(token("alice"))
        .codec(Codec::Json)
        .build();
    client.connect().await.unwrap();
    let mut sub = client.subscribe("chat:gap").await.unwrap();
    for n in 1..=5 {
        let req = PublishRequest {
            channel: "chat:gap".into(),
            data: Payload::from(n.to_string()),
            idempotency_key: None,
        };
        handle.publish(req).await.unwrap();
    }
    let mut offsets = Vec::new();
    let mut gaps = Vec::new();
    while offsets.len() < 5 {
        let event = tokio::time::timeout(WAIT, sub.next())
            .await
            .expect("event in time")
            .expect("subscription open");
        match event {
            SubEvent::Publication(p) => {
                assert_eq!(p.data, Payload::from(p.offset.unwrap().to_string()));
                offsets.push(p.offset.unwrap());
            }
            SubEvent::Gap { missed, recovered } => gaps.push((missed, recovered, offsets.len())),
            SubEvent::Subscribed(Recovery::Fresh) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(offsets, [1, 2, 3, 4, 5], "once each, in order");
    assert_eq!(
        gaps,
        [(3..=3, true, 3)],
        "reported after 3 was delivered, before 4"
    );
}
