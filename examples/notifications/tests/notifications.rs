//! The notifications backend against a real development node, with real
//! clients signed in through the app: a notification reaches every connection
//! of its user and nobody else's, waits in the inbox of a user who is offline
//! until they connect again, a broadcast reaches everyone connected (and is
//! not kept), bad requests are refused with nothing sent, and a failing
//! server API is reported as such.

use std::time::Duration;

use chorus_client::{Client, Message, Recovery, StreamPosition};
use chorus_example_support::testing::{DevNode, serve_app, sign_in};
use serde_json::{Value, json};
use tokio::sync::broadcast;

/// Generous: shared CI machines, debug builds.
const WAIT: Duration = Duration::from_secs(20);

/// The node and the app beside it.
struct Setup {
    node: DevNode,
    base: String,
}

async fn setup() -> Setup {
    let node = DevNode::start().await;
    let base = serve_app(chorus_example_notifications::app(node.info.clone())).await;
    Setup { node, base }
}

/// A client of `user`, connected, with its messages read from before the
/// connect (so an inbox replay is among them); from `since` when given.
async fn connect(
    s: &Setup,
    user: &str,
    since: Option<StreamPosition>,
) -> (Client, broadcast::Receiver<Message>) {
    let mut builder = Client::builder(s.node.info.ws.clone()).token(sign_in(&s.base, user).await);
    if let Some(position) = since {
        builder = builder.inbox_since(position);
    }
    let client = builder.build();
    let messages = client.messages();
    tokio::time::timeout(WAIT, client.connect())
        .await
        .expect("connects in time")
        .expect("the token is accepted");
    (client, messages)
}

/// The client's inbox position once the connect's inbox reply is in.
async fn inbox_after_connect(client: &Client) -> (Option<StreamPosition>, Recovery) {
    let mut inbox = client.inbox();
    let state = tokio::time::timeout(WAIT, inbox.wait_for(|s| s.recovery.is_some()))
        .await
        .expect("the inbox reply in time")
        .expect("the client is running")
        .clone();
    (state.position, state.recovery.expect("waited for it"))
}

/// The next message, within [`WAIT`]: its data, and whether it is a broadcast.
async fn next(messages: &mut broadcast::Receiver<Message>) -> (Value, bool) {
    let m = tokio::time::timeout(WAIT, messages.recv())
        .await
        .expect("a message in time")
        .expect("the client is running");
    assert!(m.from.is_none(), "sent by the backend, not a client: {m:?}");
    (m.data.parse_json().expect("JSON"), m.broadcast)
}

/// `POST {base}{route}` with `body`: the status and the JSON answer.
async fn post(base: &str, route: &str, body: &Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{base}{route}"))
        .json(body)
        .send()
        .await
        .expect("the app answers");
    let status = response.status().as_u16();
    (status, response.json().await.expect("a JSON answer"))
}

async fn notify(base: &str, user: &str, text: &str) {
    let (status, body) = post(base, "/notify", &json!({ "user": user, "text": text })).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["kind"], "notification");
    assert_eq!(body["text"], text);
}

fn assert_notification(message: &(Value, bool), text: &str) {
    let (data, broadcast) = message;
    assert!(!broadcast, "{data}");
    assert_eq!(data["kind"], "notification", "{data}");
    assert_eq!(data["text"], text, "{data}");
    assert!(data["at"].as_u64().is_some_and(|at| at > 0), "{data}");
}

#[tokio::test]
async fn a_notification_reaches_every_connection_of_its_user_only() {
    let s = setup().await;

    let page = reqwest::get(format!("{}/", s.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("from '/sdk/dist/index.js'"),
        "the page runs on the SDK"
    );

    let (_laptop, mut laptop) = connect(&s, "alice", None).await;
    let (_phone, mut phone) = connect(&s, "alice", None).await;
    let (_bob, mut bob) = connect(&s, "bob", None).await;

    notify(&s.base, "alice", "your export is ready").await;
    assert_notification(&next(&mut laptop).await, "your export is ready");
    assert_notification(&next(&mut phone).await, "your export is ready");

    // Bob's first message is the one sent to him after alice's: hers never
    // came to him.
    notify(&s.base, "bob", "for bob").await;
    assert_notification(&next(&mut bob).await, "for bob");
}

#[tokio::test]
async fn an_offline_user_gets_what_they_missed_from_the_inbox_in_order() {
    let s = setup().await;

    let (alice, _messages) = connect(&s, "alice", None).await;
    let (position, recovery) = inbox_after_connect(&alice).await;
    assert_eq!(recovery, Recovery::Fresh);
    let position = position.expect("the server keeps inboxes: a position to start from");
    alice.disconnect().await.unwrap();
    drop(alice);

    notify(&s.base, "alice", "first while away").await;
    notify(&s.base, "alice", "second while away").await;

    let (again, mut messages) = connect(&s, "alice", Some(position)).await;
    assert_notification(&next(&mut messages).await, "first while away");
    assert_notification(&next(&mut messages).await, "second while away");
    assert_eq!(inbox_after_connect(&again).await.1, Recovery::Recovered);

    // Live again: the next one arrives once, right after the replay.
    notify(&s.base, "alice", "back online").await;
    assert_notification(&next(&mut messages).await, "back online");
}

#[tokio::test]
async fn a_broadcast_reaches_everyone_connected_and_is_not_kept() {
    let s = setup().await;

    let (alice, mut alice_messages) = connect(&s, "alice", None).await;
    let (_bob, mut bob_messages) = connect(&s, "bob", None).await;

    let (status, body) = post(
        &s.base,
        "/broadcast",
        &json!({ "text": "maintenance at noon" }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    for messages in [&mut alice_messages, &mut bob_messages] {
        let (data, broadcast) = next(messages).await;
        assert!(broadcast, "{data}");
        assert_eq!(data["kind"], "broadcast");
        assert_eq!(data["text"], "maintenance at noon");
    }

    // Alice goes away; a broadcast while she is gone is not in her inbox: on
    // her return only the notification sent after it is replayed.
    let (position, _) = inbox_after_connect(&alice).await;
    let position = position.expect("an inbox position");
    alice.disconnect().await.unwrap();
    drop(alice);
    let (status, body) = post(&s.base, "/broadcast", &json!({ "text": "live only" })).await;
    assert_eq!(status, 200, "{body}");
    // Bob, connected, gets it.
    assert_eq!(next(&mut bob_messages).await.0["text"], "live only");
    notify(&s.base, "alice", "after the broadcast").await;
    let (_again, mut messages) = connect(&s, "alice", Some(position)).await;
    assert_notification(&next(&mut messages).await, "after the broadcast");
}

#[tokio::test]
async fn bad_requests_are_refused_and_nothing_is_sent() {
    let s = setup().await;
    let (_alice, mut messages) = connect(&s, "alice", None).await;

    let too_long = "x".repeat(chorus_example_notifications::MAX_TEXT + 1);
    let refused = [
        ("/notify", json!({ "user": "alice", "text": "" }), "empty"),
        (
            "/notify",
            json!({ "user": "alice", "text": "  \n " }),
            "empty",
        ),
        (
            "/notify",
            json!({ "user": "alice", "text": too_long }),
            "longer",
        ),
        ("/notify", json!({ "user": "", "text": "hi" }), "user name"),
        (
            "/notify",
            json!({ "user": "a b", "text": "hi" }),
            "user name",
        ),
        (
            "/notify",
            json!({ "user": "a,b", "text": "hi" }),
            "user name",
        ),
        ("/notify", json!({ "text": "hi" }), "JSON"),
        ("/notify", json!("alice"), "JSON"),
        ("/broadcast", json!({ "text": "" }), "empty"),
        ("/broadcast", json!({ "text": too_long }), "longer"),
        ("/broadcast", json!({}), "JSON"),
    ];
    for (route, body, says) in refused {
        let (status, answer) = post(&s.base, route, &body).await;
        assert_eq!(status, 400, "{route} {body}: {answer}");
        let error = answer["error"].as_str().expect("an error message");
        assert!(error.contains(says), "{route} {body}: {error}");
    }

    // The longest text allowed is fine.
    let longest = "y".repeat(chorus_example_notifications::MAX_TEXT);
    notify(&s.base, "alice", &longest).await;
    // Nothing refused reached alice: the first message she gets is this one.
    assert_notification(&next(&mut messages).await, &longest);
}

#[tokio::test]
async fn a_server_api_failure_is_a_502_with_the_reason() {
    let node = DevNode::start().await;
    let wrong_key = chorus_example_support::ServerInfo {
        api_key: "not-the-key".into(),
        ..(*node.info).clone()
    };
    let base = serve_app(chorus_example_notifications::app(wrong_key.into())).await;
    for (route, body) in [
        ("/notify", json!({ "user": "alice", "text": "hi" })),
        ("/broadcast", json!({ "text": "hi" })),
    ] {
        let (status, answer) = post(&base, route, &body).await;
        assert_eq!(status, 502, "{route}: {answer}");
        let error = answer["error"].as_str().expect("an error message");
        assert!(error.contains("server API refused"), "{route}: {error}");
    }
}
