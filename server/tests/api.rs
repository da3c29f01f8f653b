//! The HTTP surface: server API (with its key), health, readiness, metrics.

mod common;

use chorus_protocol::message::SubscribeRequest;
use chorus_protocol::{Codec, Payload, Push, Request};
use common::*;

const KEY: &str = "api-key-for-tests-0123456789";

fn api_config() -> chorus_server::Config {
    let mut c = config();
    c.api_key = Some(KEY.into());
    c
}

#[tokio::test]
async fn api_requires_the_key() {
    let server = TestServer::start(api_config()).await;
    let (status, body) = http(server.addr, "GET", "/api/info", None, "").await;
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("\"code\":101"), "{body}");
    let (status, _) = http(
        server.addr,
        "GET",
        "/api/info",
        Some("wrong-key-wrong-key-wrong"),
        "",
    )
    .await;
    assert_eq!(status, 401);
    let (status, body) = http(server.addr, "GET", "/api/info", Some(KEY), "").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"broker\":\"memory\""), "{body}");
    // Without a configured key the API does not exist.
    let plain = TestServer::start(config()).await;
    let (status, _) = http(plain.addr, "GET", "/api/info", Some(KEY), "").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn api_publish_send_presence_history_and_disconnect() {
    let server = TestServer::start(api_config()).await;
    let mut alice = server.user(Codec::MessagePack, "alice").await;
    alice
        .request(Request::Subscribe(SubscribeRequest {
            channel: "chat:news".into(),
            ..Default::default()
        }))
        .await
        .unwrap();
    let (status, body) = http(
        server.addr,
        "POST",
        "/api/publish",
        Some(KEY),
        r#"{"channel":"chat:news","data":{"headline":"up"}}"#,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"offset\":1"), "{body}");
    let p = alice.publication().await;
    assert_eq!(p.data, Payload::from(r#"{"headline":"up"}"#));
    assert!(p.info.is_none(), "server publications carry no client info");

    let (status, _) = http(
        server.addr,
        "POST",
        "/api/send",
        Some(KEY),
        r#"{"user":"alice","data":"hello"}"#,
    )
    .await;
    assert_eq!(status, 200);
    let Push::Message(m) = alice.push().await else {
        panic!("message")
    };
    assert_eq!(m.data, Payload::from("\"hello\""));

    let (status, body) = http(
        server.addr,
        "POST",
        "/api/presence_stats",
        Some(KEY),
        r#"{"channel":"chat:news"}"#,
    )
    .await;
    assert_eq!((status, body.as_str()), (200, r#"{"clients":1,"users":1}"#));
    let (status, body) = http(
        server.addr,
        "POST",
        "/api/history",
        Some(KEY),
        r#"{"channel":"chat:news","limit":10}"#,
    )
    .await;
    assert_eq!(status, 200);
    assert!(body.contains("headline"), "{body}");
    let (status, body) = http(
        server.addr,
        "POST",
        "/api/publish",
        Some(KEY),
        r#"{"channel":"nope:x","data":1}"#,
    )
    .await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = http(server.addr, "GET", "/api/channels", Some(KEY), "").await;
    assert_eq!(status, 200);
    assert!(
        body.contains(r#"{"channel":"chat:news","members":1}"#),
        "{body}"
    );

    let (status, _) = http(
        server.addr,
        "POST",
        "/api/disconnect",
        Some(KEY),
        r#"{"user":"alice","reason":"bye"}"#,
    )
    .await;
    assert_eq!(status, 200);
    let closed = alice.closed().await;
    assert_eq!(closed.code, 4506);
    assert_eq!(closed.pushed.map(|d| d.reconnect), Some(false));
}

#[tokio::test]
async fn health_readiness_and_metrics() {
    let server = TestServer::start(config()).await;
    assert_eq!(http(server.addr, "GET", "/healthz", None, "").await.0, 200);
    assert_eq!(http(server.addr, "GET", "/readyz", None, "").await.0, 200);
    let mut alice = server.user(Codec::Json, "alice").await;
    alice
        .request(Request::Subscribe(SubscribeRequest {
            channel: "chat:m".into(),
            ..Default::default()
        }))
        .await
        .unwrap();
    let (status, body) = http(server.addr, "GET", "/metrics", None, "").await;
    assert_eq!(status, 200);
    for line in [
        "chorus_connections 1",
        "chorus_subscriptions 1",
        "chorus_channels 1",
        "chorus_messages_in_total 2",
    ] {
        assert!(body.contains(line), "missing {line:?} in\n{body}");
    }
    assert!(
        body.contains("chorus_publish_to_write_seconds_bucket"),
        "{body}"
    );
}
