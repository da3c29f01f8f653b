//! The state machine driven through whole scenarios, with no socket and no clock.

use super::*;
use crate::codec::Codec;
use crate::codes::{CloseCode, ErrorCode};
use crate::frame::{ClientFrame, Command, Push, Reply, ReplyBody, Request, ServerFrame};
use crate::message::*;
use crate::payload::Payload;

/// A fake server side: feeds frames in, decodes what the client sends.
struct Harness {
    m: ClientMachine,
    now: Millis,
    codec: Codec,
    timer: Option<Millis>,
}

impl Harness {
    fn new(config: ClientConfig) -> Self {
        Harness {
            codec: config.codec,
            m: ClientMachine::new(config),
            now: 1_000,
            timer: None,
        }
    }

    fn json() -> Self {
        Self::new(ClientConfig::default())
    }

    fn drain(&mut self) -> Vec<Action> {
        let mut out = Vec::new();
        while let Some(a) = self.m.poll_action() {
            if let Action::ArmTimer { at } = a {
                self.timer = Some(at);
            }
            out.push(a);
        }
        out
    }

    fn sent(&self, actions: &[Action]) -> Vec<ClientFrame> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Send { bytes, binary } => {
                    assert_eq!(*binary, self.codec.is_binary());
                    Some(self.codec.decode_client(bytes).unwrap())
                }
                _ => None,
            })
            .collect()
    }

    fn commands(&self, actions: &[Action]) -> Vec<Command> {
        self.sent(actions)
            .into_iter()
            .filter_map(|f| match f {
                ClientFrame::Command(c) => Some(c),
                ClientFrame::Pong => None,
            })
            .collect()
    }

    fn drain_commands(&mut self) -> Vec<Command> {
        let actions = self.drain();
        self.commands(&actions)
    }

    fn server(&mut self, frame: ServerFrame) -> Vec<Action> {
        let bytes = self.codec.encode_server(&frame).unwrap();
        self.m.handle_frame(self.now, &bytes);
        self.drain()
    }

    fn reply(&mut self, id: u64, result: Result<ReplyBody, Error>) -> Vec<Action> {
        self.server(ServerFrame::Reply(Reply { id, result }))
    }

    fn push(&mut self, push: Push) -> Vec<Action> {
        self.server(ServerFrame::Push(push))
    }

    /// Moves the clock to `at` and fires the timer if it is due.
    fn advance_to(&mut self, at: Millis) -> Vec<Action> {
        self.now = at;
        self.m.handle_timeout(self.now);
        self.drain()
    }

    fn advance(&mut self, ms: u64) -> Vec<Action> {
        self.advance_to(self.now + ms)
    }

    /// Jumps to the armed timer.
    fn fire_timer(&mut self) -> Vec<Action> {
        let at = self.m.poll_timeout().expect("a timer is armed");
        assert_eq!(
            Some(at),
            self.timer,
            "the last ArmTimer matches poll_timeout"
        );
        self.advance_to(at.max(self.now))
    }

    /// From any state: open the transport and answer connect with `result`.
    fn handshake(&mut self, result: ConnectResult) -> (Command, Vec<Action>) {
        let mut actions = self.drain();
        while !actions
            .iter()
            .any(|a| matches!(a, Action::OpenTransport { .. }))
        {
            actions = self.fire_timer();
        }
        self.m.transport_opened(self.now);
        let sent = self.drain();
        let cmd = self.commands(&sent).remove(0);
        assert!(matches!(cmd.request, Request::Connect(_)), "{cmd:?}");
        let actions = self.reply(cmd.id, Ok(ReplyBody::Connect(result)));
        (cmd, actions)
    }

    fn connect(&mut self) -> Vec<Action> {
        self.m.connect(self.now);
        self.handshake(connected()).1
    }

    /// Starts connecting and opens the transport; the `connect` command sent.
    fn connect_command(&mut self) -> Command {
        self.m.connect(self.now);
        self.drain();
        self.m.transport_opened(self.now);
        self.drain_commands().remove(0)
    }

    fn lose(&mut self, code: Option<u16>) -> Vec<Action> {
        self.m.transport_closed(self.now, code, "");
        self.drain()
    }
}

fn connected() -> ConnectResult {
    ConnectResult {
        client: "c1".into(),
        user: "alice".into(),
        version: "test".into(),
        ping_interval_ms: 25_000,
        pong: true,
        ..Default::default()
    }
}

/// Whether the actions do nothing but (re)arm the timer: what a timer firing
/// before anything is due leads to.
fn only_rearms(actions: &[Action]) -> bool {
    actions.iter().all(|a| matches!(a, Action::ArmTimer { .. }))
}

fn events(actions: &[Action]) -> Vec<Event> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Emit(e) => Some(e.clone()),
            _ => None,
        })
        .collect()
}

fn states(actions: &[Action]) -> Vec<ConnectionState> {
    events(actions)
        .into_iter()
        .filter_map(|e| match e {
            Event::State { state, .. } => Some(state),
            _ => None,
        })
        .collect()
}

fn publication(channel: &str, offset: u64, epoch: &str) -> Publication {
    Publication {
        channel: channel.into(),
        offset: Some(offset),
        epoch: Some(epoch.into()),
        data: Payload::from(format!("{offset}")),
        info: None,
    }
}

fn delivered_offsets(actions: &[Action]) -> Vec<u64> {
    events(actions)
        .into_iter()
        .filter_map(|e| match e {
            Event::Publication(p) => p.offset,
            _ => None,
        })
        .collect()
}

fn publish(channel: &str) -> Request {
    Request::Publish(PublishRequest {
        channel: channel.into(),
        data: Payload::from("1"),
        idempotency_key: None,
    })
}

fn position(offset: u64, epoch: &str) -> Option<StreamPosition> {
    Some(StreamPosition {
        offset,
        epoch: epoch.into(),
    })
}

#[test]
fn connects_and_reports_state() {
    for codec in [Codec::Json, Codec::MessagePack] {
        let mut h = Harness::new(ClientConfig {
            codec,
            token: Some("jwt".into()),
            ..Default::default()
        });
        h.m.connect(h.now);
        let actions = h.drain();
        assert_eq!(states(&actions), [ConnectionState::Connecting]);
        assert!(actions.contains(&Action::OpenTransport {
            url: String::new(),
            subprotocol: codec.subprotocol()
        }));
        let (cmd, actions) = h.handshake(connected());
        let Request::Connect(req) = cmd.request else {
            unreachable!()
        };
        assert_eq!(req.token.as_deref(), Some("jwt"));
        assert_eq!(req.name.as_deref(), Some("chorus"));
        assert_eq!(states(&actions), [ConnectionState::Connected]);
        assert!(matches!(&events(&actions)[1], Event::Connected(r) if r.client == "c1"));
        // The ping watchdog is armed at interval + grace.
        assert_eq!(h.m.poll_timeout(), Some(h.now + 35_000));
    }
}

#[test]
fn requests_are_answered_once_and_time_out() {
    let mut h = Harness::json();
    h.connect();
    let id = h.m.request(h.now, publish("chat:a")).unwrap();
    let sent = h.drain();
    let cmd = h.commands(&sent).remove(0);
    assert_eq!(cmd.request, publish("chat:a"));
    let actions = h.reply(cmd.id, Ok(ReplyBody::Publish(PublishResult::default())));
    assert_eq!(
        events(&actions),
        [Event::Reply {
            request: id,
            result: Ok(ReplyBody::Publish(PublishResult::default()))
        }]
    );

    let id2 = h.m.request(h.now, publish("chat:a")).unwrap();
    let cmd2 = h.drain_commands().remove(0);
    let actions = h.advance(9_999);
    assert!(events(&actions).is_empty());
    let actions = h.advance(1);
    assert!(
        matches!(&events(&actions)[..], [Event::Reply { request, result: Err(e) }]
        if *request == id2 && e.code == ErrorCode::TIMEOUT)
    );
    // A late reply is ignored.
    let actions = h.reply(cmd2.id, Ok(ReplyBody::Publish(PublishResult::default())));
    assert!(events(&actions).is_empty());
    assert_eq!(h.m.state(), ConnectionState::Connected);
}

#[test]
fn invalid_channels_and_managed_ops_are_refused_locally() {
    let mut h = Harness::json();
    h.connect();
    let e = h.m.request(h.now, publish("bad channel")).unwrap_err();
    assert_eq!(e.code, ErrorCode::INVALID_CHANNEL);
    let e =
        h.m.request(
            h.now,
            Request::Refresh(RefreshRequest { token: "x".into() }),
        )
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::BAD_REQUEST);
    let e =
        h.m.subscribe(h.now, "", SubscribeOptions::default())
            .unwrap_err();
    assert_eq!(e.code, ErrorCode::INVALID_CHANNEL);
    h.m.subscribe(h.now, "chat:a", SubscribeOptions::default())
        .unwrap();
    let e =
        h.m.subscribe(h.now, "chat:a", SubscribeOptions::default())
            .unwrap_err();
    assert_eq!(e.code, ErrorCode::DUPLICATE_SUBSCRIPTION);
}

#[test]
fn reconnect_storm_backs_off_with_jitter_and_resets_after_success() {
    let mut h = Harness::json();
    h.connect();
    let mut delays = Vec::new();
    for _ in 0..60 {
        let before = h.now;
        let actions = h.lose(Some(1006));
        assert!(
            !actions
                .iter()
                .any(|a| matches!(a, Action::OpenTransport { .. }))
        );
        let actions = h.fire_timer();
        assert!(
            actions
                .iter()
                .any(|a| matches!(a, Action::OpenTransport { .. })),
            "{actions:?}"
        );
        delays.push(h.now - before);
        h.m.transport_opened(h.now);
        h.drain();
    }
    assert!(delays[0] <= 500, "{delays:?}");
    assert!(delays.iter().all(|d| *d <= 20_000), "{delays:?}");
    assert!(delays[10..].iter().any(|d| *d > 10_000), "{delays:?}");
    let distinct: std::collections::BTreeSet<_> = delays[10..].iter().collect();
    assert!(distinct.len() > 20, "jitter spreads retries: {delays:?}");
    assert_eq!(h.m.state(), ConnectionState::Connecting);

    // A successful connect resets the backoff.
    let connect_cmd = h.drain_commands();
    assert!(connect_cmd.is_empty());
    h.m.transport_closed(h.now, None, "refused");
    h.drain();
    let (_, actions) = h.handshake(connected());
    assert_eq!(states(&actions), [ConnectionState::Connected]);
    let before = h.now;
    h.lose(None);
    h.fire_timer();
    assert!(h.now - before <= 500);
}

#[test]
fn terminal_close_codes_stop_reconnecting() {
    for code in [4500u16, 4501, 4502, 4503, 4504, 4505, 4506, 4999] {
        let mut h = Harness::json();
        h.connect();
        let actions = h.lose(Some(code));
        let evs = events(&actions);
        assert!(
            matches!(&evs[..], [
                Event::Failure(Failure { reason: f, retry_in_ms: None, .. }),
                Event::State { state: ConnectionState::Closed, reason: Some(r) },
            ] if r.code == CloseCode(code) && f == r),
            "{code}: {evs:?}"
        );
        assert_eq!(h.m.poll_timeout(), None, "no reconnect timer after {code}");
        let actions = h.advance(60_000);
        assert!(actions.is_empty());
        let e = h.m.request(h.now, publish("chat:a")).unwrap_err();
        assert_eq!(e.code, ErrorCode::CLIENT_CLOSED);
        // The application may start over.
        h.m.connect(h.now);
        assert!(
            h.drain()
                .iter()
                .any(|a| matches!(a, Action::OpenTransport { .. }))
        );
    }
}

#[test]
fn reconnect_codes_reconnect() {
    for code in [
        None,
        Some(1000),
        Some(1001),
        Some(1006),
        Some(4000),
        Some(4001),
        Some(4499),
    ] {
        let mut h = Harness::json();
        h.connect();
        let actions = h.lose(code);
        assert_eq!(states(&actions), [ConnectionState::Connecting], "{code:?}");
        let (_, actions) = h.handshake(connected());
        assert_eq!(states(&actions), [ConnectionState::Connected]);
    }
}

#[test]
fn disconnect_push_explains_a_close_without_code() {
    let mut h = Harness::json();
    h.connect();
    h.push(Push::Disconnect(Disconnect {
        code: CloseCode::KICKED,
        reason: "bye".into(),
        reconnect: false,
    }));
    let actions = h.lose(Some(1006));
    assert!(matches!(&events(&actions)[..],
        [Event::Failure(_), Event::State { state: ConnectionState::Closed, reason: Some(r) }]
            if r.code == CloseCode::KICKED && r.reason == "bye"));
}

#[test]
fn resubscribes_with_recovery_and_delivers_exactly_once_in_order() {
    let mut h = Harness::new(ClientConfig {
        codec: Codec::MessagePack,
        ..Default::default()
    });
    h.m.subscribe(h.now, "chat:a", SubscribeOptions::default())
        .unwrap();
    assert!(
        matches!(&events(&h.drain())[..], [Event::Subscribing { channel }] if channel == "chat:a")
    );
    h.m.connect(h.now);
    let sub_ok = |pos, recovered, pubs| ConnectSub {
        channel: "chat:a".into(),
        ok: Some(SubscribeResult {
            position: pos,
            recovered,
            publications: pubs,
            data: None,
        }),
        error: None,
    };
    let (cmd, actions) = h.handshake(ConnectResult {
        subs: vec![sub_ok(position(5, "e1"), false, vec![])],
        ..connected()
    });
    let Request::Connect(req) = cmd.request else {
        unreachable!()
    };
    assert_eq!(req.subs.len(), 1);
    assert_eq!(req.subs[0].since, None);
    assert!(events(&actions).contains(&Event::Subscribed {
        channel: "chat:a".into(),
        recovery: Recovery::Fresh,
        data: None
    }));
    assert_eq!(
        h.m.subscription_state("chat:a"),
        SubscriptionState::Subscribed
    );

    let mut got = Vec::new();
    for off in [6, 7, 7, 6] {
        got.extend(delivered_offsets(
            &h.push(Push::Publication(publication("chat:a", off, "e1"))),
        ));
    }
    assert_eq!(got, [6, 7], "duplicates dropped");

    let actions = h.lose(Some(1006));
    assert!(events(&actions).contains(&Event::Subscribing {
        channel: "chat:a".into()
    }));
    let (cmd, actions) = h.handshake(ConnectResult {
        subs: vec![sub_ok(
            position(9, "e1"),
            true,
            vec![
                publication("chat:a", 7, "e1"),
                publication("chat:a", 8, "e1"),
                publication("chat:a", 9, "e1"),
            ],
        )],
        ..connected()
    });
    let Request::Connect(req) = cmd.request else {
        unreachable!()
    };
    assert_eq!(
        req.subs[0].since,
        position(7, "e1"),
        "recovery position sent"
    );
    assert_eq!(delivered_offsets(&actions), [8, 9]);
    let evs = events(&actions);
    let marker = evs
        .iter()
        .position(|e| {
            matches!(
                e,
                Event::Subscribed {
                    recovery: Recovery::Recovered,
                    ..
                }
            )
        })
        .unwrap();
    let last_pub = evs
        .iter()
        .rposition(|e| matches!(e, Event::Publication(_)))
        .unwrap();
    assert!(
        last_pub < marker,
        "publications come before the recovered marker"
    );
    let later = h.push(Push::Publication(publication("chat:a", 9, "e1")));
    assert!(delivered_offsets(&later).is_empty());
    let later = h.push(Push::Publication(publication("chat:a", 10, "e1")));
    assert_eq!(delivered_offsets(&later), [10]);
    assert_eq!(
        h.m.positions().collect::<Vec<_>>(),
        [(
            "chat:a",
            &StreamPosition {
                offset: 10,
                epoch: "e1".into()
            }
        )]
    );
}

#[test]
fn lost_history_is_reported_unrecoverable() {
    let mut h = Harness::json();
    h.m.subscribe(
        h.now,
        "chat:a",
        SubscribeOptions {
            data: None,
            since: position(3, "old"),
        },
    )
    .unwrap();
    h.connect();
    let cmds = h.drain_commands();
    assert!(cmds.is_empty(), "the subscription travelled in connect");
    // The harness answered connect without subs: the client subscribes separately.
    let mut h = Harness::json();
    h.m.subscribe(
        h.now,
        "chat:a",
        SubscribeOptions {
            data: None,
            since: position(3, "old"),
        },
    )
    .unwrap();
    h.m.connect(h.now);
    let (_, actions) = h.handshake(connected());
    let cmd = h.commands(&actions).remove(0);
    let Request::Subscribe(req) = &cmd.request else {
        panic!("{cmd:?}")
    };
    assert_eq!(req.since, position(3, "old"));
    let actions = h.reply(
        cmd.id,
        Ok(ReplyBody::Subscribe(SubscribeResult {
            position: position(40, "new"),
            recovered: false,
            ..Default::default()
        })),
    );
    assert!(events(&actions).contains(&Event::Subscribed {
        channel: "chat:a".into(),
        recovery: Recovery::Unrecoverable,
        data: None
    }));
    let got = delivered_offsets(&h.push(Push::Publication(publication("chat:a", 41, "new"))));
    assert_eq!(got, [41]);
}

#[test]
fn publications_before_the_subscribe_reply_are_buffered_and_deduplicated() {
    let mut h = Harness::json();
    h.connect();
    h.m.subscribe(h.now, "chat:a", SubscribeOptions::default())
        .unwrap();
    let cmd = h.drain_commands().remove(0);
    assert!(
        delivered_offsets(&h.push(Push::Publication(publication("chat:a", 5, "e")))).is_empty()
    );
    assert!(
        delivered_offsets(&h.push(Push::Publication(publication("chat:a", 6, "e")))).is_empty()
    );
    let actions = h.reply(
        cmd.id,
        Ok(ReplyBody::Subscribe(SubscribeResult {
            position: position(5, "e"),
            ..Default::default()
        })),
    );
    assert_eq!(
        delivered_offsets(&actions),
        [6],
        "5 precedes the subscription point"
    );
}

#[test]
fn ready_comes_once_before_anything_a_subscription_delivers() {
    let mut h = Harness::json();
    h.connect();
    h.m.subscribe(h.now, "chat:a", SubscribeOptions::default())
        .unwrap();
    let cmd = h.drain_commands().remove(0);
    h.push(Push::Publication(publication("chat:a", 6, "e")));
    let actions = h.reply(
        cmd.id,
        Ok(ReplyBody::Subscribe(SubscribeResult {
            position: position(5, "e"),
            ..Default::default()
        })),
    );
    let evs = events(&actions);
    let ready = Event::Ready {
        channel: "chat:a".into(),
    };
    assert_eq!(evs.first(), Some(&ready), "{evs:?}");
    assert!(matches!(evs[1], Event::Publication(_)), "{evs:?}");
    // After a reconnect the subscription is live again, but not new.
    h.lose(Some(1006));
    let (_, actions) = h.handshake(ConnectResult {
        subs: vec![ConnectSub {
            channel: "chat:a".into(),
            ok: Some(SubscribeResult {
                position: position(6, "e"),
                recovered: true,
                ..Default::default()
            }),
            error: None,
        }],
        ..connected()
    });
    let evs = events(&actions);
    assert!(!evs.contains(&ready), "{evs:?}");
    assert!(evs.iter().any(|e| matches!(e, Event::Subscribed { .. })));
}

#[test]
fn subscribe_errors_retry_or_end_the_subscription() {
    let mut h = Harness::json();
    h.connect();
    h.m.subscribe(h.now, "chat:a", SubscribeOptions::default())
        .unwrap();
    let cmd = h.drain_commands().remove(0);
    let actions = h.reply(cmd.id, Err(Error::new(ErrorCode::CHANNEL_FULL, "full")));
    assert!(h.commands(&actions).is_empty());
    assert_eq!(
        h.m.subscription_state("chat:a"),
        SubscriptionState::Subscribing
    );
    // Retried after a backoff delay (the ping watchdog fires much later).
    let actions = h.fire_timer();
    let retry = h.commands(&actions).remove(0);
    assert!(matches!(retry.request, Request::Subscribe(_)));
    let actions = h.reply(
        retry.id,
        Err(Error::new(ErrorCode::PERMISSION_DENIED, "no")),
    );
    assert!(
        matches!(&events(&actions)[..], [Event::Unsubscribed { channel, reason: UnsubscribeReason::Refused(e) }]
        if channel == "chat:a" && e.code == ErrorCode::PERMISSION_DENIED)
    );
    assert_eq!(
        h.m.subscription_state("chat:a"),
        SubscriptionState::Unsubscribed
    );
}

#[test]
fn server_unsubscribe_ends_the_subscription() {
    let mut h = Harness::json();
    h.connect();
    h.m.subscribe(h.now, "chat:a", SubscribeOptions::default())
        .unwrap();
    let cmd = h.drain_commands().remove(0);
    h.reply(cmd.id, Ok(ReplyBody::Subscribe(SubscribeResult::default())));
    let actions = h.push(Push::Unsubscribed(Unsubscribed {
        channel: "chat:a".into(),
        code: ErrorCode::PERMISSION_DENIED,
        reason: "revoked".into(),
    }));
    assert!(
        matches!(&events(&actions)[..], [Event::Unsubscribed { reason: UnsubscribeReason::Server(e), .. }] if e.message == "revoked")
    );
    // Nothing is resubscribed after a reconnect.
    h.lose(None);
    let (cmd, _) = h.handshake(connected());
    let Request::Connect(req) = cmd.request else {
        unreachable!()
    };
    assert!(req.subs.is_empty());
}

#[test]
fn unsubscribing_during_connect_is_undone_on_the_server() {
    let mut h = Harness::json();
    h.m.subscribe(h.now, "chat:a", SubscribeOptions::default())
        .unwrap();
    h.m.connect(h.now);
    h.drain();
    h.m.transport_opened(h.now);
    let connect = h.drain_commands().remove(0);
    h.m.unsubscribe(h.now, "chat:a");
    let actions = h.drain();
    assert!(
        h.commands(&actions).is_empty(),
        "the server does not know it yet"
    );
    let actions = h.reply(
        connect.id,
        Ok(ReplyBody::Connect(ConnectResult {
            subs: vec![ConnectSub {
                channel: "chat:a".into(),
                ok: Some(SubscribeResult::default()),
                error: None,
            }],
            ..connected()
        })),
    );
    let cmds = h.commands(&actions);
    assert!(
        matches!(&cmds[..], [Command { request: Request::Unsubscribe(r), .. }] if r.channel == "chat:a")
    );
    assert!(
        !events(&actions)
            .iter()
            .any(|e| matches!(e, Event::Subscribed { .. }))
    );
}

#[test]
fn ping_watchdog_reconnects_a_silent_connection_and_pongs_are_sent() {
    let mut h = Harness::json();
    h.connect();
    let actions = h.push(Push::Ping(Empty {}));
    assert_eq!(h.sent(&actions), [ClientFrame::Pong]);
    // Frames keep it alive.
    for _ in 0..5 {
        assert!(only_rearms(&h.advance(30_000)));
        h.push(Push::Ping(Empty {}));
    }
    let actions = h.advance(34_999);
    assert!(only_rearms(&actions));
    let actions = h.advance(1);
    assert!(actions.contains(&Action::CloseTransport(CloseReason {
        code: CloseCode::PING_TIMEOUT,
        reason: "no ping from the server".into()
    })));
    assert_eq!(states(&actions), [ConnectionState::Connecting]);
}

#[test]
fn requests_made_while_reconnecting_are_queued_bounded_and_flushed() {
    let mut h = Harness::new(ClientConfig {
        max_queued: 2,
        ..Default::default()
    });
    h.connect();
    h.lose(None);
    let a = h.m.request(h.now, publish("chat:a")).unwrap();
    let b = h.m.request(h.now, publish("chat:b")).unwrap();
    let e = h.m.request(h.now, publish("chat:c")).unwrap_err();
    assert_eq!(e.code, ErrorCode::QUEUE_FULL);
    let (_, actions) = h.handshake(connected());
    let cmds = h.commands(&actions);
    assert_eq!(cmds.len(), 2);
    assert_eq!(cmds[0].request, publish("chat:a"));
    assert_eq!(cmds[1].request, publish("chat:b"));
    let actions = h.reply(cmds[1].id, Ok(ReplyBody::Publish(PublishResult::default())));
    assert!(
        matches!(&events(&actions)[..], [Event::Reply { request, result: Ok(_) }] if *request == b)
    );
    // Requests in flight when the connection drops fail: they may or may not have been applied.
    let actions = h.lose(None);
    assert!(
        events(&actions)
            .iter()
            .any(|e| matches!(e, Event::Reply { request, result: Err(e) }
        if *request == a && e.code == ErrorCode::CONNECTION_LOST))
    );
}

#[test]
fn queued_requests_time_out_and_fail_fast_when_queueing_is_off() {
    let mut h = Harness::json();
    h.connect();
    h.lose(None);
    // Keep the reconnect from succeeding.
    let id = h.m.request(h.now, publish("chat:a")).unwrap();
    let mut timed_out = false;
    for _ in 0..20 {
        let actions = h.fire_timer();
        if actions
            .iter()
            .any(|a| matches!(a, Action::OpenTransport { .. }))
        {
            h.m.transport_closed(h.now, None, "refused");
        }
        timed_out |= events(&h.drain())
            .into_iter()
            .chain(events(&actions))
            .any(|e| matches!(e, Event::Reply { request, result: Err(e) } if request == id && e.code == ErrorCode::TIMEOUT));
        if timed_out {
            break;
        }
    }
    assert!(timed_out);

    let mut h = Harness::new(ClientConfig {
        max_queued: 0,
        ..Default::default()
    });
    h.connect();
    h.lose(None);
    assert_eq!(
        h.m.request(h.now, publish("chat:a")).unwrap_err().code,
        ErrorCode::QUEUE_FULL
    );
}

#[test]
fn token_provider_supplies_and_refreshes_tokens() {
    let mut h = Harness::new(ClientConfig {
        token_provider: true,
        ..Default::default()
    });
    h.m.connect(h.now);
    let actions = h.drain();
    assert!(actions.contains(&Action::FetchToken));
    assert!(
        !actions
            .iter()
            .any(|a| matches!(a, Action::OpenTransport { .. }))
    );
    h.m.set_token(h.now, "t1".into());
    let (cmd, _) = h.handshake(ConnectResult {
        expires_in_ms: Some(60_000),
        ..connected()
    });
    let Request::Connect(req) = cmd.request else {
        unreachable!()
    };
    assert_eq!(req.token.as_deref(), Some("t1"));
    h.push(Push::Ping(Empty {}));
    let actions = h.advance(20_000);
    assert!(only_rearms(&actions));
    h.push(Push::Ping(Empty {}));
    let actions = h.advance(30_000);
    assert!(
        actions.contains(&Action::FetchToken),
        "refreshed 10 s before expiry"
    );
    h.m.set_token(h.now, "t2".into());
    let cmd = h.drain_commands().remove(0);
    assert_eq!(
        cmd.request,
        Request::Refresh(RefreshRequest { token: "t2".into() })
    );
    h.reply(
        cmd.id,
        Ok(ReplyBody::Refresh(RefreshResult {
            expires_in_ms: Some(60_000),
        })),
    );
    assert_eq!(h.m.state(), ConnectionState::Connected);

    // An expired-token close clears the token and fetches a new one.
    let actions = h.lose(Some(CloseCode::TOKEN_EXPIRED.0));
    assert_eq!(states(&actions), [ConnectionState::Connecting]);
    let actions = h.fire_timer();
    assert!(actions.contains(&Action::FetchToken));
    h.m.token_failed(h.now, Error::new(ErrorCode::UNAUTHORIZED, "logged out"));
    assert_eq!(states(&h.drain()), [ConnectionState::Closed]);
}

#[test]
fn refused_connects_close_or_retry_by_the_error_table() {
    let mut h = Harness::json();
    let cmd = h.connect_command();
    let actions = h.reply(
        cmd.id,
        Err(Error::new(ErrorCode::UNAUTHORIZED, "bad token")),
    );
    assert!(actions.contains(&Action::CloseTransport(CloseReason {
        code: CloseCode::UNAUTHORIZED,
        reason: "bad token".into()
    })));
    assert_eq!(states(&actions), [ConnectionState::Closed]);

    let mut h = Harness::json();
    let cmd = h.connect_command();
    let actions = h.reply(cmd.id, Err(Error::new(ErrorCode::UNAVAILABLE, "draining")));
    assert!(states(&actions).is_empty(), "still connecting");
    let (_, actions) = h.handshake(connected());
    assert_eq!(states(&actions), [ConnectionState::Connected]);
}

#[test]
fn connect_timeout_retries() {
    let mut h = Harness::json();
    h.m.connect(h.now);
    h.drain();
    h.m.transport_opened(h.now);
    h.drain();
    let actions = h.advance(10_000);
    assert!(
        actions.iter().any(
            |a| matches!(a, Action::CloseTransport(r) if r.code == CloseCode::REQUEST_TIMEOUT)
        )
    );
    let (_, actions) = h.handshake(connected());
    assert_eq!(states(&actions), [ConnectionState::Connected]);
}

#[test]
fn disconnect_stops_everything_and_keeps_subscriptions_for_later() {
    let mut h = Harness::json();
    h.m.subscribe(h.now, "chat:a", SubscribeOptions::default())
        .unwrap();
    h.connect();
    let id = h.m.request(h.now, publish("chat:a")).unwrap();
    h.drain();
    h.m.disconnect(h.now);
    let actions = h.drain();
    assert!(actions.contains(&Action::CloseTransport(CloseReason {
        code: CloseCode::NORMAL,
        reason: "client disconnect".into()
    })));
    assert!(events(&actions).iter().any(|e| matches!(e, Event::Reply { request, result: Err(e) } if *request == id && e.code == ErrorCode::CLIENT_CLOSED)));
    assert_eq!(h.m.state(), ConnectionState::Disconnected);
    assert_eq!(h.m.poll_timeout(), None);
    assert_eq!(
        h.m.subscription_state("chat:a"),
        SubscriptionState::Subscribing
    );
    h.m.connect(h.now);
    let (cmd, _) = h.handshake(connected());
    let Request::Connect(req) = cmd.request else {
        unreachable!()
    };
    assert_eq!(req.subs.len(), 1);
}

#[test]
fn undecodable_server_frames_are_ignored_with_a_warning() {
    let mut h = Harness::json();
    h.connect();
    h.m.handle_frame(h.now, b"{not json");
    let actions = h.drain();
    assert!(matches!(&events(&actions)[..], [Event::Warning(_)]));
    assert_eq!(h.m.state(), ConnectionState::Connected);
}

proptest::proptest! {
    /// Random inputs in any order: nothing panics, every request id is answered
    /// exactly once, and the timer always matches `poll_timeout`.
    #[test]
    fn random_storms_keep_the_invariants(ops in proptest::collection::vec(0u8..12, 1..200), seed: u64) {
        let mut h = Harness::new(ClientConfig { random_seed: seed, max_queued: 5, ..Default::default() });
        let mut issued = std::collections::BTreeSet::new();
        let mut answered = std::collections::BTreeMap::<RequestId, u32>::new();
        let mut last_connect = None;
        let record = |actions: &[Action], answered: &mut std::collections::BTreeMap<RequestId, u32>| {
            for e in events(actions) {
                if let Event::Reply { request, .. } = e {
                    *answered.entry(request).or_default() += 1;
                }
            }
        };
        for op in ops {
            match op {
                0 => h.m.connect(h.now),
                1 => h.m.transport_opened(h.now),
                2 => h.m.transport_closed(h.now, Some(1006), ""),
                3 => h.m.transport_closed(h.now, Some(4500), ""),
                4 => { if let Ok(id) = h.m.request(h.now, publish("chat:a")) { issued.insert(id); } }
                5 => { let _ = h.m.subscribe(h.now, "chat:a", SubscribeOptions::default()); }
                6 => h.m.unsubscribe(h.now, "chat:a"),
                7 => { let at = h.m.poll_timeout().unwrap_or(h.now + 1); h.now = h.now.max(at); h.m.handle_timeout(h.now); }
                8 => { if let Some(id) = last_connect { let a = h.reply(id, Ok(ReplyBody::Connect(connected()))); record(&a, &mut answered); } }
                9 => { h.push(Push::Publication(publication("chat:a", h.now, "e"))); }
                10 => h.m.disconnect(h.now),
                _ => { h.now += 3_000; h.m.handle_timeout(h.now); }
            }
            let actions = h.drain();
            for c in h.commands(&actions) {
                if matches!(c.request, Request::Connect(_)) { last_connect = Some(c.id); }
            }
            record(&actions, &mut answered);
            let due = h.m.poll_timeout();
            proptest::prop_assert!(due.is_none() || due == h.timer, "armed {:?}, due {:?}", h.timer, due);
        }
        h.m.disconnect(h.now);
        let actions = h.drain();
        record(&actions, &mut answered);
        for id in &issued {
            proptest::prop_assert_eq!(answered.get(id).copied(), Some(1), "request {:?}", id);
        }
        proptest::prop_assert_eq!(h.m.poll_timeout(), None);
    }
}

mod failures;
mod gaps;
mod urls;
