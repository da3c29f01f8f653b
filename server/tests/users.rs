//! Token revocation and configuration hot reload, on one node and across two
//! nodes over a real `nats-server`.

mod common;

use std::sync::{Arc, Mutex};

use chorus_protocol::message::{ChannelRequest, RefreshRequest};
use chorus_protocol::{CloseCode, Codec, ErrorCode, Payload, Request};
use chorus_server::config::NamespaceConfig;
use chorus_server::{Config, ServerBuilder};
use chorus_testkit::NatsServer;
use common::*;

const KEY: &str = "api-key-for-users-tests-0123456";

fn with_api(mut c: Config) -> Config {
    c.api_key = Some(KEY.into());
    c
}

fn token_of(user: &str, jti: &str, iat: u64) -> String {
    let mut c = claims(user);
    c.jti = Some(jti.into());
    c.iat = Some(iat);
    token_with(&c)
}

async fn connect_with(server_url: &str, token: String) -> Client {
    let mut c = Client::open(server_url, Codec::Json).await;
    c.connect(Some(token)).await.expect("connect succeeds");
    c
}

async fn assert_refused_as_revoked(server_url: &str, token: String) {
    let mut c = Client::open(server_url, Codec::MessagePack).await;
    let e = expect_error(c.connect(Some(token)).await, ErrorCode::UNAUTHORIZED);
    assert!(e.message.contains("revoked"), "{e:?}");
    assert_closed_with(&c.closed().await, CloseCode::TOKEN_REVOKED);
}

async fn revoke(addr: std::net::SocketAddr, body: &str) {
    let (status, reply) = http(addr, "POST", "/api/revoke", Some(KEY), body).await;
    assert_eq!(status, 200, "{reply}");
}

#[tokio::test]
async fn revoked_tokens_close_connections_and_are_refused() {
    let server = TestServer::start(with_api(config())).await;
    let now = unix_now();
    let first = token_of("alice", "jti-1", now - 10);
    let second = token_of("alice", "jti-2", now - 10);
    let mut one = connect_with(&server.url(), first.clone()).await;
    let mut two = connect_with(&server.url(), second.clone()).await;

    revoke(server.addr, r#"{"jti":"jti-1"}"#).await;
    assert_closed_with(&one.closed().await, CloseCode::TOKEN_REVOKED);
    assert_refused_as_revoked(&server.url(), first).await;
    assert_usable(&mut two).await;

    // Every token of alice issued before now: the second goes too, a new one works.
    revoke(server.addr, r#"{"user":"alice"}"#).await;
    assert_closed_with(&two.closed().await, CloseCode::TOKEN_REVOKED);
    assert_refused_as_revoked(&server.url(), second).await;
    let mut fresh = connect_with(&server.url(), token_of("alice", "jti-3", now + 5)).await;
    assert_usable(&mut fresh).await;

    // Refreshing to a revoked token is refused the same way.
    let reply = fresh
        .request(Request::Refresh(RefreshRequest {
            token: token_of("alice", "jti-1", now + 5),
        }))
        .await;
    expect_error(reply, ErrorCode::UNAUTHORIZED);
    assert_closed_with(&fresh.closed().await, CloseCode::TOKEN_REVOKED);

    let (status, body) = http(server.addr, "POST", "/api/revoke", Some(KEY), r#"{}"#).await;
    assert_eq!(status, 400, "{body}");
}

#[tokio::test]
async fn a_revocation_reaches_connections_on_other_nodes() {
    let nats = NatsServer::start().await;
    let node = |url: String| {
        let mut c = with_api(config());
        c.nats = vec![url];
        c
    };
    let a = TestServer::start(node(nats.url())).await;
    let b = TestServer::start(node(nats.url())).await;
    let token = token_of("bob", "stolen", unix_now() - 10);
    let mut on_b = connect_with(&b.url(), token.clone()).await;
    let mut other = b.user(Codec::Json, "carol").await;
    revoke(a.addr, r#"{"jti":"stolen"}"#).await;
    assert_closed_with(&on_b.closed().await, CloseCode::TOKEN_REVOKED);
    assert_refused_as_revoked(&a.url(), token.clone()).await;
    assert_refused_as_revoked(&b.url(), token).await;
    assert_usable(&mut other).await;
}

/// A node whose reload source is a configuration the test can change.
async fn reloadable(config: Config) -> (TestServer, Arc<Mutex<Config>>) {
    let source = Arc::new(Mutex::new(config.clone()));
    let shared = source.clone();
    let builder =
        ServerBuilder::new(config).reload_source(move || Ok(shared.lock().unwrap().clone()));
    (TestServer::from_builder(builder).await, source)
}

#[tokio::test]
async fn hot_reload_changes_limits_and_namespaces_under_live_connections() {
    let mut config = with_api(config());
    config.limits.max_message_size = 1_000;
    let (server, source) = reloadable(config).await;
    let mut alice = server.user(Codec::Json, "alice").await;
    expect_ok(alice.request(subscribe_req("chat:big")).await);
    let big = Payload::json(&"x".repeat(1_500)).unwrap();
    // Under the old limit, a frame this large ends the connection (4503).
    let mut victim = server.user(Codec::Json, "victim").await;
    victim.send(publish_req("chat:big", big.clone())).await;
    assert_eq!(victim.closed().await.code, CloseCode::MESSAGE_TOO_LARGE.0);
    expect_error(
        alice.request(subscribe_req("extra:x")).await,
        ErrorCode::UNKNOWN_CHANNEL,
    );

    {
        let mut c = source.lock().unwrap();
        c.limits.max_message_size = 4_096;
        c.namespaces
            .insert("extra".into(), NamespaceConfig::default());
    }
    let (status, body) = http(server.addr, "POST", "/api/reload", Some(KEY), "").await;
    assert_eq!(status, 200, "{body}");
    // The same connection, new limits and namespaces.
    expect_ok(alice.request(publish_req("chat:big", big.clone())).await);
    assert_eq!(alice.publication().await.data, big);
    expect_ok(alice.request(subscribe_req("extra:x")).await);

    // An invalid or fixed change is refused, naming the option; the old
    // configuration stays in force.
    source.lock().unwrap().listen = "127.0.0.1:1".parse().unwrap();
    let (status, body) = http(server.addr, "POST", "/api/reload", Some(KEY), "").await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("listen"), "{body}");
    {
        let mut c = source.lock().unwrap();
        c.listen = server.node.config().listen;
        c.limits.outbound_queue = 0;
    }
    let (status, body) = http(server.addr, "POST", "/api/reload", Some(KEY), "").await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("limits.outbound_queue"), "{body}");
    assert_eq!(server.node.config().limits.max_message_size, 4_096);
    expect_ok(
        alice
            .request(Request::Unsubscribe(ChannelRequest {
                channel: "extra:x".into(),
            }))
            .await,
    );
    assert_usable(&mut alice).await;
}

#[tokio::test]
async fn sighup_reloads_the_configuration_file() {
    let base = format!("[auth]\nhmac_secret = \"{SECRET}\"\n[namespaces.chat]\n");
    let node = NodeProcess::start(&base).await;
    let mut alice = node.user("alice").await;
    expect_error(
        alice.request(subscribe_req("extra:x")).await,
        ErrorCode::UNKNOWN_CHANNEL,
    );
    let text = std::fs::read_to_string(&node.config_path).unwrap();
    std::fs::write(&node.config_path, format!("{text}[namespaces.extra]\n")).unwrap();
    node.signal("HUP");
    // The reload is asynchronous to the signal: ask until the namespace exists.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        match alice.request(subscribe_req("extra:x")).await {
            Ok(_) => break,
            Err(e) => assert_eq!(e.code, ErrorCode::UNKNOWN_CHANNEL, "{e:?}"),
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "SIGHUP did not reload"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // A broken file is refused; the node keeps serving with what it had.
    std::fs::write(&node.config_path, "listen = 42\n").unwrap();
    node.signal("HUP");
    assert_usable(&mut alice).await;
    expect_ok(alice.request(subscribe_req("chat:still")).await);
}
