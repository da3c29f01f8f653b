//! Every failed attempt and every lost connection is reported with its cause,
//! the attempt's URL, the count of consecutive failures and what comes next.

use super::*;

fn failures(actions: &[Action]) -> Vec<Failure> {
    events(actions)
        .into_iter()
        .filter_map(|e| match e {
            Event::Failure(f) => Some(f),
            _ => None,
        })
        .collect()
}

/// Fires timers until the next attempt opens a transport.
fn retry(h: &mut Harness) {
    while !h
        .fire_timer()
        .iter()
        .any(|a| matches!(a, Action::OpenTransport { .. }))
    {}
}

#[test]
fn failed_attempts_while_connecting_are_each_reported_with_their_cause() {
    let mut h = Harness::new(ClientConfig {
        urls: vec!["ws://a/ws".into(), "ws://b/ws".into()],
        ..Default::default()
    });
    h.m.connect(h.now);
    h.drain();

    // The socket never opens (a browser gives no reason).
    h.m.transport_closed(h.now, None, "");
    let actions = h.drain();
    let [f] = &failures(&actions)[..] else {
        panic!("one failure: {actions:?}")
    };
    assert_eq!(f.reason.code, CloseCode(1006));
    assert_eq!(f.reason.reason, "could not open the connection");
    assert_eq!((f.url.as_str(), f.attempt), ("ws://a/ws", 1));
    let retry_at = h.now + f.retry_in_ms.expect("retried");
    assert_eq!(
        h.m.poll_timeout(),
        Some(retry_at),
        "retry_in_ms is the timer"
    );
    assert!(states(&actions).is_empty(), "still connecting");
    assert_eq!(h.m.state(), ConnectionState::Connecting);

    // The driver's own cause is kept.
    retry(&mut h);
    h.m.transport_closed(h.now, None, "connection refused");
    let f = failures(&h.drain()).remove(0);
    assert_eq!(f.reason.reason, "connection refused");
    assert_eq!((f.url.as_str(), f.attempt), ("ws://b/ws", 2));

    // Closed with a code before the handshake completed (an HTTP error page
    // ends the same way in a browser).
    retry(&mut h);
    h.m.transport_opened(h.now);
    h.drain();
    h.m.transport_closed(h.now, Some(4000), "going away");
    let f = failures(&h.drain()).remove(0);
    assert_eq!((f.reason.code, f.attempt), (CloseCode(4000), 3));

    // The server refuses the connect with a temporary error.
    retry(&mut h);
    h.m.transport_opened(h.now);
    let cmd = h.drain_commands().remove(0);
    let actions = h.reply(cmd.id, Err(Error::new(ErrorCode::UNAVAILABLE, "draining")));
    let f = failures(&actions).remove(0);
    assert_eq!((f.reason.reason.as_str(), f.attempt), ("draining", 4));
    assert!(f.retry_in_ms.is_some());

    // A silent server: the connect timeout.
    retry(&mut h);
    h.m.transport_opened(h.now);
    h.drain();
    let actions = h.advance(h.m.config().connect_timeout_ms);
    let f = failures(&actions).remove(0);
    assert_eq!(f.reason.code, CloseCode::REQUEST_TIMEOUT);
    assert_eq!(f.attempt, 5);

    // Connected: the count starts again, and a lost connection is a failure too,
    // reported before the state moves back to connecting.
    let (_, actions) = h.handshake(connected());
    assert_eq!(states(&actions), [ConnectionState::Connected]);
    let actions = h.lose(Some(1006));
    let evs = events(&actions);
    let at = |p: fn(&Event) -> bool| evs.iter().position(p).expect("present");
    assert!(
        at(|e| matches!(e, Event::Failure(f) if f.attempt == 1))
            < at(|e| matches!(e, Event::State { .. }))
    );
}

#[test]
fn a_terminal_failure_says_no_retry_then_closes() {
    let mut h = Harness::json();
    let cmd = h.connect_command();
    let actions = h.reply(
        cmd.id,
        Err(Error::new(ErrorCode::UNAUTHORIZED, "bad token")),
    );
    match &events(&actions)[..] {
        [
            Event::Failure(f),
            Event::State {
                state: ConnectionState::Closed,
                reason: Some(r),
            },
        ] => {
            assert_eq!(f.retry_in_ms, None);
            assert_eq!(&f.reason, r);
            assert_eq!(r.code, CloseCode::UNAUTHORIZED);
        }
        other => panic!("failure then closed: {other:?}"),
    }
    // A new connect counts from 1 again.
    h.m.connect(h.now);
    h.drain();
    h.m.transport_closed(h.now, None, "refused");
    assert_eq!(failures(&h.drain())[0].attempt, 1);
}

#[test]
fn a_client_disconnect_is_not_a_failure() {
    let mut h = Harness::json();
    h.connect();
    h.m.disconnect(h.now);
    assert!(failures(&h.drain()).is_empty());
}

#[test]
fn a_timer_that_fires_early_is_armed_again() {
    let mut h = Harness::json();
    h.m.connect(h.now);
    h.drain();
    h.m.transport_closed(h.now, None, "");
    let retry_at = h.m.poll_timeout().expect("a retry is scheduled");
    h.drain();
    // The host fires a millisecond early: nothing is due yet, and the timer
    // must be armed again for the retry, or the client would stall.
    h.now = retry_at - 1;
    h.m.handle_timeout(h.now);
    let actions = h.drain();
    assert!(
        !actions
            .iter()
            .any(|a| matches!(a, Action::OpenTransport { .. }))
    );
    assert!(
        actions.contains(&Action::ArmTimer { at: retry_at }),
        "re-armed: {actions:?}"
    );
    h.now = retry_at;
    h.m.handle_timeout(h.now);
    assert!(
        h.drain()
            .iter()
            .any(|a| matches!(a, Action::OpenTransport { .. }))
    );
}
