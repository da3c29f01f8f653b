//! Limits and timers over real WebSocket connections (section 11 of
//! docs/protocol.md): message size, command rate, channels per connection,
//! connections per user and per node, members per channel, handshake and pong
//! deadlines, slow consumers, and graceful shutdown.

mod common;

use chorus_protocol::message::*;
use chorus_protocol::{
    ClientFrame, CloseCode, Codec, Command, ErrorCode, Payload, Push, ReplyBody, Request,
    ServerFrame,
};
use chorus_server::Config;
use chorus_server::config::{NamespaceConfig, PublishPolicy};
use chorus_server::testing::slow_consumer_disconnects;
use common::*;

fn channel_req(channel: &str) -> ChannelRequest {
    ChannelRequest {
        channel: channel.into(),
    }
}

/// An encoded `publish` command of exactly `size` bytes in `codec`, if the
/// codec's length prefixes allow that size.
fn publish_frame_of_size(codec: Codec, id: u64, channel: &str, size: usize) -> Option<Vec<u8>> {
    (0..size).find_map(|n| {
        let frame = ClientFrame::Command(Command {
            id,
            request: publish_req(channel, format!("\"{}\"", "x".repeat(n))),
        });
        let bytes = codec.encode_client(&frame).unwrap();
        (bytes.len() == size).then_some(bytes)
    })
}

// ---- message size ----

fn small_frames_config() -> Config {
    let mut c = config();
    c.limits.max_message_size = 1024;
    c
}

#[tokio::test]
async fn frame_over_max_message_size_closes_with_4503() {
    let server = TestServer::start(small_frames_config()).await;
    let mut bystander = Bystander::new(&server, "chat:bystander").await;
    for codec in both() {
        // Exactly the limit is accepted.
        let mut c = server.user(codec, "alice").await;
        expect_ok(c.request(subscribe_req("chat:big")).await);
        let frame = publish_frame_of_size(codec, 100, "chat:big", 1024).expect("1024-byte frame");
        let msg = c.data_message(frame);
        c.send_raw(msg).await;
        expect_ok(c.reply(100).await);
        assert!(c.publication().await.data.len() > 900);
        // One byte more closes the connection, before decoding.
        let frame = publish_frame_of_size(codec, 101, "chat:big", 1025).expect("1025-byte frame");
        let msg = c.data_message(frame);
        c.send_raw(msg).await;
        let closed = c.closed().await;
        assert_closed_with(&closed, CloseCode::MESSAGE_TOO_LARGE);
        // Frames the server does not even decode get the same answer.
        let mut c = server.user(codec, "alice").await;
        let msg = c.data_message(vec![b'x'; 2000]);
        c.send_raw(msg).await;
        assert_closed_with(&c.closed().await, CloseCode::MESSAGE_TOO_LARGE);
        bystander.check(&server).await;
    }
}

/// A frame far above the limit (beyond the transport's own cut-off of twice the
/// limit) must get the same 4503 close.
#[tokio::test]
async fn frame_far_over_max_message_size_closes_with_4503() {
    let server = TestServer::start(small_frames_config()).await;
    let mut bystander = Bystander::new(&server, "chat:bystander").await;
    for codec in both() {
        let mut c = server.user(codec, "alice").await;
        let msg = c.data_message(vec![b'x'; 100_000]);
        c.send_raw(msg).await;
        assert_closed_with(&c.closed().await, CloseCode::MESSAGE_TOO_LARGE);
        bystander.check(&server).await;
    }
}

// ---- command rate ----

fn rate_config() -> Config {
    let mut c = config();
    c.limits.rate_per_second = 1;
    c.limits.rate_burst = 3;
    c
}

#[tokio::test]
async fn command_burst_gets_110_and_hammering_closes_with_4004() {
    let server = TestServer::start(rate_config()).await;
    let mut bystander = Bystander::new(&server, "chat:bystander").await;
    for codec in both() {
        let mut c = server.user(codec, "alice").await;
        // A burst of pipelined commands: the bucket (3, connect took one) runs
        // dry, the rest get 110, and the connection stays open.
        let ids = [
            c.send(ping_req()).await,
            c.send(ping_req()).await,
            c.send(ping_req()).await,
            c.send(ping_req()).await,
        ];
        let mut ok = 0;
        let mut limited = 0;
        // Refusals since the last success (a token may refill on a very slow
        // machine; the server forgives past refusals then).
        let mut consecutive = 0;
        for id in ids {
            match c.reply(id).await {
                Ok(ReplyBody::Ping(_)) => {
                    ok += 1;
                    consecutive = 0;
                }
                Err(e) if e.code == ErrorCode::TOO_MANY_REQUESTS => {
                    assert!(e.temporary, "110 is temporary");
                    limited += 1;
                    consecutive += 1;
                }
                other => panic!("{other:?}"),
            }
        }
        assert!(ok >= 1 && limited >= 1, "ok {ok}, limited {limited}");
        // Hammering on, one command at a time: more 110s, then close 4004.
        let mut sent = 0;
        let closed = loop {
            let id = c.send(ping_req()).await;
            sent += 1;
            assert!(sent < 50, "never closed");
            match c.next().await {
                Ok(ServerFrame::Reply(r)) if r.id == id => match r.result {
                    Ok(_) => consecutive = 0,
                    Err(e) => {
                        assert_eq!(e.code, ErrorCode::TOO_MANY_REQUESTS);
                        consecutive += 1;
                    }
                },
                Ok(ServerFrame::Push(Push::Disconnect(d))) => {
                    let mut closed = c.closed().await;
                    closed.pushed = Some(d);
                    break closed;
                }
                other => panic!("{other:?}"),
            }
        };
        assert_closed_with(&closed, CloseCode::RATE_LIMITED);
        // rate_burst = 3 refusals in a row are tolerated; the 4th is still
        // answered with 110, then the connection closes.
        assert_eq!(consecutive, 4, "110 replies in a row up to the close");
        bystander.check(&server).await;
    }
}

/// Spec 2.2/6.4: a refused `connect` is answered with an error reply, then a
/// `disconnect` push and the close `for_connect_error` gives (110 -> 4004).
/// Commands before connect spend the bucket, so the connect itself can be the
/// one refused with 110.
#[tokio::test]
async fn connect_refused_by_the_rate_limit_closes_with_4004() {
    let mut cfg = rate_config();
    // Bounds the wait should the connection linger (it would then end with
    // 4003 at the handshake deadline).
    cfg.limits.handshake_timeout_ms = 2_000;
    let server = TestServer::start(cfg).await;
    let mut c = server.client(Codec::Json).await;
    for _ in 0..3 {
        expect_error(c.request(ping_req()).await, ErrorCode::NOT_CONNECTED);
    }
    expect_error(
        c.connect(Some(token("alice"))).await,
        ErrorCode::TOO_MANY_REQUESTS,
    );
    let closed = c.closed().await;
    assert_closed_with(&closed, CloseCode::RATE_LIMITED);
}

/// The same with the commands pipelined: the close (with its `disconnect`
/// push) must reach the client even though it has sent more than the server
/// read before closing.
#[tokio::test]
async fn pipelined_hammering_still_sees_the_4004_close() {
    let server = TestServer::start(rate_config()).await;
    let data = format!("\"{}\"", "x".repeat(1000));
    for codec in both() {
        let mut c = server.user(codec, "alice").await;
        expect_ok(c.request(subscribe_req("chat:flood")).await);
        for _ in 0..200 {
            c.send(publish_req("chat:flood", data.clone())).await;
        }
        let closed = c.closed().await;
        assert_closed_with(&closed, CloseCode::RATE_LIMITED);
    }
}

// ---- channels per connection ----

#[tokio::test]
async fn third_channel_over_max_channels_per_connection_gets_106() {
    let mut cfg = config();
    cfg.limits.max_channels_per_connection = 2;
    let server = TestServer::start(cfg).await;
    for codec in both() {
        let mut c = server.user(codec, "alice").await;
        expect_ok(c.request(subscribe_req("chat:a")).await);
        expect_ok(c.request(subscribe_req("lobby")).await);
        let e = expect_error(
            c.request(subscribe_req("chat:c")).await,
            ErrorCode::LIMIT_EXCEEDED,
        );
        assert!(!e.temporary);
        // A place frees up on unsubscribe.
        expect_ok(c.request(Request::Unsubscribe(channel_req("chat:a"))).await);
        expect_ok(c.request(subscribe_req("chat:c")).await);
        // The same limit applies to the `subs` of connect, entry by entry.
        let mut d = server.client(codec).await;
        let reply = d
            .request(Request::Connect(ConnectRequest {
                token: Some(token("bob")),
                subs: ["chat:1", "chat:2", "chat:3"]
                    .iter()
                    .map(|ch| SubscribeRequest {
                        channel: (*ch).into(),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }))
            .await;
        let ReplyBody::Connect(r) = expect_ok(reply) else {
            panic!()
        };
        let outcomes: Vec<_> = r
            .subs
            .iter()
            .map(|s| {
                (
                    s.channel.as_str(),
                    s.ok.is_some(),
                    s.error.as_ref().map(|e| e.code),
                )
            })
            .collect();
        assert_eq!(
            outcomes,
            [
                ("chat:1", true, None),
                ("chat:2", true, None),
                ("chat:3", false, Some(ErrorCode::LIMIT_EXCEEDED)),
            ]
        );
        assert_usable(&mut d).await;
    }
}

// ---- connections per user / per node ----

#[tokio::test]
async fn second_connection_over_max_connections_per_user_closes_with_4504() {
    let mut cfg = config();
    cfg.limits.max_connections_per_user = 1;
    let server = TestServer::start(cfg).await;
    let mut first = server.user(Codec::Json, "alice").await;
    expect_ok(first.request(subscribe_req("chat:a")).await);
    for codec in both() {
        let mut second = server.client(codec).await;
        let e = expect_error(
            second.connect(Some(token("alice"))).await,
            ErrorCode::LIMIT_EXCEEDED,
        );
        assert!(!e.temporary);
        assert_closed_with(&second.closed().await, CloseCode::TOO_MANY_CONNECTIONS);
    }
    // Other users are not affected, nor is alice's first connection.
    let mut bob = server.user(Codec::MessagePack, "bob").await;
    expect_ok(bob.request(subscribe_req("chat:a")).await);
    expect_ok(bob.request(publish_req("chat:a", "1")).await);
    assert_eq!(first.publication().await.data, Payload::from("1"));
    assert_eq!(server.connections(), 2);
    // Once alice's connection is gone she may connect again.
    first.close_fully().await;
    assert_eq!(server.connections(), 1);
    let mut again = server.user(Codec::Json, "alice").await;
    assert_usable(&mut again).await;
}

#[tokio::test]
async fn connection_over_max_connections_closes_with_4006() {
    let mut cfg = config();
    cfg.limits.max_connections = 1;
    let server = TestServer::start(cfg).await;
    let mut first = server.user(Codec::Json, "alice").await;
    for codec in both() {
        let mut second = server.client(codec).await;
        second
            .send(Request::Connect(ConnectRequest {
                token: Some(token("bob")),
                ..Default::default()
            }))
            .await;
        let closed = second.closed().await;
        assert_closed_with(&closed, CloseCode::NODE_FULL);
        assert!(closed.pushed.unwrap().reconnect);
    }
    assert_usable(&mut first).await;
    assert_eq!(server.connections(), 1);
    first.close_fully().await;
    assert_eq!(server.connections(), 0);
    let mut next = server.user(Codec::MessagePack, "bob").await;
    assert_usable(&mut next).await;
}

/// Spec 11: a connect to a full node is answered with error 115 `unavailable`,
/// then a `disconnect` push and close 4006 `node_full` (reconnect elsewhere).
#[tokio::test]
async fn full_node_refuses_connect_with_115_then_4006() {
    let mut cfg = config();
    cfg.limits.max_connections = 1;
    let server = TestServer::start(cfg).await;
    let mut first = server.user(Codec::Json, "alice").await;
    let mut second = server.client(Codec::Json).await;
    expect_error(
        second.connect(Some(token("bob"))).await,
        ErrorCode::UNAVAILABLE,
    );
    let closed = second.closed().await;
    assert_closed_with(&closed, CloseCode::NODE_FULL);
    assert_usable(&mut first).await;
}

// ---- members per channel ----

#[tokio::test]
async fn subscriber_over_max_members_gets_112() {
    let mut cfg = config();
    // One namespace counts members through presence, the other locally.
    for (name, presence) in [("withpresence", true), ("bare", false)] {
        cfg.namespaces.insert(
            name.into(),
            NamespaceConfig {
                presence,
                max_members: 1,
                ..Default::default()
            },
        );
    }
    let server = TestServer::start(cfg).await;
    for codec in both() {
        for channel in ["withpresence:room", "bare:room"] {
            let mut first = server.user(codec, "alice").await;
            expect_ok(first.request(subscribe_req(channel)).await);
            for user in ["bob", "alice"] {
                let mut other = server.user(codec, user).await;
                let e = expect_error(
                    other.request(subscribe_req(channel)).await,
                    ErrorCode::CHANNEL_FULL,
                );
                assert!(e.temporary, "112 is temporary");
                other.close().await;
            }
            // The place frees up when the member leaves.
            expect_ok(
                first
                    .request(Request::Unsubscribe(channel_req(channel)))
                    .await,
            );
            let mut bob = server.user(codec, "bob").await;
            expect_ok(bob.request(subscribe_req(channel)).await);
            // Other channels of the namespace are separate.
            expect_ok(first.request(subscribe_req(&format!("{channel}-2"))).await);
            bob.close_fully().await;
            first.close_fully().await;
            assert_eq!(server.channel_members(channel), 0);
        }
    }
}

// ---- handshake deadline ----

async fn handshake_deadline_case(server: &TestServer, codec: Codec) {
    // Silent.
    let mut silent = server.client(codec).await;
    assert_closed_with(&silent.closed().await, CloseCode::AUTH_TIMEOUT);
    // Busy but never connecting: 114s do not extend the deadline.
    let mut busy = server.client(codec).await;
    expect_error(busy.request(ping_req()).await, ErrorCode::NOT_CONNECTED);
    assert_closed_with(&busy.closed().await, CloseCode::AUTH_TIMEOUT);
    // A refused connect closes at once, with its own code.
    let mut refused = server.client(codec).await;
    expect_error(
        refused
            .connect(Some(mint_other_secret_token("alice")))
            .await,
        ErrorCode::UNAUTHORIZED,
    );
    assert_closed_with(&refused.closed().await, CloseCode::UNAUTHORIZED);
    // Connected in time: still open after several ping intervals, well past
    // the handshake deadline.
    let mut ok = server.user(codec, "alice").await;
    let mut pings = 0;
    while pings < 3 {
        match ok.next().await.expect("still open") {
            ServerFrame::Push(Push::Ping(_)) => {
                pings += 1;
                ok.send_frame(&ClientFrame::Pong).await;
            }
            other => panic!("{other:?}"),
        }
    }
    assert_usable(&mut ok).await;
}

#[tokio::test]
async fn no_connect_within_the_handshake_timeout_closes_with_4003() {
    let mut cfg = config();
    cfg.limits.handshake_timeout_ms = 300;
    cfg.limits.ping_interval_ms = 200;
    let server = TestServer::start(cfg).await;
    let mut bystander = Bystander::new(&server, "chat:bystander").await;
    tokio::join!(
        handshake_deadline_case(&server, Codec::Json),
        handshake_deadline_case(&server, Codec::MessagePack)
    );
    // The bystander, connected in time, is still served.
    bystander.check(&server).await;
}

fn mint_other_secret_token(user: &str) -> String {
    chorus_server::auth::mint::hs256("a-different-secret-of-sufficient-length!", &claims(user))
        .unwrap()
}

// ---- ping / pong ----

fn ping_config() -> Config {
    let mut c = config();
    c.limits.ping_interval_ms = 200;
    c.limits.pong_timeout_ms = 300;
    c
}

/// Never answers protocol pings; answers each with WebSocket-level control
/// frames instead, which do not count (spec 2.1).
async fn ignore_pings_until_closed(server: &TestServer, codec: Codec) {
    use tokio_tungstenite::tungstenite::Message;
    let options = ConnOptions {
        answer_pings: false,
        ..ConnOptions::default()
    };
    let mut c = server.client_with(codec, options).await;
    let ReplyBody::Connect(r) = expect_ok(c.connect(Some(token("alice"))).await) else {
        panic!()
    };
    assert_eq!(r.ping_interval_ms, 200);
    assert!(r.pong, "the server asks for pongs");
    let mut pings = 0;
    let mut pushed = None;
    let closed = loop {
        match c.next().await {
            Ok(ServerFrame::Push(Push::Ping(_))) => {
                pings += 1;
                c.send_raw(Message::Pong(Vec::new().into())).await;
                c.send_raw(Message::Ping(b"hi".to_vec().into())).await;
            }
            Ok(ServerFrame::Push(Push::Disconnect(d))) => pushed = Some(d),
            Ok(other) => panic!("{other:?}"),
            Err(mut closed) => {
                closed.pushed = pushed;
                break closed;
            }
        }
    };
    assert_closed_with(&closed, CloseCode::NO_PONG);
    assert!(pings >= 1, "closed before any ping");
}

#[tokio::test]
async fn client_that_never_answers_pings_closes_with_4002() {
    let server = TestServer::start(ping_config()).await;
    tokio::join!(
        ignore_pings_until_closed(&server, Codec::Json),
        ignore_pings_until_closed(&server, Codec::MessagePack)
    );
    assert_round_trip(&server, "chat:after").await;
}

/// Answers `count` ping pushes (and sends an unsolicited pong after every
/// other one, which the server ignores); fails on anything but pings and joins.
async fn answer_pings(c: &mut Client, count: usize) {
    let mut pings = 0;
    while pings < count {
        match c.next().await.expect("still open") {
            ServerFrame::Push(Push::Ping(_)) => {
                pings += 1;
                c.send_frame(&ClientFrame::Pong).await;
                if pings % 2 == 0 {
                    c.send_frame(&ClientFrame::Pong).await;
                }
            }
            ServerFrame::Push(Push::Join(_)) => {}
            other => panic!("{other:?}"),
        }
    }
}

#[tokio::test]
async fn client_that_answers_pings_stays_connected() {
    let server = TestServer::start(ping_config()).await;
    let mut json = server.user(Codec::Json, "alice").await;
    let mut pack = server.user(Codec::MessagePack, "alice").await;
    expect_ok(json.request(subscribe_req("chat:ping")).await);
    expect_ok(pack.request(subscribe_req("chat:ping")).await);
    // Five intervals, past several pong deadlines, both clients at once.
    tokio::join!(answer_pings(&mut json, 5), answer_pings(&mut pack, 5));
    assert_usable(&mut json).await;
    assert_usable(&mut pack).await;
    // Both are still members: nobody left the channel.
    assert_eq!(server.channel_members("chat:ping"), 2);
}

// ---- slow consumers ----

#[tokio::test]
async fn slow_consumer_is_disconnected_without_hurting_a_reader() {
    let mut cfg = config();
    cfg.limits.outbound_queue = 8;
    cfg.limits.rate_per_second = 1_000_000;
    cfg.limits.rate_burst = 1_000_000;
    cfg.namespaces.insert(
        "feed".into(),
        NamespaceConfig {
            publish: PublishPolicy::Any,
            ..Default::default()
        },
    );
    let server = TestServer::start(cfg).await;
    let mut slow = server.user(Codec::Json, "slow").await;
    expect_ok(slow.request(subscribe_req("feed:x")).await);
    slow.pause_reading();
    let mut reader = server.user(Codec::MessagePack, "reader").await;
    expect_ok(reader.request(subscribe_req("feed:x")).await);
    let mut publisher = server.user(Codec::Json, "publisher").await;
    assert_eq!(server.connections(), 3);

    // 2000 x 4 KiB (8 MiB) overflows the socket buffers of the slow client
    // (which never reads, so its receive window never grows) with Linux
    // defaults; on hosts with larger buffers, go on until it overflowed.
    const COUNT: usize = 2000;
    const MAX: usize = 20 * COUNT;
    // A few publications at a time, the reader taking them all before the
    // next few: its queue never holds more than WINDOW, while the slow
    // consumer's fills up.
    const WINDOW: usize = 4;
    let pad = "x".repeat(4096);
    let mut received = 0;
    while received < COUNT || (slow_consumer_disconnects(&server.node) == 0 && received < MAX) {
        let start = received;
        let mut ids = Vec::new();
        for i in start..start + WINDOW {
            ids.push(
                publisher
                    .send(publish_req("feed:x", format!("\"{i:05} {pad}\"")))
                    .await,
            );
        }
        for id in ids {
            expect_ok(publisher.reply(id).await);
        }
        for _ in 0..WINDOW {
            let p = reader.publication().await;
            let text = String::from_utf8_lossy(p.data.as_bytes()).into_owned();
            assert_eq!(&text[1..6], format!("{received:05}"), "in order, none lost");
            received += 1;
        }
    }
    assert!(received >= COUNT);
    // Deliveries happen while the publish runs, so by the last publish reply
    // the overflow has been counted and the slow connection told to close.
    assert_eq!(slow_consumer_disconnects(&server.node), 1);
    // The slow client, reading at last, finds the end of its connection after
    // what had been buffered: 4001 if the goodbye fit, else an abrupt end.
    slow.resume_reading();
    let closed = slow.closed_fully().await;
    assert!(
        closed.code == 4001 || closed.code == 1006,
        "slow consumer ended with {closed:?}"
    );
    if let Some(d) = closed.pushed {
        assert_eq!(d.code, CloseCode::SLOW_CONSUMER);
    }
    // It is gone from the node; the reader and the publisher are fine.
    assert_eq!(server.connections(), 2);
    assert_eq!(server.channel_members("feed:x"), 1);
    assert_usable(&mut reader).await;
    assert_usable(&mut publisher).await;
    assert_eq!(slow_consumer_disconnects(&server.node), 1);
}

// ---- graceful shutdown ----

#[tokio::test]
async fn graceful_shutdown_closes_clients_with_4000_and_readyz_says_draining() {
    let mut server = TestServer::start(config()).await;
    assert_eq!(
        http_get(server.addr, "/readyz").await.unwrap(),
        (200, "ready".to_owned())
    );
    assert_eq!(
        http_get(server.addr, "/healthz").await.unwrap(),
        (200, "ok".to_owned())
    );
    // An HTTP request in flight across the start of the drain: the TCP
    // connection is accepted before the WebSocket upgrades below (the listener
    // accepts in order), and its request is completed once draining.
    let mut probe = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    probe
        .write_all(b"GET /readyz HTTP/1.1\r\nHost: chorus\r\n")
        .await
        .unwrap();
    let mut clients = Vec::new();
    for codec in both() {
        let mut c = server.user(codec, "alice").await;
        expect_ok(c.request(subscribe_req("chat:room")).await);
        clients.push(c);
    }
    // Not yet connected: told to go elsewhere too.
    let pending = server.client(Codec::Json).await;
    clients.push(pending);
    assert_eq!(server.connections(), 2);

    server.stop();
    for c in &mut clients {
        let closed = c.closed_fully().await;
        assert_closed_with(&closed, CloseCode::SHUTDOWN);
        assert!(closed.pushed.unwrap().reconnect);
    }
    assert!(server.node.draining());
    probe.write_all(b"Connection: close\r\n\r\n").await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(WAIT, probe.read_to_end(&mut response))
        .await
        .expect("readyz answered in time")
        .unwrap();
    assert_eq!(
        parse_http_response(&response).unwrap(),
        (503, "draining".to_owned())
    );
    // The node finishes once its connections are gone.
    tokio::time::timeout(WAIT, &mut server.done)
        .await
        .expect("server stops in time")
        .unwrap();
    assert_eq!(server.connections(), 0);
}

/// Hooks whose `rpc` waits until the test releases it, to hold a connection
/// (and with it the drain) open for as long as the test needs.
struct HeldRpc {
    entered: std::sync::Arc<tokio::sync::Notify>,
    release: std::sync::Arc<tokio::sync::Notify>,
}

impl chorus_server::Hooks for HeldRpc {
    fn on_rpc<'a>(
        &'a self,
        _client: &'a ClientInfo,
        _method: &'a str,
        _data: Payload,
    ) -> chorus_server::BoxFuture<'a, Result<Payload, Error>> {
        Box::pin(async move {
            self.entered.notify_one();
            self.release.notified().await;
            Ok(Payload::from("\"released\""))
        })
    }
}

/// While a drain is in progress (a connection is still busy), the node keeps
/// listening: `/readyz` answers 503 to new probes and new WebSocket clients are
/// told to reconnect elsewhere (4000). The busy connection gets its reply, then
/// 4000 too, and the node stops.
#[tokio::test]
async fn draining_node_answers_readyz_503_and_turns_new_clients_away() {
    let entered = std::sync::Arc::new(tokio::sync::Notify::new());
    let release = std::sync::Arc::new(tokio::sync::Notify::new());
    let hooks = HeldRpc {
        entered: entered.clone(),
        release: release.clone(),
    };
    let mut server = TestServer::start_with_hooks(config(), hooks).await;
    let mut busy = server.user(Codec::Json, "alice").await;
    let rpc = busy
        .send(Request::Rpc(RpcRequest {
            method: "hold".into(),
            data: Payload::from("1"),
        }))
        .await;
    tokio::time::timeout(WAIT, entered.notified())
        .await
        .expect("the rpc hook runs");
    let mut idle = server.user(Codec::MessagePack, "bob").await;

    server.stop();
    // The idle connection is closed at once: draining has begun.
    assert_closed_with(&idle.closed_fully().await, CloseCode::SHUTDOWN);
    assert_eq!(
        http_get(server.addr, "/readyz").await.unwrap(),
        (503, "draining".to_owned())
    );
    assert_eq!(
        http_get(server.addr, "/healthz").await.unwrap(),
        (200, "ok".to_owned())
    );
    for codec in both() {
        let mut late = server.client(codec).await;
        assert_closed_with(&late.closed_fully().await, CloseCode::SHUTDOWN);
    }
    assert_eq!(server.connections(), 1, "only the busy one is left");

    release.notify_one();
    assert_eq!(
        busy.reply(rpc).await,
        Ok(ReplyBody::Rpc(RpcResult {
            data: Payload::from("\"released\"")
        }))
    );
    assert_closed_with(&busy.closed_fully().await, CloseCode::SHUTDOWN);
    tokio::time::timeout(WAIT, &mut server.done)
        .await
        .expect("server stops in time")
        .unwrap();
    assert_eq!(server.connections(), 0);
}

/// An rpc handler that takes a while, like a publish during an election.
struct SlowRpc;

impl chorus_server::Hooks for SlowRpc {
    fn on_rpc<'a>(
        &'a self,
        _client: &'a ClientInfo,
        _method: &'a str,
        data: Payload,
    ) -> chorus_server::BoxFuture<'a, Result<Payload, Error>> {
        Box::pin(async move {
            tokio::time::sleep(std::time::Duration::from_secs(3)).await;
            Ok(data)
        })
    }
}

#[tokio::test]
async fn a_pong_queued_behind_a_slow_command_is_not_late() {
    let mut config = config();
    config.limits.ping_interval_ms = 500;
    config.limits.pong_timeout_ms = 1_000;
    let server = TestServer::start_with_hooks(config, SlowRpc).await;
    let mut c = server.user(Codec::Json, "alice").await;
    // Wait for a ping, then send a command that takes three times the pong
    // timeout, with the pong right behind it.
    loop {
        if let Ok(ServerFrame::Push(Push::Ping(_))) = c.next().await {
            break;
        }
    }
    let id = c
        .send(Request::Rpc(RpcRequest {
            method: "slow".into(),
            data: Payload::from("1"),
        }))
        .await;
    c.send_frame(&ClientFrame::Pong).await;
    // The node read the pong as soon as it could: the connection stays open.
    assert!(c.reply(id).await.is_ok());
    answer_pings(&mut c, 2).await;
    assert_usable(&mut c).await;
}
