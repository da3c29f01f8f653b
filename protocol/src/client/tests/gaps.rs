//! Gaps in live publications: detected by offset, read from history, reported.

use super::*;

/// A client subscribed to `chat:a` at position 5 of epoch `e1`.
fn subscribed_at_5() -> Harness {
    let mut h = Harness::json();
    h.m.subscribe(h.now, "chat:a", SubscribeOptions::default())
        .unwrap();
    h.m.connect(h.now);
    h.handshake(ConnectResult {
        subs: vec![ConnectSub {
            channel: "chat:a".into(),
            ok: Some(SubscribeResult {
                position: position(5, "e1"),
                ..Default::default()
            }),
            error: None,
        }],
        ..connected()
    });
    h
}

/// The `history` commands among `actions`, with their wire ids.
fn history_requests(h: &Harness, actions: &[Action]) -> Vec<(u64, HistoryRequest)> {
    h.commands(actions)
        .into_iter()
        .filter_map(|c| match c.request {
            Request::History(r) => Some((c.id, r)),
            _ => None,
        })
        .collect()
}

fn live(h: &mut Harness, offset: u64) -> Vec<Action> {
    h.push(Push::Publication(publication("chat:a", offset, "e1")))
}

fn page(offsets: &[u64]) -> Result<ReplyBody, Error> {
    Ok(ReplyBody::History(HistoryResult {
        position: position(12, "e1").unwrap_or_default(),
        publications: offsets
            .iter()
            .map(|o| publication("chat:a", *o, "e1"))
            .collect(),
    }))
}

fn gaps(actions: &[Action]) -> Vec<(u64, u64, bool)> {
    events(actions)
        .into_iter()
        .filter_map(|e| match e {
            Event::Gap {
                first,
                last,
                recovered,
                ..
            } => Some((first, last, recovered)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_gap_is_read_from_history_and_delivered_in_order() {
    let mut h = subscribed_at_5();
    assert_eq!(delivered_offsets(&live(&mut h, 6)), [6]);

    // 7 and 8 never arrive live: 9 shows the gap and is held back.
    let actions = live(&mut h, 9);
    assert!(delivered_offsets(&actions).is_empty());
    let asked = history_requests(&h, &actions);
    assert_eq!(asked.len(), 1, "{actions:?}");
    let (id, req) = asked[0].clone();
    assert_eq!(req.channel, "chat:a");
    assert_eq!(req.since, position(6, "e1"));
    assert_eq!(req.limit, Some(2));
    assert!(!req.reverse);
    // Live traffic keeps coming while history is read: held back too, and
    // no second repair starts.
    let actions = live(&mut h, 10);
    assert!(delivered_offsets(&actions).is_empty());
    assert!(history_requests(&h, &actions).is_empty());

    // History answers (overlapping what was delivered: dropped again).
    let actions = h.reply(id, page(&[6, 7, 8]));
    assert_eq!(delivered_offsets(&actions), [7, 8, 9, 10]);
    let evs = events(&actions);
    let gap = evs
        .iter()
        .position(|e| matches!(e, Event::Gap { .. }))
        .expect("a gap event");
    assert_eq!(gaps(&actions), [(7, 8, true)]);
    assert_eq!(delivered_offsets(&actions[..]).len(), 4);
    let before_gap: Vec<u64> = evs[..gap]
        .iter()
        .filter_map(|e| match e {
            Event::Publication(p) => p.offset,
            _ => None,
        })
        .collect();
    assert_eq!(before_gap, [7, 8], "repaired ones come before the event");

    assert_eq!(delivered_offsets(&live(&mut h, 11)), [11]);
    assert_eq!(
        h.m.positions().next(),
        Some((
            "chat:a",
            &StreamPosition {
                offset: 11,
                epoch: "e1".into()
            }
        ))
    );
}

#[test]
fn a_gap_history_no_longer_holds_is_reported_and_delivery_goes_on() {
    let mut h = subscribed_at_5();
    let actions = live(&mut h, 9);
    let (id, _) = history_requests(&h, &actions)[0].clone();
    // Only 7 is still stored.
    let actions = h.reply(id, page(&[7]));
    assert_eq!(delivered_offsets(&actions), [7, 9]);
    assert_eq!(gaps(&actions), [(6, 8, false)]);
    // No second repair for the same gap: delivery goes on from 9.
    let actions = live(&mut h, 10);
    assert_eq!(delivered_offsets(&actions), [10]);
    assert!(history_requests(&h, &actions).is_empty());
}

#[test]
fn failed_history_reads_are_retried_then_given_up() {
    let mut h = subscribed_at_5();
    let actions = live(&mut h, 8);
    let (id, _) = history_requests(&h, &actions)[0].clone();
    let temporary = Error::new(ErrorCode::INTERNAL, "broker");
    assert!(temporary.temporary);
    let actions = h.reply(id, Err(temporary.clone()));
    assert!(delivered_offsets(&actions).is_empty());
    assert!(gaps(&actions).is_empty());

    // Asked again after a backoff delay; this time it times out.
    let mut actions = Vec::new();
    while history_requests(&h, &actions).is_empty() {
        actions = h.fire_timer();
    }
    let (_, req) = history_requests(&h, &actions)[0].clone();
    assert_eq!(req.since, position(5, "e1"));
    let actions = h.advance(ClientConfig::default().request_timeout_ms);
    assert!(gaps(&actions).is_empty(), "a timeout is retried too");

    // The third attempt fails too: the gap is given up, delivery goes on.
    let mut actions = actions;
    while history_requests(&h, &actions).is_empty() {
        actions = h.fire_timer();
    }
    let (id, _) = history_requests(&h, &actions)[0].clone();
    let actions = h.reply(id, Err(temporary));
    assert_eq!(gaps(&actions), [(6, 7, false)]);
    assert_eq!(delivered_offsets(&actions), [8]);
    assert_eq!(h.m.state(), ConnectionState::Connected);
}

#[test]
fn a_connection_lost_during_a_repair_recovers_from_before_the_gap() {
    let mut h = subscribed_at_5();
    live(&mut h, 6);
    let actions = live(&mut h, 9);
    let (id, _) = history_requests(&h, &actions)[0].clone();
    h.lose(Some(1006));
    // A late answer of the old connection is ignored.
    let actions = h.reply(id, page(&[7, 8]));
    assert!(delivered_offsets(&actions).is_empty());
    let (cmd, _) = h.handshake(connected());
    let Request::Connect(req) = cmd.request else {
        unreachable!()
    };
    assert_eq!(
        req.subs[0].since,
        position(6, "e1"),
        "9 was never delivered"
    );
}

#[test]
fn a_stale_subscribe_position_shows_as_a_gap_in_the_buffered_publications() {
    let mut h = Harness::json();
    h.connect();
    h.m.subscribe(h.now, "chat:a", SubscribeOptions::default())
        .unwrap();
    let cmd = h.drain_commands().remove(0);
    assert!(matches!(cmd.request, Request::Subscribe(_)));
    // Live publications overtake a reply whose position lags them by two.
    live(&mut h, 8);
    live(&mut h, 9);
    let actions = h.reply(
        cmd.id,
        Ok(ReplyBody::Subscribe(SubscribeResult {
            position: position(5, "e1"),
            ..Default::default()
        })),
    );
    assert!(delivered_offsets(&actions).is_empty());
    let (id, req) = history_requests(&h, &actions)[0].clone();
    assert_eq!((req.since, req.limit), (position(5, "e1"), Some(2)));
    let actions = h.reply(id, page(&[6, 7]));
    assert_eq!(delivered_offsets(&actions), [6, 7, 8, 9]);
    assert_eq!(gaps(&actions), [(6, 7, true)]);
}

#[test]
fn a_new_epoch_or_a_channel_without_offsets_is_not_a_gap() {
    let mut h = subscribed_at_5();
    let actions = h.push(Push::Publication(publication("chat:a", 1, "e2")));
    assert_eq!(delivered_offsets(&actions), [1]);
    let mut plain = publication("chat:a", 0, "");
    plain.offset = None;
    plain.epoch = None;
    let actions = h.push(Push::Publication(plain));
    assert_eq!(events(&actions).len(), 1);
    assert!(history_requests(&h, &actions).is_empty());
}
