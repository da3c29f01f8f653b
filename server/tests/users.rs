//! Token revocation and configuration hot reload, on one node and across two
//! nodes over a real `nats-server`.

mod common;

use std::sync::{Arc, Mutex};

use chorus_protocol::message::{ChannelRequest, RefreshRequest};
use chorus_protocol::{CloseCode, Codec, ErrorCode, Payload, Request};
use chorus_server::config::NamespaceConfig;
use chorus_server::{Config, ServerBuilder};
use chorus_testkit::{NatsCluster, NatsServer};
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
    let deadline = tokio::time::Instant::now() + WAIT;
    while !node.log().contains("reload refused") {
        assert!(tokio::time::Instant::now() < deadline, "no refusal logged");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_usable(&mut alice).await;
    expect_ok(alice.request(subscribe_req("chat:still")).await);
}

// ---- offline inbox ----

use chorus_protocol::Push;
use chorus_protocol::ReplyBody;
use chorus_protocol::message::{ConnectRequest, InboxResult, SendRequest, StreamPosition};

/// Connects `user` with an inbox position; returns the client and the inbox part.
async fn device(url: &str, user: &str, since: Option<StreamPosition>) -> (Client, InboxResult) {
    let mut c = Client::open(url, Codec::MessagePack).await;
    let reply = c
        .request(Request::Connect(ConnectRequest {
            token: Some(token(user)),
            inbox: since,
            ..Default::default()
        }))
        .await;
    match expect_ok(reply) {
        ReplyBody::Connect(r) => (c, r.inbox.expect("the server keeps inboxes")),
        other => panic!("unexpected {other:?}"),
    }
}

async fn send(from: &mut Client, to: &str, text: &str) {
    expect_ok(
        from.request(Request::Send(SendRequest {
            user: to.into(),
            data: Payload::json(&text).unwrap(),
        }))
        .await,
    );
}

/// The next message push; returns its text and inbox offset.
async fn message(c: &mut Client) -> (String, u64) {
    loop {
        if let Push::Message(m) = c.push().await {
            return (
                m.data.parse_json().unwrap(),
                m.offset.expect("an inbox offset"),
            );
        }
    }
}

fn texts(inbox: &InboxResult) -> Vec<String> {
    inbox
        .messages
        .iter()
        .map(|m| m.data.parse_json().unwrap())
        .collect()
}

#[tokio::test]
async fn the_inbox_replays_what_each_device_missed() {
    let server = TestServer::start(config()).await;
    let mut alice = server.user(Codec::Json, "alice").await;
    let (mut phone, start) = device(&server.url(), "bob", None).await;
    assert!(
        start.messages.is_empty() && !start.recovered,
        "no position: nothing replayed"
    );
    let (mut laptop, _) = device(&server.url(), "bob", None).await;
    for text in ["m1", "m2"] {
        send(&mut alice, "bob", text).await;
    }
    let mut phone_at = None;
    for expected in [("m1", 1), ("m2", 2)] {
        let (text, offset) = message(&mut phone).await;
        assert_eq!((text.as_str(), offset), expected);
        phone_at = Some(offset);
    }
    // The laptop saw only m1 before going away.
    assert_eq!(message(&mut laptop).await, ("m1".to_owned(), 1));
    let epoch = start.position.epoch.clone();
    phone.close_fully().await;
    laptop.close_fully().await;
    for text in ["m3", "m4", "m5"] {
        send(&mut alice, "bob", text).await;
    }
    // Each device gets what it missed, once, in order.
    let since = |offset| StreamPosition {
        offset,
        epoch: epoch.clone(),
    };
    let (mut phone, inbox) = device(&server.url(), "bob", Some(since(phone_at.unwrap()))).await;
    assert!(inbox.recovered);
    assert_eq!(texts(&inbox), ["m3", "m4", "m5"]);
    let (_laptop, inbox) = device(&server.url(), "bob", Some(since(1))).await;
    assert!(inbox.recovered);
    assert_eq!(texts(&inbox), ["m2", "m3", "m4", "m5"]);
    // And live delivery goes on from there, without duplicates.
    send(&mut alice, "bob", "m6").await;
    assert_eq!(message(&mut phone).await, ("m6".to_owned(), 6));
}

#[tokio::test]
async fn an_overflowed_inbox_is_reported_unrecoverable() {
    let mut config = config();
    config.users.inbox_size = 3;
    let server = TestServer::start(config).await;
    let mut alice = server.user(Codec::Json, "alice").await;
    let (mut bob, start) = device(&server.url(), "bob", None).await;
    send(&mut alice, "bob", "seen").await;
    assert_eq!(message(&mut bob).await.1, 1);
    bob.close_fully().await;
    for i in 0..5 {
        send(&mut alice, "bob", &format!("lost {i}")).await;
    }
    let since = StreamPosition {
        offset: 1,
        epoch: start.position.epoch.clone(),
    };
    let (_bob, inbox) = device(&server.url(), "bob", Some(since)).await;
    assert!(!inbox.recovered, "offsets 2 and 3 were evicted");
    assert!(inbox.messages.is_empty());
    assert_eq!(inbox.position.offset, 6);
}

#[tokio::test]
async fn the_inbox_follows_the_user_to_another_node() {
    let nats = NatsServer::start().await;
    let node = |url: String| {
        let mut c = config();
        c.nats = vec![url];
        c
    };
    let a = TestServer::start(node(nats.url())).await;
    let b = TestServer::start(node(nats.url())).await;
    let mut alice = b.user(Codec::Json, "alice").await;
    let (mut bob, _) = device(&a.url(), "bob", None).await;
    send(&mut alice, "bob", "first").await;
    // Where the first message left bob's inbox, as the push tells the client.
    let since = loop {
        if let Push::Message(m) = bob.push().await {
            break StreamPosition {
                offset: m.offset.expect("an inbox offset"),
                epoch: m.epoch.expect("an inbox epoch"),
            };
        }
    };
    let offset = since.offset;
    bob.close_fully().await;
    for text in ["while away 1", "while away 2"] {
        send(&mut alice, "bob", text).await;
    }
    let (mut bob, inbox) = device(&b.url(), "bob", Some(since)).await;
    assert!(inbox.recovered);
    assert_eq!(texts(&inbox), ["while away 1", "while away 2"]);
    send(&mut alice, "bob", "live").await;
    assert_eq!(message(&mut bob).await, ("live".to_owned(), offset + 3));
}

// ---- online status ----

fn status_config() -> Config {
    let mut c = with_api(config());
    c.namespaces
        .insert("status".into(), NamespaceConfig::default());
    c.users.status_namespace = Some("status".into());
    c
}

/// The next status event on a `status:` subscription.
async fn status_event(c: &mut Client) -> serde_json::Value {
    c.publication().await.data.parse_json().unwrap()
}

async fn api_status(addr: std::net::SocketAddr, user: &str) -> serde_json::Value {
    let (code, body) = http(
        addr,
        "POST",
        "/api/status",
        Some(KEY),
        &format!(r#"{{"users":["{user}"]}}"#),
    )
    .await;
    assert_eq!(code, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    v["users"][0].clone()
}

#[tokio::test]
async fn online_status_events_and_queries() {
    let server = TestServer::start(status_config()).await;
    let mut carol = server.user(Codec::Json, "carol").await;
    match expect_ok(carol.request(subscribe_req("status:bob")).await) {
        ReplyBody::Subscribe(r) => {
            let now: serde_json::Value = r.data.expect("current status").parse_json().unwrap();
            assert_eq!(now["online"], false);
        }
        other => panic!("unexpected {other:?}"),
    }
    let phone = server.user(Codec::MessagePack, "bob").await;
    assert_eq!(status_event(&mut carol).await["online"], true);
    assert_eq!(api_status(server.addr, "bob").await["online"], true);
    let laptop = server.user(Codec::Json, "bob").await;
    phone.close_fully().await;
    assert_eq!(
        api_status(server.addr, "bob").await["online"],
        true,
        "one device left"
    );
    laptop.close_fully().await;
    let offline = status_event(&mut carol).await;
    assert_eq!(offline["online"], false, "{offline}");
    let seen = offline["last_seen_ms"].as_u64().expect("last seen");
    let queried = api_status(server.addr, "bob").await;
    assert_eq!(queried["online"], false);
    assert_eq!(queried["last_seen_ms"].as_u64(), Some(seen));
}

#[tokio::test]
async fn a_killed_nodes_users_go_offline() {
    let nats = NatsServer::start().await;
    let mut config = status_config();
    config.nats = vec![nats.url()];
    config.cluster.node_ttl_ms = 2_000;
    let a = TestServer::start(config).await;
    let toml = format!(
        "nats = [\"{}\"]\napi_key = \"{KEY}\"\n[auth]\nhmac_secret = \"{SECRET}\"\n\
         [cluster]\nnode_ttl_ms = 2000\n[users]\nstatus_namespace = \"status\"\n\
         [namespaces.status]\n[namespaces.chat]\nhistory_size = 100\npresence = true\n",
        nats.url()
    );
    let mut p = NodeProcess::start(&toml).await;
    let mut carol = a.user(Codec::Json, "carol").await;
    expect_ok(carol.request(subscribe_req("status:bob")).await);
    let _bob = p.user("bob").await;
    assert_eq!(status_event(&mut carol).await["online"], true);
    assert_eq!(
        api_status(a.addr, "bob").await["online"],
        true,
        "seen from the other node"
    );
    p.kill();
    let offline = status_event(&mut carol).await;
    assert_eq!(offline["online"], false, "{offline}");
    assert!(offline["last_seen_ms"].as_u64().is_some());
    assert_eq!(api_status(a.addr, "bob").await["online"], false);
}

#[tokio::test]
async fn clients_cannot_fill_the_inboxes_of_invented_users() {
    let server = TestServer::start(with_api(config())).await;
    let mut alice = server.user(Codec::Json, "alice").await;
    // Ids that break the grammar are refused, with a clear error.
    for bad in ["carol ", "carol\0", "", "a,b", "dm#x"] {
        let e = expect_error(
            alice
                .request(Request::Send(SendRequest {
                    user: bad.into(),
                    data: Payload::json(&"x").unwrap(),
                }))
                .await,
            ErrorCode::BAD_REQUEST,
        );
        assert!(e.message.contains("user id"), "{bad:?}: {e:?}");
    }
    // A user who never connected: a client's send reaches nobody and is not kept.
    send(&mut alice, "ghost", "hello?").await;
    let from_start = StreamPosition {
        offset: 0,
        epoch: String::new(),
    };
    let (ghost, inbox) = device(&server.url(), "ghost", Some(from_start.clone())).await;
    assert_eq!(
        inbox.position.offset, 0,
        "no inbox was made for a user id that never connected"
    );
    assert!(inbox.messages.is_empty());
    ghost.close_fully().await;
    // Once the user has connected, clients' messages wait in the inbox.
    send(&mut alice, "ghost", "now you exist").await;
    let (_ghost, inbox) = device(&server.url(), "ghost", Some(from_start.clone())).await;
    assert_eq!(texts(&inbox), ["now you exist"]);
    // The server API may queue for anyone (a backend knows its users).
    let body = r#"{"user":"newcomer","data":"welcome"}"#;
    let (status, reply) = http(server.addr, "POST", "/api/send", Some(KEY), body).await;
    assert_eq!(status, 200, "{reply}");
    let (_newcomer, inbox) = device(&server.url(), "newcomer", Some(from_start)).await;
    assert_eq!(texts(&inbox), ["welcome"]);
}

/// A user who has connected once counts as seen from then on, on every node:
/// a client's message sent the moment their only device closed elsewhere is
/// kept (the close stores last seen before the presence entry goes).
#[tokio::test]
async fn a_user_is_seen_by_every_node_from_their_first_connection() {
    // Three NATS servers and three replicas: a follower answering a read can
    // lag the write a moment ago.
    let nats = NatsCluster::start(3).await;
    let node = |url: String| {
        let mut c = config();
        c.nats = vec![url];
        c.cluster.replicas = 3;
        c
    };
    let urls = nats.urls();
    let a = TestServer::start(node(urls[0].clone())).await;
    let b = TestServer::start(node(urls[1].clone())).await;
    let mut alice = b.user(Codec::Json, "alice").await;
    let from_start = StreamPosition {
        offset: 0,
        epoch: String::new(),
    };
    for round in 0..30 {
        let user = format!("seen-{round}");
        let (first, _) = device(&a.url(), &user, None).await;
        first.close_fully().await;
        send(&mut alice, &user, "right after").await;
        let (again, inbox) = device(&b.url(), &user, Some(from_start.clone())).await;
        assert_eq!(
            texts(&inbox),
            ["right after"],
            "{user}: the message was kept"
        );
        again.close_fully().await;
    }
}

#[tokio::test]
async fn all_inboxes_together_stay_within_the_node_s_bound() {
    let mut config = with_api(config());
    config.users.inbox_max_bytes = 40_000;
    let server = TestServer::start(config).await;
    // 20 users, 4 messages of 1,000 bytes each: twice the bound.
    let text = "x".repeat(1_000);
    for user in 0..20 {
        for _ in 0..4 {
            let body = format!(r#"{{"user":"u{user}","data":"{text}"}}"#);
            let (status, reply) = http(server.addr, "POST", "/api/send", Some(KEY), &body).await;
            assert_eq!(status, 200, "{reply}");
        }
    }
    let from_start = StreamPosition {
        offset: 0,
        epoch: String::new(),
    };
    let mut kept = 0;
    for user in 0..20 {
        let (c, inbox) = device(&server.url(), &format!("u{user}"), Some(from_start.clone())).await;
        if user < 5 {
            assert!(
                !inbox.recovered,
                "u{user}: its messages were the oldest, and went first"
            );
        }
        kept += inbox.messages.len();
        c.close_fully().await;
    }
    // About the bound's worth of messages is left (each costs its payload
    // and a small overhead), the newest ones.
    assert!((20..=40).contains(&kept), "{kept} messages kept");
    let metrics = http_get(server.addr, "/metrics").await.unwrap().1;
    assert!(
        metrics.contains("chorus_inbox_evictions_total"),
        "{metrics}"
    );
}
