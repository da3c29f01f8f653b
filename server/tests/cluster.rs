//! Cluster mode against real `nats-server` processes: nodes in this process
//! (and, where a node must be SIGKILLed, the `chorus` binary) sharing one NATS
//! server or a three-server NATS cluster with JetStream.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use chorus_protocol::message::{
    ChannelRequest, PublishRequest, SendRequest, StreamPosition, SubscribeRequest,
};
use chorus_protocol::{Codec, ErrorCode, Payload, Push, ReplyBody, Request};
use chorus_server::Config;
use chorus_server::config::NamespaceConfig;
use chorus_server::testing::Names;
use chorus_testkit::{NatsCluster, NatsServer};
use common::*;

const KEY: &str = "api-key-for-cluster-tests-0123";
/// Short, so that dead nodes are noticed quickly (the bound is TTL + TTL/3).
const NODE_TTL_MS: u64 = 2_000;

fn cluster_config(urls: Vec<String>) -> Config {
    let mut c = config();
    c.nats = urls;
    c.api_key = Some(KEY.into());
    c.cluster.node_ttl_ms = NODE_TTL_MS;
    c.namespaces.insert(
        "live".into(),
        NamespaceConfig {
            history_size: 0,
            ..Default::default()
        },
    );
    c
}

fn text(s: &str) -> Payload {
    Payload::json(&s).unwrap()
}

fn publish_keyed(channel: &str, data: &str, key: &str) -> Request {
    Request::Publish(PublishRequest {
        channel: channel.into(),
        data: text(data),
        idempotency_key: Some(key.into()),
    })
}

fn subscribe_since(channel: &str, since: StreamPosition) -> Request {
    Request::Subscribe(SubscribeRequest {
        channel: channel.into(),
        since: Some(since),
        data: None,
    })
}

fn channel_req(channel: &str) -> ChannelRequest {
    ChannelRequest {
        channel: channel.into(),
    }
}

/// The next push that is not a publication, join or leave.
async fn next_message(c: &mut Client) -> Push {
    loop {
        match c.push().await {
            Push::Publication(_) | Push::Join(_) | Push::Leave(_) => continue,
            other => return other,
        }
    }
}

async fn presence_users(c: &mut Client, channel: &str) -> Vec<String> {
    match expect_ok(c.request(Request::Presence(channel_req(channel))).await) {
        ReplyBody::Presence(p) => {
            let mut users: Vec<String> = p.clients.into_iter().map(|i| i.user).collect();
            users.sort();
            users
        }
        other => panic!("unexpected {other:?}"),
    }
}

async fn get_json(addr: SocketAddr, path: &str) -> serde_json::Value {
    let (status, body) = http(addr, "GET", path, Some(KEY), "").await;
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap()
}

/// A node process on the given NATS servers, with the namespaces of [`config`].
async fn node_process(urls: &[String]) -> NodeProcess {
    let nats: Vec<String> = urls.iter().map(|u| format!("{u:?}")).collect();
    NodeProcess::start(&format!(
        "nats = [{}]\napi_key = \"{KEY}\"\n\
         [auth]\nhmac_secret = \"{SECRET}\"\n\
         [cluster]\nnode_ttl_ms = {NODE_TTL_MS}\n\
         [namespaces.chat]\nhistory_size = 100\nhistory_ttl_ms = 600000\npresence = true\njoin_leave = true\n\
         [namespaces.live]\nhistory_size = 0\n",
        nats.join(", ")
    ))
    .await
}

#[tokio::test]
async fn publications_messages_and_broadcasts_cross_nodes() {
    let nats = NatsServer::start().await;
    let a = TestServer::start(cluster_config(vec![nats.url()])).await;
    let b = TestServer::start(cluster_config(vec![nats.url()])).await;
    let mut alice = a.user(Codec::Json, "alice").await;
    let mut bob = b.user(Codec::MessagePack, "bob").await;
    expect_ok(alice.request(subscribe_req("chat:room")).await);
    expect_ok(bob.request(subscribe_req("chat:room")).await);

    // Interleaved publishes through both nodes: one offset sequence, seen in
    // the same order on both nodes.
    for i in 0..10 {
        let (from, label) = if i % 2 == 0 {
            (&mut alice, "a")
        } else {
            (&mut bob, "b")
        };
        expect_ok(
            from.request(publish_req("chat:room", text(&format!("{label}{i}"))))
                .await,
        );
    }
    for c in [&mut alice, &mut bob] {
        for i in 0..10u64 {
            let p = c.publication().await;
            assert_eq!(p.offset, Some(i + 1));
            let label = if i % 2 == 0 { "a" } else { "b" };
            assert_eq!(p.data, text(&format!("{label}{i}")));
        }
    }

    // A second connection of bob on node A: a message reaches both devices.
    let mut bob2 = a.user(Codec::Json, "bob").await;
    expect_ok(
        alice
            .request(Request::Send(SendRequest {
                user: "bob".into(),
                data: text("psst"),
            }))
            .await,
    );
    for device in [&mut bob, &mut bob2] {
        match next_message(device).await {
            Push::Message(m) => assert_eq!(m.data, text("psst")),
            other => panic!("unexpected {other:?}"),
        }
    }

    // A broadcast through the API of node B reaches every connection.
    let (status, body) = http(
        b.addr,
        "POST",
        "/api/broadcast",
        Some(KEY),
        r#"{"data":"all"}"#,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    for c in [&mut alice, &mut bob, &mut bob2] {
        match next_message(c).await {
            Push::Message(m) => assert_eq!(m.data, text("all")),
            other => panic!("unexpected {other:?}"),
        }
    }

    // Disconnecting a user through node A closes their connections on B too.
    let (status, body) = http(
        a.addr,
        "POST",
        "/api/disconnect",
        Some(KEY),
        r#"{"user":"bob","reason":"bye"}"#,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    for device in [&mut bob, &mut bob2] {
        assert_closed_with(&device.closed().await, chorus_protocol::CloseCode::KICKED);
    }
    assert_usable(&mut alice).await;
}

#[tokio::test]
async fn a_node_listens_to_a_channel_only_while_it_has_members() {
    let nats = NatsServer::start().await;
    let a = TestServer::start(cluster_config(vec![nats.url()])).await;
    let names = Names::new("chorus");
    let channel_subject = names.channel("chat:a.b.>*");
    let user_subject = names.user("dora");
    let subs = nats.subscriptions().await;
    assert!(!subs.contains(&channel_subject), "{subs:?}");
    assert!(!subs.contains(&user_subject), "{subs:?}");

    let mut first = a.user(Codec::Json, "dora").await;
    let mut second = a.user(Codec::MessagePack, "erin").await;
    let subs = nats.subscriptions().await;
    assert!(subs.contains(&user_subject), "{user_subject} in {subs:?}");
    for c in [&mut first, &mut second] {
        expect_ok(c.request(subscribe_req("chat:a.b.>*")).await);
    }
    let subs = nats.subscriptions().await;
    let count = subs.iter().filter(|s| **s == channel_subject).count();
    assert_eq!(
        count, 1,
        "one subscription however many local members: {subs:?}"
    );
    assert!(
        !subs.iter().any(|s| s.contains('*') && s.contains(".ch.")),
        "a hostile channel name never widens a subscription: {subs:?}"
    );

    expect_ok(
        first
            .request(Request::Unsubscribe(channel_req("chat:a.b.>*")))
            .await,
    );
    assert!(
        nats.subscriptions().await.contains(&channel_subject),
        "one member left"
    );
    expect_ok(
        second
            .request(Request::Unsubscribe(channel_req("chat:a.b.>*")))
            .await,
    );
    let deadline = tokio::time::Instant::now() + WAIT;
    while nats.subscriptions().await.contains(&channel_subject) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "channel subject still subscribed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    first.close_fully().await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while nats.subscriptions().await.contains(&user_subject) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "user subject still subscribed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn recovery_on_a_different_node() {
    let nats = NatsServer::start().await;
    let a = TestServer::start(cluster_config(vec![nats.url()])).await;
    let b = TestServer::start(cluster_config(vec![nats.url()])).await;
    let mut publisher = b.user(Codec::Json, "pub").await;
    expect_ok(publisher.request(subscribe_req("chat:news")).await);
    let mut reader = a.user(Codec::MessagePack, "reader").await;
    expect_ok(reader.request(subscribe_req("chat:news")).await);
    for i in 1..=3 {
        expect_ok(
            publisher
                .request(publish_req("chat:news", text(&format!("m{i}"))))
                .await,
        );
    }
    let mut last = None;
    for i in 1..=3u64 {
        let p = reader.publication().await;
        assert_eq!(p.offset, Some(i));
        last = Some(StreamPosition {
            offset: i,
            epoch: p.epoch.unwrap(),
        });
    }
    reader.close_fully().await;
    for i in 4..=8 {
        expect_ok(
            publisher
                .request(publish_req("chat:news", text(&format!("m{i}"))))
                .await,
        );
    }
    // Back, on the other node.
    let mut reader = b.user(Codec::Json, "reader").await;
    match expect_ok(
        reader
            .request(subscribe_since("chat:news", last.unwrap()))
            .await,
    ) {
        ReplyBody::Subscribe(r) => {
            assert!(r.recovered);
            let offsets: Vec<u64> = r.publications.iter().filter_map(|p| p.offset).collect();
            assert_eq!(offsets, [4, 5, 6, 7, 8]);
            assert_eq!(r.publications[0].data, text("m4"));
            assert_eq!(r.position.unwrap().offset, 8);
        }
        other => panic!("unexpected {other:?}"),
    }
    // A position from another epoch is not recoverable.
    let stale = StreamPosition {
        offset: 2,
        epoch: "not-this-one".into(),
    };
    let mut other = a.user(Codec::Json, "other").await;
    match expect_ok(other.request(subscribe_since("chat:news", stale)).await) {
        ReplyBody::Subscribe(r) => {
            assert!(!r.recovered);
            assert!(r.publications.is_empty());
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn idempotent_publish_across_nodes() {
    let nats = NatsServer::start().await;
    let a = TestServer::start(cluster_config(vec![nats.url()])).await;
    let b = TestServer::start(cluster_config(vec![nats.url()])).await;
    for channel in ["chat:idem", "live:idem"] {
        let mut on_a = a.user(Codec::Json, "pa").await;
        let mut on_b = b.user(Codec::MessagePack, "pb").await;
        expect_ok(on_a.request(subscribe_req(channel)).await);
        expect_ok(on_b.request(subscribe_req(channel)).await);
        let first = expect_ok(on_a.request(publish_keyed(channel, "once", "k-1")).await);
        let again = expect_ok(on_b.request(publish_keyed(channel, "once", "k-1")).await);
        match (first, again) {
            (ReplyBody::Publish(f), ReplyBody::Publish(g)) => {
                assert!(!f.duplicate, "{channel}");
                assert!(
                    g.duplicate,
                    "{channel}: the repeat through node B is a duplicate"
                );
            }
            other => panic!("unexpected {other:?}"),
        }
        expect_ok(on_b.request(publish_keyed(channel, "next", "k-2")).await);
        for c in [&mut on_a, &mut on_b] {
            assert_eq!(c.publication().await.data, text("once"), "{channel}");
            assert_eq!(
                c.publication().await.data,
                text("next"),
                "{channel}: delivered once"
            );
        }
    }
}

#[tokio::test]
async fn presence_across_nodes_and_after_a_node_is_killed() {
    let nats = NatsServer::start().await;
    let a = TestServer::start(cluster_config(vec![nats.url()])).await;
    let mut p = node_process(&[nats.url()]).await;
    let mut alice = a.user(Codec::Json, "alice").await;
    expect_ok(alice.request(subscribe_req("chat:lobby")).await);
    let mut carol = p.user("carol").await;
    expect_ok(carol.request(subscribe_req("chat:lobby")).await);
    loop {
        match alice.push().await {
            Push::Join(j) if j.info.user == "alice" => continue,
            Push::Join(j) => break assert_eq!(j.info.user, "carol"),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(
        presence_users(&mut alice, "chat:lobby").await,
        ["alice", "carol"]
    );
    assert_eq!(
        presence_users(&mut carol, "chat:lobby").await,
        ["alice", "carol"]
    );
    match expect_ok(
        alice
            .request(Request::PresenceStats(channel_req("chat:lobby")))
            .await,
    ) {
        ReplyBody::PresenceStats(s) => assert_eq!((s.clients, s.users), (2, 2)),
        other => panic!("unexpected {other:?}"),
    }

    // The registry lists both nodes with their connection counts (other
    // nodes' counts are as of their last refresh, a third of the node TTL).
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let nodes = get_json(a.addr, "/api/nodes").await;
        let list = nodes["nodes"].as_array().unwrap();
        assert_eq!(list.len(), 2, "{nodes}");
        if list.iter().all(|n| n["connections"] == 1) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{nodes}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    p.kill();
    // Node A notices within the node TTL and tells its subscribers.
    match alice.push().await {
        Push::Leave(l) => assert_eq!(l.info.user, "carol"),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(presence_users(&mut alice, "chat:lobby").await, ["alice"]);
    let nodes = get_json(a.addr, "/api/nodes").await;
    assert_eq!(nodes["nodes"].as_array().unwrap().len(), 1, "{nodes}");
    assert_usable(&mut alice).await;
}

/// A subscribe that fails part way (here: its presence entry cannot be
/// written while the NATS server is stopped) leaves nothing behind: the
/// retry succeeds instead of being refused as a double subscribe, and the
/// channel lists the member once.
#[tokio::test]
async fn a_subscribe_that_fails_part_way_leaves_nothing_behind() {
    let nats = NatsServer::start().await;
    let mut config = cluster_config(vec![nats.url()]);
    config.cluster.request_timeout_ms = 1_000;
    config.namespaces.insert(
        "room".into(),
        NamespaceConfig {
            history_size: 0,
            presence: true,
            ..Default::default()
        },
    );
    let a = TestServer::start(config).await;
    // Alice keeps the node listening to the channel, so Bob's join needs no
    // NATS round trip; his presence write does.
    let mut alice = a.user(Codec::Json, "alice").await;
    expect_ok(alice.request(subscribe_req("room:x")).await);
    let mut bob = a.user(Codec::Json, "bob").await;

    let pid = nats.pid().expect("nats-server runs");
    signal(pid, "STOP");
    let refused = bob.request(subscribe_req("room:x")).await;
    signal(pid, "CONT");
    let e = refused.expect_err("no presence write succeeds while NATS is stopped");
    assert!(e.temporary, "a broker failure is temporary: {e:?}");

    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        match bob.request(subscribe_req("room:x")).await {
            Ok(_) => break,
            Err(e) => {
                assert_ne!(
                    e.code,
                    ErrorCode::ALREADY_SUBSCRIBED,
                    "the failed subscribe stayed"
                );
                assert!(e.temporary, "{e:?}");
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "NATS did not come back: {e:?}"
                );
                // Retrying at once would only meet the same outage.
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    assert_eq!(presence_users(&mut alice, "room:x").await, ["alice", "bob"]);
}

#[tokio::test]
async fn readiness_follows_the_nats_connection() {
    let mut nats = NatsServer::start().await;
    let a = TestServer::start(cluster_config(vec![nats.url()])).await;
    assert_eq!(http_get(a.addr, "/readyz").await.unwrap().0, 200);
    nats.kill();
    let deadline = tokio::time::Instant::now() + WAIT;
    while http_get(a.addr, "/readyz").await.unwrap().0 != 503 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "still ready without NATS"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    nats.restart().await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while http_get(a.addr, "/readyz").await.unwrap().0 != 200 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "not ready after NATS came back"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // History survived the NATS restart (file storage), and traffic flows again.
    let mut c = a.user(Codec::Json, "after").await;
    expect_ok(c.request(subscribe_req("chat:x")).await);
    expect_ok(c.request(publish_req("chat:x", text("back"))).await);
    assert_eq!(c.publication().await.data, text("back"));
}

/// The NATS server a node is connected to, by the connection name it gives.
async fn server_of(cluster: &mut NatsCluster, node: &str, n: usize) -> usize {
    let name = format!("chorus node {node}");
    for i in 0..n {
        let connz = cluster.server(i).monitor("/connz").await;
        let names = connz["connections"].as_array().cloned().unwrap_or_default();
        if names.iter().any(|c| c["name"] == name.as_str()) {
            return i;
        }
    }
    panic!("{name} is connected to no server");
}

#[tokio::test]
async fn losing_a_nats_server_mid_stream_loses_no_stored_publication() {
    let mut cluster = NatsCluster::start(3).await;
    let mut config = cluster_config(cluster.urls());
    config.cluster.replicas = 3;
    let a = TestServer::start(config.clone()).await;
    let b = TestServer::start(config).await;
    let mut reader = a.user(Codec::MessagePack, "reader").await;
    expect_ok(reader.request(subscribe_req("chat:stream")).await);
    let mut writer = b.user(Codec::Json, "writer").await;
    expect_ok(writer.request(subscribe_req("chat:stream")).await);

    const TOTAL: usize = 60;
    let victim = server_of(&mut cluster, &a.handle().info().node, 3).await;
    for i in 0..TOTAL {
        if i == TOTAL / 3 {
            cluster.server(victim).kill();
        }
        // Retried with the same key until acknowledged: a retry after a lost
        // ack is a duplicate, never a second copy.
        let key = format!("w-{i}");
        let mut attempts = 0;
        loop {
            match writer
                .request(publish_keyed("chat:stream", &format!("n{i}"), &key))
                .await
            {
                Ok(_) => break,
                Err(e) => {
                    attempts += 1;
                    assert!(attempts < 50, "publish {i} keeps failing: {e:?}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }
    for i in 0..TOTAL {
        let p = reader.publication().await;
        assert_eq!(p.offset, Some(i as u64 + 1), "no gap, no duplicate");
        assert_eq!(p.data, text(&format!("n{i}")));
    }
}

#[tokio::test]
async fn a_lost_history_stream_starts_a_new_epoch() {
    let nats = NatsServer::start().await;
    let a = TestServer::start(cluster_config(vec![nats.url()])).await;
    let mut c = a.user(Codec::Json, "c").await;
    expect_ok(c.request(subscribe_req("chat:e")).await);
    let first = match expect_ok(c.request(publish_req("chat:e", text("1"))).await) {
        ReplyBody::Publish(r) => r.position.unwrap(),
        other => panic!("unexpected {other:?}"),
    };
    let nc = async_nats::connect(nats.url()).await.unwrap();
    let reply = nc
        .request("$JS.API.STREAM.DELETE.chorus_history", "".into())
        .await
        .unwrap();
    assert!(String::from_utf8_lossy(&reply.payload).contains("\"success\":true"));
    let second = match expect_ok(c.request(publish_req("chat:e", text("2"))).await) {
        ReplyBody::Publish(r) => r.position.unwrap(),
        other => panic!("unexpected {other:?}"),
    };
    assert_ne!(second.epoch, first.epoch);
    assert_eq!(second.offset, 1);
    let mut late = a.user(Codec::MessagePack, "late").await;
    match expect_ok(late.request(subscribe_since("chat:e", first)).await) {
        ReplyBody::Subscribe(r) => {
            assert!(!r.recovered, "the old epoch is gone");
            assert_eq!(r.position.unwrap(), second);
        }
        other => panic!("unexpected {other:?}"),
    }
}

fn history_since(
    channel: &str,
    since: Option<StreamPosition>,
    limit: Option<u32>,
    reverse: bool,
) -> Request {
    Request::History(chorus_protocol::message::HistoryRequest {
        channel: channel.into(),
        limit,
        since,
        reverse,
    })
}

fn offsets_of(body: ReplyBody) -> Vec<u64> {
    let publications = match body {
        ReplyBody::History(h) => h.publications,
        ReplyBody::Subscribe(s) => s.publications,
        other => panic!("unexpected {other:?}"),
    };
    publications.iter().filter_map(|p| p.offset).collect()
}

#[tokio::test]
async fn publishers_on_every_node_to_one_history_channel_all_succeed_in_one_order() {
    let cluster = NatsCluster::start(3).await;
    let mut config = cluster_config(cluster.urls());
    config.cluster.replicas = 3;
    let nodes = [
        TestServer::start(config.clone()).await,
        TestServer::start(config.clone()).await,
        TestServer::start(config).await,
    ];
    let mut reader = nodes[0].user(Codec::MessagePack, "reader").await;
    expect_ok(reader.request(subscribe_req("chat:hot")).await);
    const PER_CLIENT: usize = 30;
    let mut publishers = Vec::new();
    for (n, node) in nodes.iter().enumerate() {
        for k in 0..3 {
            let mut c = node.user(Codec::Json, &format!("p{n}{k}")).await;
            expect_ok(c.request(subscribe_req("chat:hot")).await);
            publishers.push(tokio::spawn(async move {
                let mut offsets = Vec::new();
                for i in 0..PER_CLIENT {
                    let data = text(&format!("{n}.{k}.{i}"));
                    // Every publish succeeds: contention between nodes is
                    // resolved by the server, never handed to the client.
                    match c.request(publish_req("chat:hot", data)).await {
                        Ok(ReplyBody::Publish(r)) => offsets.push(r.position.unwrap().offset),
                        other => panic!("publish {n}.{k}.{i}: {other:?}"),
                    }
                }
                offsets
            }));
        }
    }
    let mut all = Vec::new();
    for p in publishers {
        all.extend(p.await.unwrap());
    }
    all.sort_unstable();
    let total = 9 * PER_CLIENT as u64;
    assert_eq!(all, (1..=total).collect::<Vec<u64>>(), "one order, no gap");
    for want in 1..=total {
        let p = reader.publication().await;
        assert_eq!(p.offset, Some(want), "delivered in offset order");
    }
}

#[tokio::test]
async fn history_from_a_position_reads_exactly_what_follows_it() {
    let nats = NatsServer::start().await;
    let mut config = cluster_config(vec![nats.url()]);
    config.limits.rate_per_second = 100_000;
    config.limits.rate_burst = 100_000;
    config.namespaces.insert(
        "big".into(),
        NamespaceConfig {
            history_size: 1000,
            history_ttl_ms: 600_000,
            ..Default::default()
        },
    );
    let node = TestServer::start(config).await;
    let mut c = node.user(Codec::MessagePack, "writer").await;
    expect_ok(c.request(subscribe_req("big:x")).await);
    expect_ok(c.request(subscribe_req("big:y")).await);
    // Two channels interleaved unevenly in the stream: 300 on x, 500 on y.
    let mut epoch = String::new();
    let (mut x, mut y) = (0u64, 0u64);
    while x < 300 || y < 500 {
        let channel = if (x * 5 + y * 3) % 7 < 3 && x < 300 || y == 500 {
            x += 1;
            "big:x"
        } else {
            y += 1;
            "big:y"
        };
        if let ReplyBody::Publish(r) = expect_ok(c.request(publish_req(channel, text("v"))).await) {
            if channel == "big:x" {
                let position = r.position.unwrap();
                assert_eq!(position.offset, x);
                epoch = position.epoch;
            }
        }
    }
    let at = |offset: u64| {
        Some(StreamPosition {
            offset,
            epoch: epoch.clone(),
        })
    };
    for since in [0, 1, 2, 57, 150, 298, 299] {
        let got = offsets_of(expect_ok(
            c.request(history_since("big:x", at(since), Some(1000), false))
                .await,
        ));
        assert_eq!(
            got,
            (since + 1..=300).collect::<Vec<u64>>(),
            "since {since}"
        );
        let limited = offsets_of(expect_ok(
            c.request(history_since("big:x", at(since), Some(10), false))
                .await,
        ));
        assert_eq!(
            limited,
            (since + 1..=(since + 10).min(300)).collect::<Vec<u64>>(),
            "since {since}, 10"
        );
    }
    assert!(
        offsets_of(expect_ok(
            c.request(history_since("big:x", at(300), Some(1000), false))
                .await
        ))
        .is_empty()
    );
    let newest = offsets_of(expect_ok(
        c.request(history_since("big:x", None, Some(3), true)).await,
    ));
    assert_eq!(newest, [300, 299, 298]);
    let before = offsets_of(expect_ok(
        c.request(history_since("big:x", at(100), Some(4), true))
            .await,
    ));
    assert_eq!(before, [99, 98, 97, 96]);
    let oldest = offsets_of(expect_ok(
        c.request(history_since("big:x", None, Some(2), false))
            .await,
    ));
    assert_eq!(oldest, [1, 2]);

    // The chat namespace keeps 100: a position before its window is not
    // recovered, one inside it is, exactly.
    expect_ok(c.request(subscribe_req("chat:w")).await);
    let mut epoch = String::new();
    for _ in 0..130 {
        if let ReplyBody::Publish(r) = expect_ok(c.request(publish_req("chat:w", text("w"))).await)
        {
            epoch = r.position.unwrap().epoch;
        }
    }
    let mut late = node.user(Codec::Json, "late").await;
    let since = |offset: u64| StreamPosition {
        offset,
        epoch: epoch.clone(),
    };
    match expect_ok(late.request(subscribe_since("chat:w", since(20))).await) {
        ReplyBody::Subscribe(r) => assert!(!r.recovered, "offset 21 is out of the window"),
        other => panic!("unexpected {other:?}"),
    }
    expect_ok(
        late.request(Request::Unsubscribe(channel_req("chat:w")))
            .await,
    );
    let body = expect_ok(late.request(subscribe_since("chat:w", since(40))).await);
    assert!(matches!(&body, ReplyBody::Subscribe(r) if r.recovered));
    assert_eq!(offsets_of(body), (41..=130).collect::<Vec<u64>>());
}

#[tokio::test]
async fn a_node_reaches_nats_over_tls() {
    let nats = NatsServer::start_with(chorus_testkit::NatsOptions {
        tls: true,
        ..Default::default()
    })
    .await;
    assert!(nats.url().starts_with("tls://"));
    let mut config = cluster_config(vec![nats.url()]);
    config.cluster.nats_ca_file = nats.ca_file();
    let a = TestServer::start(config.clone()).await;
    let b = TestServer::start(config).await;
    let mut reader = a.user(Codec::MessagePack, "reader").await;
    expect_ok(reader.request(subscribe_req("chat:tls")).await);
    let mut writer = b.user(Codec::Json, "writer").await;
    expect_ok(writer.request(subscribe_req("chat:tls")).await);
    // Through JetStream (history) and live NATS traffic, both over TLS.
    expect_ok(
        writer
            .request(publish_req("chat:tls", text("secret")))
            .await,
    );
    let p = reader.publication().await;
    assert_eq!(p.data, text("secret"));
    assert_eq!(p.offset, Some(1));
}
