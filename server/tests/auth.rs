//! Authentication and authorisation over real WebSocket connections: tokens at
//! connect and refresh, expiry while connected, anonymous access, user-limited
//! channels, subscribe/publish policies and grants, broadcast, and the HTTP
//! checks of the upgrade (Origin, subprotocol).

mod common;

use chorus_protocol::message::*;
use chorus_protocol::{CloseCode, Codec, ErrorCode, Payload, Push, ReplyBody, Request};
use chorus_server::Config;
use chorus_server::auth::{Claims, mint};
use chorus_server::config::{NamespaceConfig, PublishPolicy, SubscribePolicy};
use common::*;

const OTHER_SECRET: &str = "another-secret-that-is-long-enough-for-hs256";
const RSA_PRIVATE: &str = include_str!("auth_keys/rsa_private.pem");
const RSA_PUBLIC: &str = include_str!("auth_keys/rsa_public.pem");

/// The harness config plus an `open` namespace that admits anonymous connections.
fn anonymous_config() -> Config {
    let mut c = config();
    c.namespaces.insert(
        "open".into(),
        NamespaceConfig {
            anonymous: true,
            ..Default::default()
        },
    );
    c
}

/// The harness config without clock-skew leeway, so that connections close
/// right at their token's `exp` (the server waits `exp` + leeway).
fn no_leeway_config() -> Config {
    let mut c = config();
    c.auth.leeway_secs = 0;
    c
}

fn connect_result(reply: Result<ReplyBody, Error>) -> ConnectResult {
    match reply {
        Ok(ReplyBody::Connect(r)) => r,
        other => panic!("expected a connect reply, got {other:?}"),
    }
}

fn channel_req(channel: &str) -> ChannelRequest {
    ChannelRequest {
        channel: channel.into(),
    }
}

fn history_req(channel: &str) -> Request {
    Request::History(HistoryRequest {
        channel: channel.into(),
        limit: Some(10),
        since: None,
        reverse: false,
    })
}

fn refresh_req(token: String) -> Request {
    Request::Refresh(RefreshRequest { token })
}

/// base64url without padding, for hand-made tokens.
fn b64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | u32::from(*b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

/// A connect with `token` that the server refuses with `error`, followed by a
/// `disconnect` push and the close `close`.
async fn assert_refused(
    server: &TestServer,
    codec: Codec,
    token: Option<String>,
    error: ErrorCode,
    close: CloseCode,
) {
    let mut c = server.client(codec).await;
    let e = expect_error(c.connect(token).await, error);
    assert_eq!(e.temporary, error.is_temporary(), "{e:?}");
    let closed = c.closed().await;
    assert_closed_with(&closed, close);
}

#[tokio::test]
async fn no_token_without_anonymous_namespaces_gets_101_then_4500() {
    let server = TestServer::start(config()).await;
    assert!(!server.node.config().allows_anonymous());
    let mut bystander = Bystander::new(&server, "chat:bystander").await;
    for codec in both() {
        assert_refused(
            &server,
            codec,
            None,
            ErrorCode::UNAUTHORIZED,
            CloseCode::UNAUTHORIZED,
        )
        .await;
        bystander.check(&server).await;
    }
}

#[tokio::test]
async fn forged_and_malformed_tokens_get_101_then_4500() {
    let mut cfg = config();
    cfg.auth.rsa_public_key = Some(RSA_PUBLIC.to_owned());
    let server = TestServer::start(cfg).await;
    let mut bystander = Bystander::new(&server, "chat:bystander").await;
    let alice = claims("alice");
    let good = token("alice");
    let payload = b64url(serde_json::to_string(&alice).unwrap().as_bytes());
    let alg_none = format!("{}.{payload}.", b64url(br#"{"alg":"none","typ":"JWT"}"#));
    // Algorithm confusion: HS256 "signed" with the server's RSA public key.
    let confused = mint::hs256(RSA_PUBLIC, &alice).unwrap();
    // A valid signature over other claims, spliced onto alice's payload.
    let bob = token("bob");
    let parts: Vec<&str> = bob.split('.').collect();
    let spliced = format!("{}.{payload}.{}", parts[0], parts[2]);
    let forged = [
        ("wrong secret", mint::hs256(OTHER_SECRET, &alice).unwrap()),
        ("alg none", alg_none),
        ("algorithm confusion", confused),
        ("spliced payload", spliced),
        ("truncated", good[..good.len() - 4].to_owned()),
        ("garbage", "not-a-jwt".to_owned()),
        ("empty", String::new()),
    ];
    for codec in both() {
        for (what, token) in &forged {
            eprintln!("{codec:?}: {what}");
            assert_refused(
                &server,
                codec,
                Some(token.clone()),
                ErrorCode::UNAUTHORIZED,
                CloseCode::UNAUTHORIZED,
            )
            .await;
        }
        bystander.check(&server).await;
    }
    // Positive control: a genuine RS256 token is accepted.
    let rs = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
        &alice,
        &jsonwebtoken::EncodingKey::from_rsa_pem(RSA_PRIVATE.as_bytes()).unwrap(),
    )
    .unwrap();
    let mut c = server.client(Codec::Json).await;
    let r = connect_result(c.connect(Some(rs)).await);
    assert_eq!(r.user, "alice");
}

#[tokio::test]
async fn rs256_token_without_a_configured_rsa_key_gets_101_then_4500() {
    let server = TestServer::start(config()).await;
    let rs = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
        &claims("alice"),
        &jsonwebtoken::EncodingKey::from_rsa_pem(RSA_PRIVATE.as_bytes()).unwrap(),
    )
    .unwrap();
    assert_refused(
        &server,
        Codec::Json,
        Some(rs),
        ErrorCode::UNAUTHORIZED,
        CloseCode::UNAUTHORIZED,
    )
    .await;
}

#[tokio::test]
async fn expired_token_gets_109_then_4501() {
    let server = TestServer::start(config()).await;
    let mut bystander = Bystander::new(&server, "chat:bystander").await;
    for codec in both() {
        let expired = token_with(&claims_expiring("alice", -3600));
        assert_refused(
            &server,
            codec,
            Some(expired),
            ErrorCode::TOKEN_EXPIRED,
            CloseCode::TOKEN_EXPIRED,
        )
        .await;
        bystander.check(&server).await;
    }
    // A forged expired token is not reported as expired (only genuine tokens
    // may trigger a client's refresh).
    let forged = mint::hs256(OTHER_SECRET, &claims_expiring("alice", -3600)).unwrap();
    assert_refused(
        &server,
        Codec::Json,
        Some(forged),
        ErrorCode::UNAUTHORIZED,
        CloseCode::UNAUTHORIZED,
    )
    .await;
}

#[tokio::test]
async fn token_expiring_while_connected_closes_with_4501() {
    let server = TestServer::start(no_leeway_config()).await;
    let mut bystander = Bystander::new(&server, "chat:bystander").await;
    let mut clients = Vec::new();
    for codec in both() {
        let mut c = server.client(codec).await;
        let r = connect_result(
            c.connect(Some(token_with(&claims_expiring("alice", 2))))
                .await,
        );
        let ttl = r.expires_in_ms.expect("expires_in_ms");
        assert!(ttl <= 2_000, "expires_in_ms {ttl}");
        expect_ok(c.request(subscribe_req("chat:room")).await);
        clients.push(c);
    }
    for mut c in clients {
        let closed = c.closed_fully().await;
        assert_closed_with(&closed, CloseCode::TOKEN_EXPIRED);
    }
    // Their registrations and subscriptions are gone with them.
    assert_eq!(server.connections(), 1);
    assert_eq!(server.channel_members("chat:room"), 0);
    bystander.check(&server).await;
}

/// `refreshed` holds a token expiring in ~2 s and refreshes it; `control` holds
/// one expiring a second later and does not. When control is closed for
/// expiry, refreshed's old expiry has passed a second ago.
async fn refresh_extends(server: &TestServer, codec: Codec) {
    let mut refreshed = server.client(codec).await;
    let r = connect_result(
        refreshed
            .connect(Some(token_with(&claims_expiring("alice", 2))))
            .await,
    );
    assert!(r.expires_in_ms.unwrap() <= 2_000);
    let mut control = server.client(codec).await;
    connect_result(
        control
            .connect(Some(token_with(&claims_expiring("alice", 3))))
            .await,
    );
    let reply = expect_ok(refreshed.request(refresh_req(token("alice"))).await);
    let ReplyBody::Refresh(RefreshResult { expires_in_ms }) = reply else {
        panic!("{reply:?}")
    };
    let ttl = expires_in_ms.expect("expires_in_ms");
    assert!(ttl > 3_000_000 && ttl <= 3_600_000, "expires_in_ms {ttl}");
    assert_closed_with(&control.closed().await, CloseCode::TOKEN_EXPIRED);
    assert_usable(&mut refreshed).await;
    refreshed.close().await;
}

#[tokio::test]
async fn refresh_with_a_new_token_extends_the_connection() {
    let server = TestServer::start(no_leeway_config()).await;
    tokio::join!(
        refresh_extends(&server, Codec::Json),
        refresh_extends(&server, Codec::MessagePack)
    );
}

#[tokio::test]
async fn refresh_with_invalid_or_expired_token_is_refused_and_changes_nothing() {
    let server = TestServer::start(config()).await;
    for codec in both() {
        let mut c = server.user(codec, "alice").await;
        let forged = mint::hs256(OTHER_SECRET, &claims("alice")).unwrap();
        expect_error(
            c.request(refresh_req(forged)).await,
            ErrorCode::UNAUTHORIZED,
        );
        assert_usable(&mut c).await;
        let expired = token_with(&claims_expiring("alice", -3600));
        let e = expect_error(
            c.request(refresh_req(expired)).await,
            ErrorCode::TOKEN_EXPIRED,
        );
        assert!(e.temporary);
        assert_usable(&mut c).await;
        // The refused refreshes did not shorten the original hour.
        let ReplyBody::Refresh(r) = expect_ok(c.request(refresh_req(token("alice"))).await) else {
            panic!()
        };
        assert!(r.expires_in_ms.unwrap() > 3_000_000);
        c.close().await;
    }
}

#[tokio::test]
async fn refresh_with_another_users_token_gets_101() {
    let server = TestServer::start(config()).await;
    for codec in both() {
        let mut c = server.user(codec, "alice").await;
        expect_error(
            c.request(refresh_req(token("bob"))).await,
            ErrorCode::UNAUTHORIZED,
        );
    }
}

/// Spec 5.9: "A refused refresh leaves the connection as it was."
#[tokio::test]
async fn refresh_with_another_users_token_leaves_the_connection_usable() {
    let server = TestServer::start(config()).await;
    let mut c = server.user(Codec::Json, "alice").await;
    expect_error(
        c.request(refresh_req(token("bob"))).await,
        ErrorCode::UNAUTHORIZED,
    );
    assert_usable(&mut c).await;
}

/// A token up to `auth.leeway_secs` past its `exp` is accepted at connect, with
/// `expires_in_ms: 0` ("refresh now", per `Claims::expires_in_ms`). The client
/// must then get the chance to refresh.
#[tokio::test]
async fn token_accepted_within_the_leeway_can_be_refreshed() {
    let server = TestServer::start(config()).await;
    let mut c = server.client(Codec::Json).await;
    let r = connect_result(
        c.connect(Some(token_with(&claims_expiring("alice", -2))))
            .await,
    );
    assert_eq!(r.expires_in_ms, Some(0));
    expect_ok(c.request(refresh_req(token("alice"))).await);
    assert_usable(&mut c).await;
}

#[tokio::test]
async fn anonymous_access_only_in_anonymous_namespaces() {
    let server = TestServer::start(anonymous_config()).await;
    let mut bystander = Bystander::new(&server, "chat:bystander").await;
    for codec in both() {
        let mut anon = server.client(codec).await;
        let r = connect_result(anon.connect(None).await);
        assert_eq!(r.user, "");
        assert_eq!(r.expires_in_ms, None);
        expect_ok(anon.request(subscribe_req("open:x")).await);
        expect_ok(anon.request(publish_req("open:x", "1")).await);
        let p = anon.publication().await;
        assert_eq!(p.info.unwrap().user, "");
        for cmd in [
            subscribe_req("chat:x"),
            subscribe_req("lobby"),
            publish_req("chat:x", "1"),
            Request::Presence(channel_req("chat:x")),
            history_req("chat:x"),
            Request::Send(SendRequest {
                user: "alice".into(),
                data: Payload::from("1"),
            }),
        ] {
            let what = cmd.key();
            let e = expect_error(anon.request(cmd).await, ErrorCode::PERMISSION_DENIED);
            assert!(!e.temporary, "{what}");
        }
        // A user with a token may use the anonymous namespace too.
        let mut alice = server.user(codec, "alice").await;
        expect_ok(alice.request(subscribe_req("open:x")).await);
        expect_ok(alice.request(publish_req("open:x", "2")).await);
        assert_eq!(anon.publication().await.data, Payload::from("2"));
        anon.close().await;
        alice.close().await;
        bystander.check(&server).await;
    }
}

#[tokio::test]
async fn user_limited_channel_admits_only_its_users() {
    let mut cfg = config();
    cfg.namespaces.get_mut("chat").unwrap().publish = PublishPolicy::Any;
    let server = TestServer::start(cfg).await;
    let mut bystander = Bystander::new(&server, "chat:bystander").await;
    let dm = "chat:dm#alice,bob";
    for codec in both() {
        let mut alice = server.user(codec, "alice").await;
        let mut bob = server.user(codec, "bob").await;
        let mut carol = server.user(codec, "carol").await;
        expect_ok(alice.request(subscribe_req(dm)).await);
        expect_ok(bob.request(subscribe_req(dm)).await);
        for cmd in [
            subscribe_req(dm),
            publish_req(dm, "1"),
            Request::Presence(channel_req(dm)),
            Request::PresenceStats(channel_req(dm)),
            history_req(dm),
        ] {
            let what = cmd.key();
            let e = expect_error(carol.request(cmd).await, ErrorCode::PERMISSION_DENIED);
            assert!(!e.temporary, "{what}");
        }
        // A grant does not override the user list.
        let granted = Claims {
            subs: vec!["*".into()],
            pubs: vec!["*".into()],
            ..claims("carol")
        };
        let mut carol2 = server.client(codec).await;
        connect_result(carol2.connect(Some(token_with(&granted))).await);
        expect_error(
            carol2.request(subscribe_req(dm)).await,
            ErrorCode::PERMISSION_DENIED,
        );
        // Nor do prefixes or near-misses of a listed name.
        let mut ali = server.user(codec, "ali").await;
        expect_error(
            ali.request(subscribe_req(dm)).await,
            ErrorCode::PERMISSION_DENIED,
        );
        expect_ok(alice.request(publish_req(dm, "\"hi bob\"")).await);
        let p = bob.publication().await;
        assert_eq!(
            (p.channel.as_str(), p.data),
            (dm, Payload::from("\"hi bob\""))
        );
        for c in [alice, bob, carol, carol2, ali] {
            c.close().await;
        }
        bystander.check(&server).await;
    }
}

#[tokio::test]
async fn subscribe_policy_grants_needs_a_matching_grant() {
    let mut cfg = config();
    cfg.namespaces.get_mut("chat").unwrap().subscribe = SubscribePolicy::Grants;
    let server = TestServer::start(cfg).await;
    for codec in both() {
        let mut plain = server.user(codec, "alice").await;
        for cmd in [
            subscribe_req("chat:room"),
            Request::Presence(channel_req("chat:room")),
            history_req("chat:room"),
        ] {
            let what = cmd.key();
            let e = expect_error(plain.request(cmd).await, ErrorCode::PERMISSION_DENIED);
            assert!(!e.temporary, "{what}");
        }
        let mut elsewhere = server.client(codec).await;
        let other_grant = Claims {
            subs: vec!["news:*".into(), "chat".into(), "chatroom*".into()],
            ..claims("alice")
        };
        connect_result(elsewhere.connect(Some(token_with(&other_grant))).await);
        expect_error(
            elsewhere.request(subscribe_req("chat:room")).await,
            ErrorCode::PERMISSION_DENIED,
        );
        let mut granted = server.client(codec).await;
        let grant = Claims {
            subs: vec!["chat:*".into()],
            ..claims("alice")
        };
        connect_result(granted.connect(Some(token_with(&grant))).await);
        expect_ok(granted.request(subscribe_req("chat:room")).await);
        expect_ok(
            granted
                .request(Request::Presence(channel_req("chat:room")))
                .await,
        );
        expect_ok(granted.request(history_req("chat:room")).await);
        // The default namespace keeps its own policy (any).
        expect_ok(plain.request(subscribe_req("lobby")).await);
        for c in [plain, elsewhere, granted] {
            c.close().await;
        }
    }
}

#[tokio::test]
async fn publish_policy_nobody_needs_a_pubs_grant() {
    let mut cfg = config();
    cfg.namespaces.get_mut("chat").unwrap().publish = PublishPolicy::Nobody;
    let server = TestServer::start(cfg).await;
    for codec in both() {
        let mut reader = server.user(codec, "reader").await;
        expect_ok(reader.request(subscribe_req("chat:news")).await);
        // Subscribed is not enough under `nobody`.
        let e = expect_error(
            reader.request(publish_req("chat:news", "1")).await,
            ErrorCode::PERMISSION_DENIED,
        );
        assert!(!e.temporary);
        // A grant for another channel does not help.
        let mut wrong = server.client(codec).await;
        let other = Claims {
            pubs: vec!["chat:sport".into()],
            ..claims("editor")
        };
        connect_result(wrong.connect(Some(token_with(&other))).await);
        expect_error(
            wrong.request(publish_req("chat:news", "1")).await,
            ErrorCode::PERMISSION_DENIED,
        );
        // A matching grant does, without subscribing.
        let mut editor = server.client(codec).await;
        let grant = Claims {
            pubs: vec!["chat:news".into()],
            ..claims("editor")
        };
        connect_result(editor.connect(Some(token_with(&grant))).await);
        expect_ok(editor.request(publish_req("chat:news", "\"extra\"")).await);
        let p = reader.publication().await;
        assert_eq!(p.data, Payload::from("\"extra\""));
        assert_eq!(p.info.unwrap().user, "editor");
        for c in [reader, wrong, editor] {
            c.close().await;
        }
    }
}

#[tokio::test]
async fn broadcast_needs_the_claim_and_reaches_every_connection() {
    let server = TestServer::start(anonymous_config()).await;
    let mut alice_json = server.user(Codec::Json, "alice").await;
    let mut alice_pack = server.user(Codec::MessagePack, "alice").await;
    let mut bob = server.user(Codec::MessagePack, "bob").await;
    let mut anon = server.client(Codec::Json).await;
    connect_result(anon.connect(None).await);
    let e = expect_error(
        alice_json
            .request(Request::Broadcast(BroadcastRequest {
                data: Payload::from("1"),
            }))
            .await,
        ErrorCode::PERMISSION_DENIED,
    );
    assert!(!e.temporary);
    let mut boss = server.client(Codec::Json).await;
    let grant = Claims {
        broadcast: true,
        ..claims("boss")
    };
    connect_result(boss.connect(Some(token_with(&grant))).await);
    let data = Payload::from(r#"{"notice":"maintenance at 02:00"}"#);
    expect_ok(
        boss.request(Request::Broadcast(BroadcastRequest { data: data.clone() }))
            .await,
    );
    for (who, c) in [
        ("boss", &mut boss),
        ("alice json", &mut alice_json),
        ("alice msgpack", &mut alice_pack),
        ("bob", &mut bob),
        ("anonymous", &mut anon),
    ] {
        let Push::Message(m) = c.push().await else {
            panic!("{who}: expected a message push")
        };
        assert!(m.broadcast, "{who}");
        assert_eq!(m.data, data, "{who}");
        assert_eq!(m.from.map(|f| f.user), Some("boss".to_owned()), "{who}");
    }
    // The refused broadcast delivered nothing: alice's next push is the one
    // above, and a ping round trip shows nothing else queued behind it.
    assert_usable(&mut alice_json).await;
}

#[tokio::test]
async fn origin_not_allowed_gets_http_403() {
    let mut cfg = config();
    cfg.allowed_origins = vec!["https://good.example".into()];
    let server = TestServer::start(cfg).await;
    let url = server.url();
    let json = Some("chorus.v1.json");
    let (status, _) = try_upgrade(&url, json, Some("https://evil.example"))
        .await
        .unwrap_err();
    assert_eq!(status, 403);
    let (status, _) = try_upgrade(&url, json, Some("https://good.example.evil.example"))
        .await
        .unwrap_err();
    assert_eq!(status, 403);
    assert_eq!(
        try_upgrade(&url, json, Some("https://good.example")).await,
        Ok(Some("chorus.v1.json".to_owned()))
    );
    // Without Origin: not a browser, not subject to the check.
    assert_eq!(
        try_upgrade(&url, json, None).await,
        Ok(Some("chorus.v1.json".to_owned()))
    );
    // The refused upgrades left the server serving.
    assert_round_trip(&server, "chat:after-403").await;
}

#[tokio::test]
async fn empty_origin_allow_list_means_same_origin_only() {
    let server = TestServer::start(config()).await;
    let url = server.url();
    let json = Some("chorus.v1.json");
    let same = format!("http://{}", server.addr);
    assert_eq!(
        try_upgrade(&url, json, Some(&same)).await,
        Ok(Some("chorus.v1.json".to_owned()))
    );
    let (status, _) = try_upgrade(&url, json, Some("http://evil.example"))
        .await
        .unwrap_err();
    assert_eq!(status, 403);
    // Any origin with `*`.
    let mut cfg = config();
    cfg.allowed_origins = vec!["*".into()];
    let open = TestServer::start(cfg).await;
    assert_eq!(
        try_upgrade(&open.url(), json, Some("http://evil.example")).await,
        Ok(Some("chorus.v1.json".to_owned()))
    );
}

#[tokio::test]
async fn development_nodes_admit_pages_on_other_local_ports_only() {
    let json = Some("chorus.v1.json");
    let local = "http://127.0.0.1:8001";
    // A production node: same origin only, so another local port is refused.
    let production = TestServer::start(config()).await;
    let (status, _) = try_upgrade(&production.url(), json, Some(local))
        .await
        .unwrap_err();
    assert_eq!(status, 403);
    // A development node admits this machine's pages, and nobody else's.
    let mut cfg = config();
    cfg.apply_dev_profile();
    let dev = TestServer::start(cfg).await;
    for origin in [local, "http://localhost:3000"] {
        assert_eq!(
            try_upgrade(&dev.url(), json, Some(origin)).await,
            Ok(Some("chorus.v1.json".to_owned())),
            "{origin}"
        );
    }
    for origin in ["http://evil.example", "http://127.0.0.1.evil.example"] {
        let (status, _) = try_upgrade(&dev.url(), json, Some(origin))
            .await
            .unwrap_err();
        assert_eq!(status, 403, "{origin}");
    }
}

#[tokio::test]
async fn missing_or_unknown_subprotocol_gets_http_400() {
    let server = TestServer::start(config()).await;
    let url = server.url();
    for offered in [
        None,
        Some("chorus.v2.json"),
        Some("json"),
        Some("CHORUS.V1.JSON"),
    ] {
        let (status, body) = try_upgrade(&url, offered, None).await.unwrap_err();
        assert_eq!(status, 400, "{offered:?}");
        assert!(
            body.contains("chorus.v1.json") && body.contains("chorus.v1.msgpack"),
            "{offered:?}: body {body:?}"
        );
    }
    // The server selects the first offered value it supports.
    assert_eq!(
        try_upgrade(&url, Some("foo, chorus.v1.msgpack"), None).await,
        Ok(Some("chorus.v1.msgpack".to_owned()))
    );
    assert_eq!(
        try_upgrade(&url, Some("chorus.v1.msgpack, chorus.v1.json"), None).await,
        Ok(Some("chorus.v1.msgpack".to_owned()))
    );
    assert_round_trip(&server, "chat:after-400").await;
}

#[tokio::test]
async fn a_refresh_with_fewer_grants_ends_the_subscriptions_it_no_longer_allows() {
    let mut cfg = config();
    cfg.namespaces.get_mut("chat").unwrap().subscribe = SubscribePolicy::Grants;
    let server = TestServer::start(cfg).await;
    for codec in both() {
        let mut c = server.client(codec).await;
        let both_rooms = Claims {
            subs: vec!["chat:a".into(), "chat:b".into()],
            ..claims("alice")
        };
        connect_result(c.connect(Some(token_with(&both_rooms))).await);
        expect_ok(c.request(subscribe_req("chat:a")).await);
        expect_ok(c.request(subscribe_req("chat:b")).await);
        let only_a = Claims {
            subs: vec!["chat:a".into()],
            ..claims("alice")
        };
        expect_ok(c.request(refresh_req(token_with(&only_a))).await);
        loop {
            match c.push().await {
                Push::Unsubscribed(u) => {
                    assert_eq!(u.channel, "chat:b");
                    assert_eq!(u.code, ErrorCode::PERMISSION_DENIED);
                    break;
                }
                Push::Join(_) | Push::Leave(_) => {}
                other => panic!("{other:?}"),
            }
        }
        // chat:a goes on; chat:b is no longer delivered.
        let handle = chorus_server::Handle::new(server.node.clone());
        for channel in ["chat:b", "chat:a"] {
            let req = PublishRequest {
                channel: channel.into(),
                data: Payload::from("1"),
                idempotency_key: None,
            };
            handle.publish(req).await.unwrap();
        }
        assert_eq!(c.publication().await.channel, "chat:a");
        expect_error(
            c.request(Request::Unsubscribe(channel_req("chat:b"))).await,
            ErrorCode::NOT_SUBSCRIBED,
        );
    }
}
