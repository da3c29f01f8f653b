//! Bad input over real WebSocket connections: typed error replies where the id
//! is readable, close 4502 where it is not, per-command errors (section 6 of
//! docs/protocol.md), hostile channel names, and in every case a server that
//! keeps serving its other connections.

mod common;

use chorus_protocol::message::*;
use chorus_protocol::{CloseCode, Codec, ErrorCode, Payload, Push, ReplyBody, Request};
use chorus_server::Config;
use chorus_server::config::{NamespaceConfig, PublishPolicy};
use common::*;

/// The harness config plus a `plain` namespace without presence or history.
fn errors_config() -> Config {
    let mut c = config();
    c.namespaces
        .insert("plain".into(), NamespaceConfig::default());
    c
}

fn hex(s: &str) -> Vec<u8> {
    assert!(s.len() % 2 == 0, "odd hex {s:?}");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Sends raw bytes in the frame type of the client's codec (text frames may
/// carry invalid UTF-8).
async fn send_bytes(client: &mut Client, bytes: Vec<u8>) {
    if client.codec.is_binary() {
        let msg = client.data_message(bytes);
        client.send_raw(msg).await;
    } else {
        client.send_text_bytes(bytes).await;
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

/// The same frame in both codecs: (JSON text, MessagePack hex).
struct Bad {
    what: &'static str,
    json: &'static [u8],
    msgpack: &'static str,
}

impl Bad {
    fn bytes(&self, codec: Codec) -> Vec<u8> {
        match codec {
            Codec::Json => self.json.to_vec(),
            Codec::MessagePack => hex(self.msgpack),
        }
    }
}

#[tokio::test]
async fn unknown_op_with_id_gets_104_echoing_the_id() {
    let server = TestServer::start(errors_config()).await;
    let mut bystander = Bystander::new(&server, "chat:bystander").await;
    let cases = [
        (
            4,
            Bad {
                what: "unknown op",
                json: br#"{"id":4,"teleport":{}}"#,
                msgpack: "82a2696404a874656c65706f727480",
            },
        ),
        (
            9,
            Bad {
                // {"id":9,"PING":{}}: keys are case-sensitive.
                what: "op in the wrong case",
                json: br#"{"id":9,"PING":{}}"#,
                msgpack: "82a2696409a450494e4780",
            },
        ),
        (
            3,
            Bad {
                // {"id":3,"ping":{},"teleport":{}}: unknown even beside a known op.
                what: "unknown op beside a known one",
                json: br#"{"id":3,"ping":{},"teleport":{}}"#,
                msgpack: "83a2696403a470696e6780a874656c65706f727480",
            },
        ),
    ];
    for codec in both() {
        for (id, case) in &cases {
            let mut c = server.user(codec, "alice").await;
            send_bytes(&mut c, case.bytes(codec)).await;
            let e = expect_error(c.reply(*id).await, ErrorCode::UNKNOWN_OP);
            assert!(!e.temporary, "{codec:?} {}: {e:?}", case.what);
            assert_usable(&mut c).await;
            c.close().await;
            bystander.check(&server).await;
        }
    }
}

#[tokio::test]
async fn wrong_field_types_with_id_get_107() {
    let server = TestServer::start(errors_config()).await;
    let mut bystander = Bystander::new(&server, "chat:bystander").await;
    let cases = [
        (
            5,
            Bad {
                what: "channel is a number",
                json: br#"{"id":5,"subscribe":{"channel":42}}"#,
                msgpack: "82a2696405a973756273637269626581a76368616e6e656c2a",
            },
        ),
        (
            6,
            Bad {
                // {"id":6,"publish":{"channel":"chat:lobby"}}
                what: "publish without data",
                json: br#"{"id":6,"publish":{"channel":"chat:lobby"}}"#,
                msgpack: "82a2696406a77075626c69736881a76368616e6e656caa636861743a6c6f626279",
            },
        ),
        (
            3,
            Bad {
                // {"id":3,"pong":{}}
                what: "pong with an id",
                json: br#"{"id":3,"pong":{}}"#,
                msgpack: "82a2696403a4706f6e6780",
            },
        ),
    ];
    for codec in both() {
        for (id, case) in &cases {
            let mut c = server.user(codec, "alice").await;
            send_bytes(&mut c, case.bytes(codec)).await;
            let e = expect_error(c.reply(*id).await, ErrorCode::BAD_REQUEST);
            assert!(!e.temporary, "{codec:?} {}: {e:?}", case.what);
            assert_usable(&mut c).await;
            c.close().await;
            bystander.check(&server).await;
        }
    }
}

#[tokio::test]
async fn unreadable_id_closes_with_4502_after_a_disconnect_push() {
    let server = TestServer::start(errors_config()).await;
    let mut bystander = Bystander::new(&server, "chat:bystander").await;
    let cases = [
        Bad {
            what: "id 1e40",
            json: br#"{"id":1e40,"subscribe":{"channel":"x"}}"#,
            msgpack: "82a26964cb483d6329f1c35ca5a470696e6780",
        },
        Bad {
            what: "missing id",
            json: br#"{"subscribe":{"channel":"chat:lobby"}}"#,
            msgpack: "81a470696e6780",
        },
        Bad {
            what: "id 0",
            json: br#"{"id":0,"ping":{}}"#,
            msgpack: "82a2696400a470696e6780",
        },
        Bad {
            what: "id 2^64",
            json: br#"{"id":18446744073709551616,"ping":{}}"#,
            msgpack: "82a26964cb43f0000000000000a470696e6780",
        },
        Bad {
            what: "id is a string",
            json: br#"{"id":"7","ping":{}}"#,
            msgpack: "82a26964a137a470696e6780",
        },
        Bad {
            what: "not a frame / truncated",
            json: b"not json",
            msgpack: "82a2696409a77075",
        },
        Bad {
            what: "unknown op without id",
            json: br#"{"teleport":{}}"#,
            msgpack: "81a874656c65706f727480",
        },
    ];
    for codec in both() {
        for case in &cases {
            // Before and after connect: the id is unreadable either way.
            for connected in [false, true] {
                let mut c = if connected {
                    server.user(codec, "alice").await
                } else {
                    server.client(codec).await
                };
                send_bytes(&mut c, case.bytes(codec)).await;
                let closed = c.closed().await;
                assert_closed_with(&closed, CloseCode::PROTOCOL_ERROR);
                assert!(
                    !closed.pushed.as_ref().unwrap().reconnect,
                    "{codec:?} {}",
                    case.what
                );
            }
            bystander.check(&server).await;
        }
    }
}

/// Spec 6.3: "a JSON text that is not UTF-8 anywhere" is malformed: close 4502,
/// preceded by a `disconnect` push.
#[tokio::test]
async fn invalid_utf8_in_a_text_frame_closes_with_4502() {
    let server = TestServer::start(errors_config()).await;
    let mut bystander = Bystander::new(&server, "chat:bystander").await;
    // {"id":1,<0xff>"ping":{}} and {"id":1,"unsubscribe":{"channel":"chat:<0xff>"}}
    for frame in [
        "7b226964223a312cff2270696e67223a7b7d7d",
        "7b226964223a312c22756e737562736372696265223a7b226368616e6e656c223a22636861743aff227d7d",
    ] {
        let mut c = server.user(Codec::Json, "alice").await;
        c.send_text_bytes(hex(frame)).await;
        let closed = c.closed().await;
        assert_closed_with(&closed, CloseCode::PROTOCOL_ERROR);
        bystander.check(&server).await;
    }
}

#[tokio::test]
async fn frame_type_not_matching_the_codec_closes_with_4502() {
    let server = TestServer::start(errors_config()).await;
    let mut bystander = Bystander::new(&server, "chat:bystander").await;
    for connected in [false, true] {
        // A valid JSON ping as a binary message on a JSON connection.
        let mut json = if connected {
            server.user(Codec::Json, "alice").await
        } else {
            server.client(Codec::Json).await
        };
        json.send_raw(tokio_tungstenite::tungstenite::Message::Binary(
            br#"{"id":2,"ping":{}}"#.to_vec().into(),
        ))
        .await;
        assert_closed_with(&json.closed().await, CloseCode::PROTOCOL_ERROR);
        // A text message on a MessagePack connection.
        let mut pack = if connected {
            server.user(Codec::MessagePack, "alice").await
        } else {
            server.client(Codec::MessagePack).await
        };
        pack.send_raw(tokio_tungstenite::tungstenite::Message::Text(
            r#"{"id":2,"ping":{}}"#.into(),
        ))
        .await;
        assert_closed_with(&pack.closed().await, CloseCode::PROTOCOL_ERROR);
        bystander.check(&server).await;
    }
}

/// Every client-direction vector of conformance/vectors/invalid.json, in its
/// codec, gets the answer its class calls for: an error reply echoing the id,
/// or close 4502 after a `disconnect` push.
#[tokio::test]
async fn conformance_invalid_vectors_get_the_documented_answer() {
    let vectors: serde_json::Value =
        serde_json::from_str(include_str!("../../conformance/vectors/invalid.json")).unwrap();
    let server = TestServer::start(errors_config()).await;
    let mut bystander = Bystander::new(&server, "chat:bystander").await;
    let mut failures = Vec::new();
    let mut checked = 0;
    for v in vectors["vectors"].as_array().unwrap() {
        if v["direction"] != "client" {
            continue;
        }
        let name = v["name"].as_str().unwrap();
        let codec = v["codec"].as_str().unwrap();
        let codec = Codec::from_name(codec).unwrap_or_else(|| panic!("{name}: codec {codec}"));
        let frame = v["frame"].as_str().unwrap();
        let bytes = match v["encoding"].as_str().unwrap() {
            "text" => frame.as_bytes().to_vec(),
            "hex" => hex(frame),
            other => panic!("{name}: encoding {other}"),
        };
        let expected = match (v["expect"].as_str().unwrap(), v["id"].as_u64()) {
            ("unknown_op", Some(id)) => Some((id, ErrorCode::UNKNOWN_OP)),
            ("invalid", Some(id)) => Some((id, ErrorCode::BAD_REQUEST)),
            ("malformed" | "unknown_op" | "invalid", _) => None,
            (other, _) => panic!("{name}: expect {other}"),
        };
        let mut c = server.user(codec, "alice").await;
        if let Some((id, _)) = expected {
            c.expect_reply_to(id);
        }
        send_bytes(&mut c, bytes).await;
        checked += 1;
        match expected {
            Some((id, code)) => match c.next().await {
                Ok(chorus_protocol::ServerFrame::Reply(r)) if r.id == id => match r.result {
                    Err(e) if e.code == code => assert_usable(&mut c).await,
                    other => failures.push(format!("{name}: expected {code:?}, got {other:?}")),
                },
                other => failures.push(format!("{name}: expected a reply to {id}, got {other:?}")),
            },
            None => {
                let closed = c.closed().await;
                let ok = closed.code == 4502
                    && closed
                        .pushed
                        .as_ref()
                        .is_some_and(|d| d.code == CloseCode::PROTOCOL_ERROR);
                if !ok {
                    failures.push(format!(
                        "{name}: expected close 4502 with a push, got {closed:?}"
                    ));
                }
            }
        }
    }
    assert!(checked > 60, "only {checked} vectors");
    bystander.check(&server).await;
    assert!(failures.is_empty(), "{failures:#?}");
}

#[tokio::test]
async fn commands_before_connect_get_114_and_connect_still_works() {
    let server = TestServer::start(errors_config()).await;
    let mut bystander = Bystander::new(&server, "chat:bystander").await;
    for codec in both() {
        let mut c = server.client(codec).await;
        let commands = [
            ping_req(),
            subscribe_req("chat:a"),
            publish_req("chat:a", "1"),
            Request::Presence(channel_req("chat:a")),
            history_req("chat:a"),
            Request::Refresh(RefreshRequest {
                token: token("alice"),
            }),
            Request::Rpc(RpcRequest {
                method: "m".into(),
                data: Payload::from("1"),
            }),
        ];
        for cmd in commands {
            let what = cmd.key();
            let e = expect_error(c.request(cmd).await, ErrorCode::NOT_CONNECTED);
            assert!(e.temporary, "{what}: {e:?}");
        }
        expect_ok(c.connect(Some(token("alice"))).await);
        expect_ok(c.request(subscribe_req("chat:a")).await);
        assert_usable(&mut c).await;
        c.close().await;
        bystander.check(&server).await;
    }
}

#[tokio::test]
async fn second_connect_gets_107_and_changes_nothing() {
    let server = TestServer::start(errors_config()).await;
    let mut bystander = Bystander::new(&server, "chat:bystander").await;
    for codec in both() {
        let mut c = server.user(codec, "alice").await;
        expect_error(c.connect(Some(token("bob"))).await, ErrorCode::BAD_REQUEST);
        expect_error(c.connect(None).await, ErrorCode::BAD_REQUEST);
        // Still alice: her publications carry her identity.
        expect_ok(c.request(subscribe_req("chat:who")).await);
        expect_ok(c.request(publish_req("chat:who", "1")).await);
        let p = c.publication().await;
        assert_eq!(p.info.unwrap().user, "alice");
        c.close().await;
        bystander.check(&server).await;
    }
}

#[tokio::test]
async fn invalid_channel_names_get_107() {
    let server = TestServer::start(errors_config()).await;
    let mut bystander = Bystander::new(&server, "chat:bystander").await;
    let long = "x".repeat(300);
    let names = [
        "a b",
        "",
        long.as_str(),
        "chat:",
        ":x",
        "a.b:x",
        "chat:a\u{0}",
        "x#a,,b",
    ];
    for codec in both() {
        let mut c = server.user(codec, "alice").await;
        for name in names {
            for cmd in [
                subscribe_req(name),
                publish_req(name, "1"),
                Request::Presence(channel_req(name)),
                Request::PresenceStats(channel_req(name)),
                history_req(name),
            ] {
                let what = format!("{} {name:?}", cmd.key());
                let e = expect_error(c.request(cmd).await, ErrorCode::BAD_REQUEST);
                assert!(!e.temporary, "{what}");
            }
        }
        // 255 bytes is still fine.
        let max = format!("chat:{}", "y".repeat(250));
        expect_ok(c.request(subscribe_req(&max)).await);
        assert_usable(&mut c).await;
        c.close().await;
        bystander.check(&server).await;
    }
}

#[tokio::test]
async fn unknown_namespace_gets_102() {
    let server = TestServer::start(errors_config()).await;
    let mut bystander = Bystander::new(&server, "chat:bystander").await;
    for codec in both() {
        let mut c = server.user(codec, "alice").await;
        for cmd in [
            subscribe_req("nope:x"),
            publish_req("nope:x", "1"),
            Request::Presence(channel_req("nope:x")),
            Request::PresenceStats(channel_req("nope:x")),
            history_req("nope:x"),
            // Case-sensitive: `Chat` is not `chat`.
            subscribe_req("Chat:x"),
        ] {
            let what = cmd.key();
            let e = expect_error(c.request(cmd).await, ErrorCode::UNKNOWN_CHANNEL);
            assert!(!e.temporary, "{what}");
        }
        assert_usable(&mut c).await;
        c.close().await;
        bystander.check(&server).await;
    }
}

#[tokio::test]
async fn presence_and_history_where_disabled_get_108() {
    let server = TestServer::start(errors_config()).await;
    let mut bystander = Bystander::new(&server, "chat:bystander").await;
    for codec in both() {
        let mut c = server.user(codec, "alice").await;
        // `plain` and the default namespace keep neither presence nor history.
        for channel in ["plain:x", "lobby"] {
            expect_ok(c.request(subscribe_req(channel)).await);
            for cmd in [
                Request::Presence(channel_req(channel)),
                Request::PresenceStats(channel_req(channel)),
                history_req(channel),
            ] {
                let what = format!("{} {channel}", cmd.key());
                let e = expect_error(c.request(cmd).await, ErrorCode::NOT_AVAILABLE);
                assert!(!e.temporary, "{what}");
            }
            // No history: no position in publish replies.
            let ReplyBody::Publish(r) = expect_ok(c.request(publish_req(channel, "1")).await)
            else {
                panic!("publish reply")
            };
            assert_eq!(r.position, None);
            let p = c.publication().await;
            assert_eq!((p.offset, p.epoch), (None, None));
        }
        assert_usable(&mut c).await;
        c.close().await;
        bystander.check(&server).await;
    }
}

#[tokio::test]
async fn rpc_without_hooks_gets_108() {
    let server = TestServer::start(errors_config()).await;
    let mut bystander = Bystander::new(&server, "chat:bystander").await;
    for codec in both() {
        let mut c = server.user(codec, "alice").await;
        let e = expect_error(
            c.request(Request::Rpc(RpcRequest {
                method: "rooms.create".into(),
                data: Payload::from(r#"{"name":"ops"}"#),
            }))
            .await,
            ErrorCode::NOT_AVAILABLE,
        );
        assert!(!e.temporary);
        assert_usable(&mut c).await;
        c.close().await;
        bystander.check(&server).await;
    }
}

/// Hooks refusing every connect with an application code: a temporary one
/// for users named `busy`, a terminal one for the rest.
struct RefusingHooks;

impl chorus_server::Hooks for RefusingHooks {
    fn on_connect<'a>(
        &'a self,
        ctx: &'a chorus_server::ConnectContext,
    ) -> chorus_server::BoxFuture<'a, Result<chorus_server::ConnectDecision, Error>> {
        Box::pin(async move {
            let mut e = Error::new(ErrorCode(1042), "the account service is busy");
            e.temporary = ctx.user == "busy";
            Err(e)
        })
    }
}

/// Spec 6.4: a hook's application error closes in the range its `temporary`
/// flag asks for: reconnect (4007) for "try later", no reconnect (4506) else.
#[tokio::test]
async fn connect_refused_by_a_hook_closes_as_its_temporary_flag_says() {
    let server = TestServer::start_with_hooks(errors_config(), RefusingHooks).await;
    for (user, temporary, close) in [
        ("busy", true, CloseCode::INTERNAL),
        ("alice", false, CloseCode::KICKED),
    ] {
        let mut c = server.client(Codec::Json).await;
        let e = expect_error(c.connect(Some(token(user))).await, ErrorCode(1042));
        assert_eq!(e.temporary, temporary, "{user}");
        assert_closed_with(&c.closed().await, close);
        assert_eq!(close.should_reconnect(), temporary);
    }
}

/// Spec 5.3: unsubscribe errors are 107 (invalid channel) and 111 (not subscribed).
#[tokio::test]
async fn unsubscribe_without_subscription_gets_111_and_bad_name_107() {
    let server = TestServer::start(errors_config()).await;
    let mut c = server.user(Codec::Json, "alice").await;
    expect_error(
        c.request(Request::Unsubscribe(channel_req("chat:never")))
            .await,
        ErrorCode::NOT_SUBSCRIBED,
    );
    expect_error(
        c.request(Request::Unsubscribe(channel_req("a b"))).await,
        ErrorCode::BAD_REQUEST,
    );
    expect_ok(c.request(subscribe_req("chat:once")).await);
    expect_ok(
        c.request(Request::Unsubscribe(channel_req("chat:once")))
            .await,
    );
    expect_error(
        c.request(Request::Unsubscribe(channel_req("chat:once")))
            .await,
        ErrorCode::NOT_SUBSCRIBED,
    );
}

/// Names that are legal but hostile to NATS subjects, pattern matching or
/// encodings are distinct channels: each subscriber gets exactly its own
/// publications, and presence and history stay apart.
#[tokio::test]
async fn hostile_channel_names_are_distinct_channels() {
    let mut cfg = errors_config();
    cfg.namespaces.get_mut("chat").unwrap().publish = PublishPolicy::Any;
    let server = TestServer::start(cfg).await;
    let mut bystander = Bystander::new(&server, "chat:bystander").await;
    let channels = [
        "chat:a",
        "chat:A",
        "chat:a.b",
        "chat:a_2Eb",
        "chat:a_b",
        "chat:*",
        "chat:>",
        "chat:a.*.>",
        "chat:a:b",
        "chat:日本",
        "chat:ünïcödé",
        "chat:a\u{301}",
        "chat:á",
        "*",
        ">",
        "a.b",
    ];
    for codec in both() {
        let mut subs = Vec::new();
        for (i, ch) in channels.iter().enumerate() {
            let mut c = server.user(codec, &format!("sub-{i}")).await;
            expect_ok(c.request(subscribe_req(ch)).await);
            subs.push(c);
        }
        // A publisher on the other codec, subscribed to nothing (policy `any`;
        // the default namespace lets subscribers publish, so it joins those).
        let other = if codec == Codec::Json {
            Codec::MessagePack
        } else {
            Codec::Json
        };
        let mut publisher = server.user(other, "publisher").await;
        for ch in channels.iter().filter(|c| !c.starts_with("chat:")) {
            expect_ok(publisher.request(subscribe_req(ch)).await);
        }
        for (i, ch) in channels.iter().enumerate() {
            expect_ok(publisher.request(publish_req(ch, format!("{i}"))).await);
        }
        // A sentinel per channel, published after everything else: anything
        // misrouted to a subscriber is queued before its sentinel.
        for (i, ch) in channels.iter().enumerate() {
            expect_ok(
                publisher
                    .request(publish_req(ch, format!("\"end-{i}\"")))
                    .await,
            );
        }
        for (i, (ch, sub)) in channels.iter().zip(subs.iter_mut()).enumerate() {
            let mut got = Vec::new();
            let end = Payload::from(format!("\"end-{i}\""));
            loop {
                let p = sub.publication().await;
                let done = p.data == end;
                got.push((p.channel, p.data));
                if done {
                    break;
                }
            }
            let want = vec![
                (ch.to_string(), Payload::from(format!("{i}"))),
                (ch.to_string(), end),
            ];
            assert_eq!(got, want, "{codec:?}: subscriber of {ch:?}");
        }
        for (i, ch) in channels.iter().enumerate() {
            if !ch.starts_with("chat:") {
                continue;
            }
            let ReplyBody::PresenceStats(stats) = expect_ok(
                publisher
                    .request(Request::PresenceStats(channel_req(ch)))
                    .await,
            ) else {
                panic!()
            };
            assert_eq!(stats.clients, 1, "{codec:?}: presence of {ch:?}");
            let ReplyBody::History(h) = expect_ok(publisher.request(history_req(ch)).await) else {
                panic!()
            };
            let data: Vec<_> = h.publications.iter().map(|p| p.data.clone()).collect();
            // Both codecs publish to the same channels: 2 per round so far.
            let rounds = if codec == Codec::Json { 1 } else { 2 };
            assert_eq!(data.len(), 2 * rounds, "{codec:?}: history of {ch:?}");
            for p in &h.publications {
                assert_eq!(p.channel, *ch);
            }
            assert_eq!(
                data.last().unwrap(),
                &Payload::from(format!("\"end-{i}\"")),
                "{codec:?}: history of {ch:?}"
            );
        }
        for c in subs {
            c.close().await;
        }
        publisher.close().await;
        bystander.check(&server).await;
    }
}

#[tokio::test]
async fn pipelined_good_and_bad_commands_each_get_their_own_reply() {
    // A pipeline of good and bad commands: each gets exactly one reply echoing
    // its id, and the bad ones do not disturb the good ones.
    let server = TestServer::start(errors_config()).await;
    for codec in both() {
        let mut c = server.user(codec, "alice").await;
        expect_ok(c.request(subscribe_req("chat:pipe")).await);
        let good = c.send(publish_req("chat:pipe", "1")).await;
        let bad_ns = c.send(subscribe_req("nope:x")).await;
        let bad_name = c.send(subscribe_req("a b")).await;
        let again = c.send(subscribe_req("chat:pipe")).await;
        let ping = c.send(ping_req()).await;
        let mut replies = std::collections::HashMap::new();
        let mut publications = 0;
        while replies.len() < 5 {
            match c.next().await.expect("open") {
                chorus_protocol::ServerFrame::Reply(r) => {
                    assert!(replies.insert(r.id, r.result).is_none(), "duplicate id");
                }
                chorus_protocol::ServerFrame::Push(Push::Publication(_)) => publications += 1,
                chorus_protocol::ServerFrame::Push(_) => {}
            }
        }
        assert!(matches!(replies[&good], Ok(ReplyBody::Publish(_))));
        assert_eq!(
            replies[&bad_ns].as_ref().unwrap_err().code,
            ErrorCode::UNKNOWN_CHANNEL
        );
        assert_eq!(
            replies[&bad_name].as_ref().unwrap_err().code,
            ErrorCode::BAD_REQUEST
        );
        assert_eq!(
            replies[&again].as_ref().unwrap_err().code,
            ErrorCode::ALREADY_SUBSCRIBED
        );
        assert_eq!(replies[&ping], Ok(ReplyBody::Ping(Empty {})));
        if publications == 0 {
            assert_eq!(c.publication().await.data, Payload::from("1"));
        }
        c.close().await;
    }
}
