//! The valid vectors: every command, reply, push and payload form.
//!
//! One file on purpose, though long: it is a table of vectors read top to
//! bottom, and splitting it would only scatter the table.

use chorus_protocol::message::*;
use chorus_protocol::{
    ClientFrame, CloseCode, Command, ErrorCode, Payload, Push, Reply, ReplyBody, Request,
    ServerFrame,
};

use super::{Builder, Frame, Vector, VectorFile};

fn cmd(id: u64, request: Request) -> ClientFrame {
    ClientFrame::Command(Command { id, request })
}

fn ok(id: u64, body: ReplyBody) -> ServerFrame {
    ServerFrame::Reply(Reply {
        id,
        result: Ok(body),
    })
}

fn error(code: ErrorCode, message: &str, temporary: bool) -> Error {
    Error {
        code,
        message: message.to_owned(),
        temporary,
    }
}

fn err(id: u64, code: ErrorCode, message: &str, temporary: bool) -> ServerFrame {
    ServerFrame::Reply(Reply {
        id,
        result: Err(error(code, message, temporary)),
    })
}

fn push(push: Push) -> ServerFrame {
    ServerFrame::Push(push)
}

/// A payload from text (usually JSON text).
fn text(s: &str) -> Payload {
    Payload::from(s.to_owned())
}

fn pos(offset: u64, epoch: &str) -> StreamPosition {
    StreamPosition {
        offset,
        epoch: epoch.to_owned(),
    }
}

fn who(user: &str, client: &str) -> ClientInfo {
    ClientInfo {
        user: user.to_owned(),
        client: client.to_owned(),
        info: None,
    }
}

fn who_with_info(user: &str, client: &str, info: Payload) -> ClientInfo {
    ClientInfo {
        info: Some(info),
        ..who(user, client)
    }
}

fn channel(name: &str) -> ChannelRequest {
    ChannelRequest {
        channel: name.to_owned(),
    }
}

fn subscribe(name: &str) -> SubscribeRequest {
    SubscribeRequest {
        channel: name.to_owned(),
        ..SubscribeRequest::default()
    }
}

fn publication(chan: &str, offset: Option<u64>, epoch: Option<&str>, data: Payload) -> Publication {
    Publication {
        channel: chan.to_owned(),
        offset,
        epoch: epoch.map(str::to_owned),
        data,
        info: None,
    }
}

/// `commands.json`: every client frame.
pub(super) fn commands() -> VectorFile<Vector> {
    let mut b = Builder::default();

    b.client(
        "connect_minimal",
        cmd(1, Request::Connect(ConnectRequest::default())),
    )
    .note("Anonymous connect: every field is optional and omitted when empty.");
    b.client(
        "connect_token",
        cmd(
            1,
            Request::Connect(ConnectRequest {
                token: Some("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2ln".into()),
                ..ConnectRequest::default()
            }),
        ),
    );
    b.client(
        "connect_full",
        cmd(
            1,
            Request::Connect(ConnectRequest {
                token: Some("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2ln".into()),
                name: Some("chorus-rust".into()),
                version: Some("0.1.0".into()),
                data: Some(text(r#"{"device":"phone"}"#)),
                subs: vec![
                    subscribe("chat:lobby"),
                    SubscribeRequest {
                        channel: "news:sport".into(),
                        since: Some(pos(42, "e7f1")),
                        data: None,
                    },
                    SubscribeRequest {
                        channel: "dialog#alice,bob".into(),
                        since: Some(pos(7, "1b2c")),
                        data: Some(text(r#"{"resume":true}"#)),
                    },
                ],
                inbox: None,
            }),
        ),
    )
    .note("Connect with recovery: `subs` re-establishes three subscriptions, two from a known position.");
    b.client(
        "connect_inbox",
        cmd(
            1,
            Request::Connect(ConnectRequest {
                token: Some("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJib2IifQ.c2ln".into()),
                inbox: Some(pos(2, "9f3a")),
                ..ConnectRequest::default()
            }),
        ),
    )
    .note("Connect from a known inbox position: the reply replays the user's messages since then.");
    b.client(
        "connect_binary_data",
        cmd(
            1,
            Request::Connect(ConnectRequest {
                name: Some("chorus-js".into()),
                version: Some("0.1.0".into()),
                data: Some(Payload::from(vec![0x00, 0x9f, 0xff])),
                ..ConnectRequest::default()
            }),
        ),
    )
    .note("Connect data that is not UTF-8: base64 in JSON, bin in MessagePack.");

    b.client(
        "subscribe_minimal",
        cmd(2, Request::Subscribe(subscribe("chat:lobby"))),
    );
    b.client(
        "subscribe_since",
        cmd(
            3,
            Request::Subscribe(SubscribeRequest {
                channel: "chat:lobby".into(),
                since: Some(pos(1234, "8c1f0e2a")),
                data: None,
            }),
        ),
    )
    .note("Resubscribe recovering publications after offset 1234 of epoch 8c1f0e2a.");
    b.client(
        "subscribe_since_zero",
        cmd(
            4,
            Request::Subscribe(SubscribeRequest {
                channel: "chat:lobby".into(),
                since: Some(StreamPosition::default()),
                data: None,
            }),
        ),
    )
    .note("A position is always written in full, even offset 0 and an empty epoch.");
    b.client(
        "subscribe_with_data",
        cmd(
            5,
            Request::Subscribe(SubscribeRequest {
                channel: "dialog#alice,bob".into(),
                since: None,
                data: Some(text(r#"{"invite":"x1"}"#)),
            }),
        ),
    );

    b.client(
        "unsubscribe",
        cmd(6, Request::Unsubscribe(channel("chat:lobby"))),
    );

    b.client(
        "publish_json_payload",
        cmd(
            7,
            Request::Publish(PublishRequest {
                channel: "chat:lobby".into(),
                data: text(r#"{"text":"hi"}"#),
                idempotency_key: None,
            }),
        ),
    );
    b.client(
        "publish_idempotency_key",
        cmd(
            8,
            Request::Publish(PublishRequest {
                channel: "chat:lobby".into(),
                data: text(r#"{"text":"once"}"#),
                idempotency_key: Some("3f2b9c4e-msg-17".into()),
            }),
        ),
    );
    b.client(
        "publish_binary_payload",
        cmd(
            9,
            Request::Publish(PublishRequest {
                channel: "telemetry:device-9".into(),
                data: Payload::from(vec![0xde, 0xad, 0xbe, 0xef]),
                idempotency_key: None,
            }),
        ),
    );

    b.client(
        "send",
        cmd(
            10,
            Request::Send(SendRequest {
                user: "bob".into(),
                data: text(r#"{"text":"psst"}"#),
            }),
        ),
    );
    b.client(
        "broadcast",
        cmd(
            11,
            Request::Broadcast(BroadcastRequest {
                data: text(r#"{"notice":"maintenance at 02:00"}"#),
            }),
        ),
    );
    b.client(
        "presence",
        cmd(12, Request::Presence(channel("chat:lobby"))),
    );
    b.client(
        "presence_stats",
        cmd(13, Request::PresenceStats(channel("chat:lobby"))),
    );

    b.client(
        "history_minimal",
        cmd(
            14,
            Request::History(HistoryRequest {
                channel: "chat:lobby".into(),
                ..HistoryRequest::default()
            }),
        ),
    )
    .note("No limit: asks only for the current position.");
    b.client(
        "history_limit",
        cmd(
            15,
            Request::History(HistoryRequest {
                channel: "chat:lobby".into(),
                limit: Some(50),
                ..HistoryRequest::default()
            }),
        ),
    );
    b.client(
        "history_limit_zero",
        cmd(
            16,
            Request::History(HistoryRequest {
                channel: "chat:lobby".into(),
                limit: Some(0),
                ..HistoryRequest::default()
            }),
        ),
    )
    .note("An explicit limit of 0 is written, unlike an absent one.");
    b.client(
        "history_since_reverse",
        cmd(
            17,
            Request::History(HistoryRequest {
                channel: "chat:lobby".into(),
                limit: Some(10),
                since: Some(pos(300, "8c1f0e2a")),
                reverse: true,
            }),
        ),
    );

    b.client(
        "refresh",
        cmd(
            18,
            Request::Refresh(RefreshRequest {
                token: "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSIsImV4cCI6OTk5fQ.c2ln".into(),
            }),
        ),
    );
    b.client(
        "rpc",
        cmd(
            19,
            Request::Rpc(RpcRequest {
                method: "rooms.create".into(),
                data: text(r#"{"name":"ops","private":true}"#),
            }),
        ),
    );
    b.client(
        "rpc_empty_data",
        cmd(
            20,
            Request::Rpc(RpcRequest {
                method: "time".into(),
                data: Payload::default(),
            }),
        ),
    )
    .note("An empty payload is always written: {\"$bytes\":\"\"} in JSON, an empty bin in MessagePack.");

    b.client("ping", cmd(21, Request::Ping(Empty {})));
    b.client("pong", ClientFrame::Pong)
        .note("The answer to a server ping push: no id.");

    // Ids: MessagePack integer widths, and ids past JavaScript's safe integers.
    for (name, id, note) in [
        ("ping_id_127", 127, "Largest positive fixint id."),
        ("ping_id_128", 128, "Smallest uint8 id (0xcc)."),
        ("ping_id_256", 256, "Smallest uint16 id (0xcd)."),
        ("ping_id_65536", 65536, "Smallest uint32 id (0xce)."),
        ("ping_id_4294967296", 1 << 32, "Smallest uint64 id (0xcf)."),
        (
            "ping_id_2_pow_53_plus_1",
            (1 << 53) + 1,
            "Not representable as an IEEE double: JavaScript must read ids as BigInt or from the MessagePack bytes.",
        ),
        (
            "ping_id_u64_max",
            u64::MAX,
            "The largest id. Not representable as an IEEE double.",
        ),
    ] {
        b.client(name, cmd(id, Request::Ping(Empty {}))).note(note);
    }

    b.client(
        "send_escaped_strings",
        cmd(
            22,
            Request::Send(SendRequest {
                user: "quote\" backslash\\ slash/ nl\n tab\t nul\u{0} us\u{1f} del\u{7f} \u{e9} \u{2028} \u{1f600}"
                    .into(),
                data: text("1"),
            }),
        ),
    )
    .note(
        "JSON string escaping: only quote, backslash and control characters below 0x20 are escaped \
         (\\n, \\t and \\u00XX with lower-case hex); '/', DEL, U+2028 and non-ASCII are written as raw UTF-8.",
    );
    b.client(
        "subscribe_long_channel",
        cmd(
            23,
            Request::Subscribe(subscribe("chat:room-with-a-rather-long-name-0123456789")),
        ),
    )
    .note("A channel name longer than 31 bytes: str8 (0xd9) in MessagePack.");

    b.finish(
        "Client frames (commands and pong), read by a server with decode_client. \
         Every Request variant and ClientFrame::Pong.",
    )
}

/// A subscribe result with everything set.
fn recovered_subscription() -> SubscribeResult {
    SubscribeResult {
        position: Some(pos(1236, "8c1f0e2a")),
        recovered: true,
        publications: vec![
            Publication {
                info: Some(who("alice", "c-5f1e")),
                ..publication(
                    "chat:lobby",
                    Some(1235),
                    Some("8c1f0e2a"),
                    text(r#"{"text":"missed 1"}"#),
                )
            },
            publication(
                "chat:lobby",
                Some(1236),
                Some("8c1f0e2a"),
                text(r#"{"text":"missed 2"}"#),
            ),
        ],
        data: Some(text(r#"{"topic":"general"}"#)),
    }
}

/// `replies.json`: every reply body and error replies.
pub(super) fn replies() -> VectorFile<Vector> {
    let mut b = Builder::default();

    b.server(
        "connect_reply_minimal",
        ok(
            1,
            ReplyBody::Connect(ConnectResult {
                client: "c-5f1e".into(),
                user: "".into(),
                version: "chorus 0.1.0".into(),
                ..ConnectResult::default()
            }),
        ),
    )
    .note("Anonymous connection; ping_interval_ms is always written, 0 means no pings.");
    b.server(
        "connect_reply_full",
        ok(
            1,
            ReplyBody::Connect(ConnectResult {
                client: "c-5f1e".into(),
                user: "alice".into(),
                version: "chorus 0.1.0".into(),
                ping_interval_ms: 25_000,
                pong: true,
                expires_in_ms: Some(3_600_000),
                data: Some(text(r#"{"motd":"welcome"}"#)),
                subs: vec![
                    ConnectSub {
                        channel: "chat:lobby".into(),
                        ok: Some(SubscribeResult::default()),
                        error: None,
                    },
                    ConnectSub {
                        channel: "news:sport".into(),
                        ok: Some(SubscribeResult {
                            position: Some(pos(45, "e7f1")),
                            recovered: true,
                            publications: vec![
                                publication("news:sport", Some(43), Some("e7f1"), text(r#"{"score":"1-0"}"#)),
                                publication("news:sport", Some(44), Some("e7f1"), text(r#"{"score":"1-1"}"#)),
                                publication("news:sport", Some(45), Some("e7f1"), text(r#"{"score":"2-1"}"#)),
                            ],
                            data: None,
                        }),
                        error: None,
                    },
                    ConnectSub {
                        channel: "dialog#alice,bob".into(),
                        ok: Some(SubscribeResult {
                            position: Some(pos(3, "77aa")),
                            recovered: false,
                            publications: vec![],
                            data: None,
                        }),
                        error: None,
                    },
                    ConnectSub {
                        channel: "admin:audit".into(),
                        ok: None,
                        error: Some(error(ErrorCode::PERMISSION_DENIED, "permission denied", false)),
                    },
                    ConnectSub {
                        channel: "chat:full-room".into(),
                        ok: None,
                        error: Some(error(ErrorCode::CHANNEL_FULL, "channel is full", true)),
                    },
                ],
                inbox: None,
            }),
        ),
    )
    .note(
        "Outcomes of the connect's subs, in order: ok without history, ok recovered with publications, \
         ok not recovered (epoch changed), a terminal error and a temporary error.",
    );
    b.server(
        "connect_reply_inbox",
        ok(
            1,
            ReplyBody::Connect(ConnectResult {
                client: "c-77".into(),
                user: "bob".into(),
                version: "chorus 0.1.0".into(),
                ping_interval_ms: 25_000,
                pong: true,
                inbox: Some(InboxResult {
                    position: pos(3, "9f3a"),
                    recovered: true,
                    messages: vec![Message {
                        data: text(r#"{"text":"psst"}"#),
                        from: Some(who("alice", "c-5f1e")),
                        broadcast: false,
                        offset: Some(3),
                        epoch: Some("9f3a".into()),
                    }],
                }),
                ..ConnectResult::default()
            }),
        ),
    )
    .note("The inbox part of a connect reply: the messages sent to the user since the connect's `inbox` position.");
    b.server(
        "connect_reply_inbox_unrecoverable",
        ok(
            1,
            ReplyBody::Connect(ConnectResult {
                client: "c-78".into(),
                user: "bob".into(),
                version: "chorus 0.1.0".into(),
                ping_interval_ms: 25_000,
                pong: true,
                inbox: Some(InboxResult {
                    position: pos(40, "9f3a"),
                    recovered: false,
                    messages: vec![],
                }),
                ..ConnectResult::default()
            }),
        ),
    )
    .note("The inbox position could not be served (overflowed, expired or another epoch): only the current position.");

    b.server(
        "subscribe_reply_empty",
        ok(2, ReplyBody::Subscribe(SubscribeResult::default())),
    )
    .note("A channel without history: no position.");
    b.server(
        "subscribe_reply_position",
        ok(
            2,
            ReplyBody::Subscribe(SubscribeResult {
                position: Some(pos(1234, "8c1f0e2a")),
                ..SubscribeResult::default()
            }),
        ),
    );
    b.server(
        "subscribe_reply_recovered",
        ok(3, ReplyBody::Subscribe(recovered_subscription())),
    );
    b.server(
        "subscribe_reply_not_recovered",
        ok(
            3,
            ReplyBody::Subscribe(SubscribeResult {
                position: Some(pos(9, "0d0e")),
                recovered: false,
                publications: vec![],
                data: None,
            }),
        ),
    )
    .note("The epoch changed: recovered is false and omitted; the client must resync.");

    b.server("unsubscribe_reply", ok(6, ReplyBody::Unsubscribe(Empty {})));

    b.server(
        "publish_reply_empty",
        ok(7, ReplyBody::Publish(PublishResult::default())),
    )
    .note("A channel without history.");
    b.server(
        "publish_reply_position",
        ok(
            7,
            ReplyBody::Publish(PublishResult {
                position: Some(pos(1237, "8c1f0e2a")),
                duplicate: false,
            }),
        ),
    );
    b.server(
        "publish_reply_duplicate",
        ok(
            8,
            ReplyBody::Publish(PublishResult {
                position: None,
                duplicate: true,
            }),
        ),
    );

    b.server("send_reply", ok(10, ReplyBody::Send(Empty {})));
    b.server("broadcast_reply", ok(11, ReplyBody::Broadcast(Empty {})));

    b.server(
        "presence_reply",
        ok(
            12,
            ReplyBody::Presence(PresenceResult {
                clients: vec![
                    who("alice", "c-5f1e"),
                    who_with_info("bob", "c-77b0", text(r#"{"status":"away"}"#)),
                    who("", "c-0a0a"),
                ],
            }),
        ),
    )
    .note("Members with and without info; the last one is anonymous.");
    b.server(
        "presence_reply_empty",
        ok(12, ReplyBody::Presence(PresenceResult { clients: vec![] })),
    )
    .note("clients is always written, even empty.");
    b.server(
        "presence_stats_reply",
        ok(
            13,
            ReplyBody::PresenceStats(PresenceStatsResult {
                clients: 3,
                users: 2,
            }),
        ),
    );

    b.server(
        "history_reply_position_only",
        ok(
            14,
            ReplyBody::History(HistoryResult {
                position: pos(1236, "8c1f0e2a"),
                publications: vec![],
            }),
        ),
    );
    b.server(
        "history_reply_page",
        ok(
            17,
            ReplyBody::History(HistoryResult {
                position: pos(1236, "8c1f0e2a"),
                publications: vec![
                    Publication {
                        info: Some(who("alice", "c-5f1e")),
                        ..publication(
                            "chat:lobby",
                            Some(1236),
                            Some("8c1f0e2a"),
                            text(r#"{"text":"newest"}"#),
                        )
                    },
                    publication(
                        "chat:lobby",
                        Some(1235),
                        Some("8c1f0e2a"),
                        Payload::from(vec![0x01, 0x02]),
                    ),
                ],
            }),
        ),
    )
    .note("A reverse page: newest first.");

    b.server(
        "refresh_reply",
        ok(
            18,
            ReplyBody::Refresh(RefreshResult {
                expires_in_ms: Some(3_600_000),
            }),
        ),
    );
    b.server(
        "refresh_reply_no_expiry",
        ok(
            18,
            ReplyBody::Refresh(RefreshResult {
                expires_in_ms: None,
            }),
        ),
    );
    b.server(
        "rpc_reply",
        ok(
            19,
            ReplyBody::Rpc(RpcResult {
                data: text(r#"{"room":"ops","id":991}"#),
            }),
        ),
    );
    b.server(
        "rpc_reply_binary",
        ok(
            20,
            ReplyBody::Rpc(RpcResult {
                data: Payload::from(vec![0x80, 0x81, 0xfe]),
            }),
        ),
    );
    b.server("ping_reply", ok(21, ReplyBody::Ping(Empty {})))
        .note("The same key as the ping push; the id makes it a reply.");

    b.server(
        "error_permission_denied",
        err(2, ErrorCode::PERMISSION_DENIED, "permission denied", false),
    )
    .note("temporary false is omitted.");
    b.server(
        "error_unknown_op",
        err(4, ErrorCode::UNKNOWN_OP, "unknown op `teleport`", false),
    );
    b.server(
        "error_bad_request",
        err(
            5,
            ErrorCode::BAD_REQUEST,
            "invalid type: integer `42`, expected a string",
            false,
        ),
    );
    b.server(
        "error_token_expired",
        err(7, ErrorCode::TOKEN_EXPIRED, "token expired", true),
    );
    b.server(
        "error_too_many_requests",
        err(8, ErrorCode::TOO_MANY_REQUESTS, "rate limit exceeded", true),
    );
    b.server(
        "error_internal",
        err(9, ErrorCode::INTERNAL, "internal error", true),
    );
    b.server(
        "error_application_code",
        err(19, ErrorCode(1042), "room already exists", false),
    )
    .note("Application codes (1000..=1999) come from server hooks such as on_rpc.");
    b.server(
        "error_application_code_temporary",
        err(19, ErrorCode(1500), "backend busy", true),
    )
    .note("The temporary flag is carried explicitly; it need not match the code table.");
    b.server(
        "error_empty_message_id_u64_max",
        err(u64::MAX, ErrorCode::NOT_AVAILABLE, "", false),
    );

    b.finish(
        "Replies (server -> client, echoing the command id), read by a client with decode_server. \
         Every ReplyBody variant and error replies.",
    )
}

/// `pushes.json`: every push.
pub(super) fn pushes() -> VectorFile<Vector> {
    let mut b = Builder::default();

    b.server(
        "publication_minimal",
        push(Push::Publication(publication(
            "chat:lobby",
            None,
            None,
            text(r#"{"text":"hi"}"#),
        ))),
    )
    .note("A channel without history and a server API publish: no offset, epoch or info.");
    b.server(
        "publication_offset_epoch",
        push(Push::Publication(publication(
            "chat:lobby",
            Some(1237),
            Some("8c1f0e2a"),
            text(r#"{"text":"hi"}"#),
        ))),
    );
    b.server(
        "publication_full",
        push(Push::Publication(Publication {
            info: Some(who_with_info(
                "alice",
                "c-5f1e",
                text(r#"{"name":"Alice"}"#),
            )),
            ..publication(
                "chat:lobby",
                Some(1238),
                Some("8c1f0e2a"),
                text(r#"{"text":"hello"}"#),
            )
        })),
    );
    b.server(
        "publication_info_without_offset",
        push(Push::Publication(Publication {
            info: Some(who("bob", "c-77b0")),
            ..publication("dialog#alice,bob", None, None, Payload::from(vec![0xff]))
        })),
    );

    b.server(
        "join",
        push(Push::Join(Membership {
            channel: "chat:lobby".into(),
            info: who("carol", "c-9d3a"),
        })),
    );
    b.server(
        "join_with_info",
        push(Push::Join(Membership {
            channel: "chat:lobby".into(),
            info: who_with_info("carol", "c-9d3a", text(r#"{"name":"Carol"}"#)),
        })),
    );
    b.server(
        "leave",
        push(Push::Leave(Membership {
            channel: "chat:lobby".into(),
            info: who("carol", "c-9d3a"),
        })),
    );

    b.server(
        "message_user",
        push(Push::Message(Message {
            data: text(r#"{"text":"psst"}"#),
            from: Some(who("alice", "c-5f1e")),
            broadcast: false,
            offset: None,
            epoch: None,
        })),
    )
    .note("A send to this user from another client.");
    b.server(
        "message_user_inbox",
        push(Push::Message(Message {
            data: text(r#"{"text":"again"}"#),
            from: Some(who("alice", "c-5f1e")),
            broadcast: false,
            offset: Some(4),
            epoch: Some("9f3a".into()),
        })),
    )
    .note("A send to this user on a server that keeps inboxes: the message's position in the user's inbox.");
    b.server(
        "message_user_from_server",
        push(Push::Message(Message {
            data: text(r#"{"text":"your export is ready"}"#),
            from: None,
            broadcast: false,
            offset: None,
            epoch: None,
        })),
    );
    b.server(
        "message_broadcast",
        push(Push::Message(Message {
            data: text(r#"{"notice":"maintenance at 02:00"}"#),
            from: Some(who("admin", "c-0001")),
            broadcast: true,
            offset: None,
            epoch: None,
        })),
    );
    b.server(
        "message_broadcast_from_server",
        push(Push::Message(Message {
            data: text(r#"{"notice":"maintenance at 02:00"}"#),
            from: None,
            broadcast: true,
            offset: None,
            epoch: None,
        })),
    );

    b.server(
        "disconnect_reconnect",
        push(Push::Disconnect(Disconnect {
            code: CloseCode::SHUTDOWN,
            reason: "node shutting down".into(),
            reconnect: true,
        })),
    );
    b.server(
        "disconnect_terminal",
        push(Push::Disconnect(Disconnect {
            code: CloseCode::KICKED,
            reason: "kicked by admin".into(),
            reconnect: false,
        })),
    );
    b.server(
        "disconnect_token_expired",
        push(Push::Disconnect(Disconnect {
            code: CloseCode::TOKEN_EXPIRED,
            reason: "".into(),
            reconnect: false,
        })),
    )
    .note("reconnect is always written, even false; reason may be empty.");

    b.server(
        "unsubscribed",
        push(Push::Unsubscribed(Unsubscribed {
            channel: "chat:lobby".into(),
            code: ErrorCode::PERMISSION_DENIED,
            reason: "permission revoked".into(),
        })),
    );
    b.server(
        "unsubscribed_application_code",
        push(Push::Unsubscribed(Unsubscribed {
            channel: "chat:ops".into(),
            code: ErrorCode(1001),
            reason: "room closed".into(),
        })),
    );

    b.server("ping_push", push(Push::Ping(Empty {})))
        .note("Heartbeat: no id. Answer with a pong frame when the connect reply had pong: true.");

    b.finish("Pushes (server -> client, no id), read by a client with decode_server. Every Push variant.")
}

/// `payloads.json`: the forms application data takes in each codec.
pub(super) fn payloads() -> VectorFile<Vector> {
    let mut b = Builder::default();
    let publish = |id: u64, data: Payload| {
        Frame::Client(cmd(
            id,
            Request::Publish(PublishRequest {
                channel: "chat:lobby".into(),
                data,
                idempotency_key: None,
            }),
        ))
    };
    let publication = |data: Payload| {
        Frame::Server(push(Push::Publication(publication(
            "chat:lobby",
            Some(1),
            Some("e1"),
            data,
        ))))
    };

    b.payload("payload_json_object", publish(1, text(r#"{"text":"hi"}"#)));
    b.payload(
        "payload_json_object_inner_whitespace",
        publish(2, text("{ \"text\" :  \"hi\",\n\t\"n\" : [ 1 , 2 ] }")),
    )
    .note("Whitespace inside a JSON payload is kept verbatim (the `value` field cannot show it).");
    b.payload(
        "payload_json_outer_whitespace",
        publish(3, text(" {\"a\":1}")),
    )
    .note("JSON text with leading whitespace cannot be embedded verbatim (a parser drops it), so it is wrapped as {\"$bytes\"}.");
    b.payload(
        "payload_json_trailing_newline",
        publish(4, text("{\"a\":1}\n")),
    )
    .note("Trailing whitespace likewise forces the {\"$bytes\"} form.");
    b.payload("payload_json_string", publish(5, text(r#""hello""#)))
        .note("The payload is the JSON text \"hello\", quotes included.");
    b.payload("payload_json_integer", publish(6, text("42")));
    b.payload("payload_json_negative_decimal", publish(7, text("-12.5")));
    b.payload("payload_json_true", publish(8, text("true")));
    b.payload("payload_json_null", publish(9, text("null")))
        .note("The four bytes `null`, in a required data field.");
    b.payload(
        "payload_json_array",
        publish(10, text(r#"[1,"two",{"three":3},[],null]"#)),
    );
    b.payload(
        "payload_unicode_raw",
        publish(11, text("\"h\u{e9}llo w\u{f6}rld \u{2713} \u{1f600}\"")),
    )
    .note("A JSON string with raw non-ASCII UTF-8.");
    b.payload(
        "payload_unicode_escaped",
        publish(12, text(r#""\u00e9\ud83d\ude00""#)),
    )
    .note("JSON escapes are kept as written, not decoded.");
    b.payload("payload_utf8_not_json", publish(13, text("hello world")))
        .note("UTF-8 text that is not JSON: wrapped as {\"$bytes\"} in JSON.");
    b.payload(
        "payload_binary",
        publish(14, Payload::from(vec![0xff, 0x00, 0x01, 0xfe])),
    )
    .note("Not UTF-8: {\"$bytes\": standard base64 with padding} in JSON, bin in MessagePack.");
    b.payload(
        "payload_binary_all_bytes",
        publish(15, Payload::from((0..=255u8).collect::<Vec<_>>())),
    )
    .note("Bytes 0..=255: bin16 (0xc5) in MessagePack.");
    b.payload("payload_empty", publish(16, Payload::default()))
        .note(
            "Empty bytes are not JSON: {\"$bytes\":\"\"} in JSON, bin8 of length 0 in MessagePack.",
        );
    b.payload(
        "payload_literal_bytes_wrapper",
        publish(17, text(r#"{"$bytes":"/wAB"}"#)),
    )
    .note(
        "The text {\"$bytes\":\"/wAB\"} itself (not the bytes ff 00 01): it is wrapped in turn, \
         so it cannot be mistaken for binary data.",
    );
    b.payload(
        "payload_literal_bytes_wrapper_spaced",
        publish(18, text(r#"{ "$bytes" : "/wAB" }"#)),
    )
    .note("The reserved form with inner whitespace is still the reserved form, so this text is wrapped too.");
    b.payload(
        "payload_bytes_key_with_other_member",
        publish(19, text(r#"{"$bytes":"/wAB","x":1}"#)),
    )
    .note("Not the reserved form (a second member): embedded verbatim.");
    b.payload(
        "payload_escaped_bytes_key",
        publish(20, text(r#"{"\u0024bytes":"/wAB"}"#)),
    )
    .note(
        "The key is written with an escape, so the raw text does not contain `$bytes` and the \
         payload is embedded verbatim; decoders must look at the raw text, not the parsed \
         value (which shows a $bytes key).",
    );
    b.payload(
        "payload_long_string",
        publish(21, Payload::from(format!("\"{}\"", "a".repeat(298)))),
    )
    .note("300 bytes: bin16 in MessagePack.");
    b.payload(
        "publication_payload_json",
        publication(text(r#"{"text":"hi"}"#)),
    );
    b.payload(
        "publication_payload_binary",
        publication(Payload::from(vec![0xc1, 0xff])),
    );
    b.payload(
        "publication_payload_literal_bytes_wrapper",
        publication(text(r#"{"$bytes":""}"#)),
    );

    b.finish(
        "Application payloads (opaque bytes) in both codecs. `payload` is the hex of the bytes \
         a decoder must hand to the application.",
    )
}
