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

/// The value of an unlabelled series in a /metrics body.
fn metric(body: &str, name: &str) -> Option<f64> {
    body.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test]
async fn every_frame_is_counted_in_exactly_one_write() {
    let server = TestServer::start(config()).await;
    let mut alice = server.user(Codec::Json, "alice").await;
    let mut bob = server.user(Codec::MessagePack, "bob").await;
    for c in [&mut alice, &mut bob] {
        expect_ok(c.request(subscribe_req("chat:burst")).await);
    }
    // Sent without waiting for replies, so deliveries queue up behind each other.
    let mut ids = Vec::new();
    for n in 0..100 {
        ids.push(bob.send(publish_req("chat:burst", n.to_string())).await);
    }
    for _ in 0..100 {
        alice.publication().await;
    }
    let mut replies = 0;
    while replies < ids.len() {
        if let chorus_protocol::ServerFrame::Reply(_) = bob.next().await.expect("bob stays") {
            replies += 1;
        }
    }
    // The counters move after each write's flush: poll until the last one is in.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    let body = loop {
        let (status, body) = http(server.addr, "GET", "/metrics", None, "").await;
        assert_eq!(status, 200);
        let frames = metric(&body, "chorus_messages_out_total").unwrap_or(0.0);
        let in_writes = metric(&body, "chorus_frames_per_write_sum").unwrap_or(-1.0);
        // 2 connects, 2 subscribes, 100 publish replies, 200 publications.
        if frames >= 304.0 && frames == in_writes {
            break body;
        }
        assert!(tokio::time::Instant::now() < deadline, "{body}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    let frames = metric(&body, "chorus_messages_out_total").unwrap_or(0.0);
    let writes = metric(&body, "chorus_frames_per_write_count").unwrap_or(0.0);
    assert!((1.0..=frames).contains(&writes), "{body}");
    let timed = metric(&body, "chorus_publish_to_write_seconds_count").unwrap_or(0.0);
    assert!((1.0..=200.0).contains(&timed), "{body}");
}

#[tokio::test]
async fn a_write_delay_holds_queued_frames_and_writes_them_together() {
    const DELAY_MS: u64 = 1_000;
    let mut c = config();
    c.limits.write_delay_ms = DELAY_MS;
    let server = TestServer::start(c).await;
    let mut alice = server.user(Codec::Json, "alice").await;
    let mut bob = server.user(Codec::MessagePack, "bob").await;
    // Replies are not queued: the delay does not hold them.
    for c in [&mut alice, &mut bob] {
        expect_ok(c.request(subscribe_req("chat:held")).await);
    }
    let sent = std::time::Instant::now();
    expect_ok(bob.request(publish_req("chat:held", "1")).await);
    expect_ok(bob.request(publish_req("chat:held", "2")).await);
    for c in [&mut alice, &mut bob] {
        let first = c.publication().await;
        // Each waited for the whole delay after it was queued.
        assert!(sent.elapsed() >= std::time::Duration::from_millis(DELAY_MS));
        let second = c.publication().await;
        assert_eq!(
            (first.data.as_bytes(), second.data.as_bytes()),
            (&b"1"[..], &b"2"[..])
        );
    }
    // Each connection wrote both in one write: the only writes of more than one
    // frame. The counters move after the flush: poll until both are in.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let (status, body) = http(server.addr, "GET", "/metrics", None, "").await;
        assert_eq!(status, 200);
        let writes = metric(&body, "chorus_frames_per_write_count").unwrap_or(0.0);
        let single = body
            .lines()
            .find_map(|l| l.strip_prefix("chorus_frames_per_write_bucket{le=\"1.0\"} "))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(-1.0);
        assert!(writes - single <= 2.0, "{body}");
        if writes - single == 2.0 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{body}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
