//! Core messaging over real WebSocket connections, in both codecs.

mod common;

use chorus_protocol::message::*;
use chorus_protocol::{Payload, Push, ReplyBody, Request};
use common::*;

fn publish(channel: &str, data: &'static str) -> Request {
    Request::Publish(PublishRequest {
        channel: channel.into(),
        data: Payload::from(data),
        idempotency_key: None,
    })
}

fn subscribe(channel: &str) -> Request {
    Request::Subscribe(SubscribeRequest {
        channel: channel.into(),
        ..Default::default()
    })
}

fn subscribe_since(channel: &str, since: StreamPosition) -> Request {
    Request::Subscribe(SubscribeRequest {
        channel: channel.into(),
        since: Some(since),
        data: None,
    })
}

fn subscribed(reply: Result<ReplyBody, Error>) -> SubscribeResult {
    match reply {
        Ok(ReplyBody::Subscribe(r)) => r,
        other => panic!("expected a subscribe reply, got {other:?}"),
    }
}

#[tokio::test]
async fn publish_reaches_subscribers_in_both_codecs() {
    let server = TestServer::start(config()).await;
    for sub_codec in both() {
        for pub_codec in both() {
            let mut alice = server.user(sub_codec, "alice").await;
            let mut bob = server.user(pub_codec, "bob").await;
            let r = subscribed(alice.request(subscribe("chat:room")).await);
            assert!(r.position.is_some(), "history channel has a position");
            subscribed(bob.request(subscribe("chat:room")).await);
            let reply = bob
                .request(publish("chat:room", r#"{"text":"hi"}"#))
                .await
                .unwrap();
            let ReplyBody::Publish(result) = reply else {
                panic!("{reply:?}")
            };
            let position = result.position.expect("history channel");
            let p = alice.publication().await;
            assert_eq!(p.channel, "chat:room");
            assert_eq!(p.data, Payload::from(r#"{"text":"hi"}"#));
            assert_eq!(p.offset, Some(position.offset));
            assert_eq!(p.info.as_ref().map(|i| i.user.as_str()), Some("bob"));
            // The publisher is subscribed too, and gets its own publication.
            assert_eq!(bob.publication().await.offset, Some(position.offset));
            alice.close().await;
            bob.close().await;
        }
    }
}

#[tokio::test]
async fn binary_payloads_cross_codecs_byte_for_byte() {
    let server = TestServer::start(config()).await;
    let mut json = server.user(chorus_protocol::Codec::Json, "j").await;
    let mut pack = server.user(chorus_protocol::Codec::MessagePack, "m").await;
    subscribed(json.request(subscribe("chat:bin")).await);
    subscribed(pack.request(subscribe("chat:bin")).await);
    let data = Payload::from(vec![0u8, 159, 146, 150, 255]);
    pack.request(Request::Publish(PublishRequest {
        channel: "chat:bin".into(),
        data: data.clone(),
        idempotency_key: None,
    }))
    .await
    .unwrap();
    assert_eq!(json.publication().await.data, data);
    assert_eq!(pack.publication().await.data, data);
}

#[tokio::test]
async fn resubscribe_recovers_exactly_what_was_missed() {
    let server = TestServer::start(config()).await;
    for codec in both() {
        let channel = format!("chat:recover-{codec:?}");
        let mut alice = server.user(codec, "alice").await;
        let mut bob = server.user(codec, "bob").await;
        subscribed(alice.request(subscribe(&channel)).await);
        subscribed(bob.request(subscribe(&channel)).await);
        bob.request(publish(&channel, "1")).await.unwrap();
        let seen = alice.publication().await;
        let last = StreamPosition {
            offset: seen.offset.unwrap(),
            epoch: seen.epoch.unwrap(),
        };
        alice.close().await;
        for data in ["2", "3", "4"] {
            bob.request(publish(&channel, data)).await.unwrap();
        }
        let mut alice = server.user(codec, "alice").await;
        let r = subscribed(alice.request(subscribe_since(&channel, last.clone())).await);
        assert!(r.recovered);
        let got: Vec<_> = r.publications.iter().map(|p| p.data.clone()).collect();
        assert_eq!(
            got,
            [Payload::from("2"), Payload::from("3"), Payload::from("4")]
        );
        let offsets: Vec<_> = r.publications.iter().map(|p| p.offset.unwrap()).collect();
        assert_eq!(offsets, [last.offset + 1, last.offset + 2, last.offset + 3]);
        // Live publications continue after the recovered ones, with no gap.
        bob.request(publish(&channel, "5")).await.unwrap();
        assert_eq!(alice.publication().await.offset, Some(last.offset + 4));
        // A position from another epoch is not recoverable.
        let mut carol = server.user(codec, "carol").await;
        let stale = StreamPosition {
            offset: 1,
            epoch: "gone".into(),
        };
        let r = subscribed(carol.request(subscribe_since(&channel, stale)).await);
        assert!(!r.recovered && r.publications.is_empty());
        assert_eq!(r.position.unwrap().offset, last.offset + 4);
    }
}

#[tokio::test]
async fn presence_history_and_join_leave() {
    let server = TestServer::start(config()).await;
    for codec in both() {
        let channel = format!("chat:p-{codec:?}");
        let mut alice = server.user(codec, "alice").await;
        subscribed(alice.request(subscribe(&channel)).await);
        let Push::Join(own) = alice.push().await else {
            panic!("own join")
        };
        assert_eq!(own.info.user, "alice");
        let mut bob = server.user(codec, "bob").await;
        subscribed(bob.request(subscribe(&channel)).await);
        let Push::Join(join) = alice.push().await else {
            panic!("join")
        };
        assert_eq!(join.info.user, "bob");
        let reply = alice
            .request(Request::Presence(ChannelRequest {
                channel: channel.clone(),
            }))
            .await
            .unwrap();
        let ReplyBody::Presence(p) = reply else {
            panic!("{reply:?}")
        };
        let mut users: Vec<_> = p.clients.iter().map(|c| c.user.clone()).collect();
        users.sort();
        assert_eq!(users, ["alice", "bob"]);
        let reply = alice
            .request(Request::PresenceStats(ChannelRequest {
                channel: channel.clone(),
            }))
            .await
            .unwrap();
        assert_eq!(
            reply,
            ReplyBody::PresenceStats(PresenceStatsResult {
                clients: 2,
                users: 2
            })
        );
        for data in ["a", "b", "c"] {
            bob.request(publish(&channel, data)).await.unwrap();
        }
        let history = |limit, reverse| {
            Request::History(HistoryRequest {
                channel: channel.clone(),
                limit: Some(limit),
                since: None,
                reverse,
            })
        };
        let ReplyBody::History(h) = alice.request(history(2, true)).await.unwrap() else {
            panic!()
        };
        let got: Vec<_> = h.publications.iter().map(|p| p.data.clone()).collect();
        assert_eq!(got, [Payload::from("c"), Payload::from("b")]);
        assert_eq!(h.position.offset, 3);
        bob.request(Request::Unsubscribe(ChannelRequest {
            channel: channel.clone(),
        }))
        .await
        .unwrap();
        loop {
            match alice.push().await {
                Push::Leave(m) => {
                    assert_eq!(m.info.user, "bob");
                    break;
                }
                Push::Publication(_) => continue,
                other => panic!("{other:?}"),
            }
        }
        let reply = alice
            .request(Request::PresenceStats(ChannelRequest {
                channel: channel.clone(),
            }))
            .await
            .unwrap();
        assert_eq!(
            reply,
            ReplyBody::PresenceStats(PresenceStatsResult {
                clients: 1,
                users: 1
            })
        );
    }
}

#[tokio::test]
async fn send_to_user_reaches_every_connection_of_that_user() {
    let server = TestServer::start(config()).await;
    let mut phone = server.user(chorus_protocol::Codec::Json, "bob").await;
    let mut laptop = server
        .user(chorus_protocol::Codec::MessagePack, "bob")
        .await;
    let mut other = server.user(chorus_protocol::Codec::Json, "carol").await;
    let mut alice = server.user(chorus_protocol::Codec::Json, "alice").await;
    alice
        .request(Request::Send(SendRequest {
            user: "bob".into(),
            data: Payload::from("\"psst\""),
        }))
        .await
        .unwrap();
    for device in [&mut phone, &mut laptop] {
        let Push::Message(m) = device.push().await else {
            panic!("message")
        };
        assert_eq!(m.data, Payload::from("\"psst\""));
        assert_eq!(m.from.unwrap().user, "alice");
        assert!(!m.broadcast);
    }
    // carol got nothing: her next frame is the reply to her own ping.
    assert_eq!(
        other.request(Request::Ping(Empty {})).await,
        Ok(ReplyBody::Ping(Empty {}))
    );
}

#[tokio::test]
async fn idempotent_publish_delivers_once() {
    let server = TestServer::start(config()).await;
    let mut alice = server.user(chorus_protocol::Codec::Json, "alice").await;
    let mut bob = server.user(chorus_protocol::Codec::Json, "bob").await;
    subscribed(alice.request(subscribe("chat:idem")).await);
    subscribed(bob.request(subscribe("chat:idem")).await);
    let keyed = |data: &'static str| {
        Request::Publish(PublishRequest {
            channel: "chat:idem".into(),
            data: Payload::from(data),
            idempotency_key: Some("k1".into()),
        })
    };
    let first = bob.request(keyed("1")).await.unwrap();
    let second = bob.request(keyed("1")).await.unwrap();
    let ReplyBody::Publish(first) = first else {
        panic!()
    };
    let ReplyBody::Publish(second) = second else {
        panic!()
    };
    assert!(!first.duplicate && second.duplicate);
    bob.request(publish("chat:idem", "2")).await.unwrap();
    let got = [
        alice.publication().await.data,
        alice.publication().await.data,
    ];
    assert_eq!(got, [Payload::from("1"), Payload::from("2")]);
}

#[tokio::test]
async fn idempotency_keys_are_bounded_in_length() {
    let server = TestServer::start(config()).await;
    let mut bob = server.user(chorus_protocol::Codec::Json, "bob").await;
    subscribed(bob.request(subscribe("chat:keys")).await);
    let keyed = |key: String| {
        Request::Publish(PublishRequest {
            channel: "chat:keys".into(),
            data: Payload::from("1"),
            idempotency_key: Some(key),
        })
    };
    // "1 to 256 bytes" (docs/protocol.md, docs/api.md).
    let longest = 256;
    assert!(bob.request(keyed("k".repeat(longest))).await.is_ok());
    let e = expect_error(
        bob.request(keyed("k".repeat(longest + 1))).await,
        chorus_protocol::ErrorCode::BAD_REQUEST,
    );
    assert!(e.message.contains("idempotency_key"), "{e:?}");
    expect_error(
        bob.request(keyed(String::new())).await,
        chorus_protocol::ErrorCode::BAD_REQUEST,
    );
    // The connection goes on.
    assert!(bob.request(publish("chat:keys", "2")).await.is_ok());
}

#[tokio::test]
async fn all_channels_history_together_stays_within_the_node_s_bound() {
    let mut config = config();
    config.limits.history_memory_bytes = 40_000;
    let server = TestServer::start(config).await;
    let handle = chorus_server::Handle::new(server.node.clone());
    // 20 channels, 4 publications of 1,000 bytes each: twice the bound.
    let data = Payload::from(format!("\"{}\"", "x".repeat(1_000)));
    for channel in 0..20 {
        for _ in 0..4 {
            let req = PublishRequest {
                channel: format!("chat:b{channel}"),
                data: data.clone(),
                idempotency_key: None,
            };
            handle.publish(req).await.unwrap();
        }
    }
    let mut kept = 0;
    for channel in 0..20 {
        let req = chorus_protocol::message::HistoryRequest {
            channel: format!("chat:b{channel}"),
            limit: Some(100),
            since: None,
            reverse: false,
        };
        let page = handle.history(req).await.unwrap();
        if channel < 5 {
            assert!(
                page.publications.is_empty(),
                "chat:b{channel} was the oldest, and went first"
            );
        }
        assert_eq!(page.position.offset, 4, "positions go on");
        kept += page.publications.len();
    }
    assert!((20..=40).contains(&kept), "{kept} publications kept");
    let metrics = http_get(server.addr, "/metrics").await.unwrap().1;
    assert!(
        !metrics.contains("chorus_history_evictions_total 0\n"),
        "{metrics}"
    );
}
