//! Several node URLs: each attempt after a failure goes to the next node.

use super::*;

fn opened_url(actions: &[Action]) -> Option<String> {
    actions.iter().find_map(|a| match a {
        Action::OpenTransport { url, .. } => Some(url.clone()),
        _ => None,
    })
}

/// Fires timers until the next attempt opens a transport; its URL.
fn next_attempt(h: &mut Harness) -> String {
    loop {
        if let Some(url) = opened_url(&h.fire_timer()) {
            return url;
        }
    }
}

#[test]
fn attempts_move_through_the_urls_and_wrap_around() {
    let urls: Vec<String> = ["ws://a/ws", "ws://b/ws", "ws://c/ws"]
        .map(String::from)
        .to_vec();
    let mut h = Harness::new(ClientConfig {
        urls: urls.clone(),
        ..Default::default()
    });
    h.m.connect(h.now);
    assert_eq!(opened_url(&h.drain()).as_deref(), Some("ws://a/ws"));
    assert_eq!(h.m.current_url(), Some("ws://a/ws"));
    // a refuses: b is next, then c, then a again.
    h.m.transport_closed(h.now, None, "refused");
    h.drain();
    assert_eq!(next_attempt(&mut h), "ws://b/ws");
    h.m.transport_closed(h.now, None, "refused");
    h.drain();
    assert_eq!(next_attempt(&mut h), "ws://c/ws");
    h.m.transport_closed(h.now, None, "refused");
    h.drain();
    assert_eq!(next_attempt(&mut h), "ws://a/ws");

    // Connected to a; a dies: the reconnect goes to b, not to a again.
    h.m.transport_opened(h.now);
    let cmd = h.drain_commands().remove(0);
    h.reply(cmd.id, Ok(ReplyBody::Connect(connected())));
    assert_eq!(h.m.state(), ConnectionState::Connected);
    h.lose(Some(1006));
    assert_eq!(next_attempt(&mut h), "ws://b/ws");
}

#[test]
fn one_url_is_always_the_one() {
    let mut h = Harness::new(ClientConfig {
        urls: vec!["ws://lb/ws".into()],
        ..Default::default()
    });
    h.m.connect(h.now);
    assert_eq!(opened_url(&h.drain()).as_deref(), Some("ws://lb/ws"));
    for _ in 0..3 {
        h.m.transport_closed(h.now, None, "refused");
        h.drain();
        assert_eq!(next_attempt(&mut h), "ws://lb/ws");
    }
}
