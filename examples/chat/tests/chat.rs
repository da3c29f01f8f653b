//! The chat app's backend against a real development node: users it signs in
//! chat in a room (their name on every message, from the token) and send each
//! other direct messages; names that could break channel names are refused.

use std::time::Duration;

use chorus_client::{Client, SubEvent};
use chorus_example_support::testing::{DevNode, serve_app, sign_in};

/// Generous: shared CI machines, debug builds.
const WAIT: Duration = Duration::from_secs(20);

async fn connect(node: &DevNode, token: String) -> Client {
    let client = Client::builder(node.info.ws.clone()).token(token).build();
    tokio::time::timeout(WAIT, client.connect())
        .await
        .expect("connects in time")
        .expect("the token is accepted");
    client
}

#[tokio::test]
async fn signed_in_users_chat_in_rooms_and_directly() {
    let node = DevNode::start().await;
    let base = serve_app(chorus_example_chat::app(node.info.clone())).await;

    let page = reqwest::get(format!("{base}/"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("from '/sdk/dist/index.js'"),
        "the page runs on the SDK"
    );
    let sdk = reqwest::get(format!("{base}/sdk/dist/index.js"))
        .await
        .unwrap();
    assert!(
        sdk.status().is_success(),
        "the SDK is served beside the page"
    );

    let alice = connect(&node, sign_in(&base, "alice").await).await;
    let bob = connect(&node, sign_in(&base, "bob").await).await;

    let mut room = bob.subscribe("demo:room.general").await.unwrap();
    // Only a room's subscribers may talk in it, as on the page.
    let _alice_in_room = alice.subscribe("demo:room.general").await.unwrap();
    alice
        .publish("demo:room.general", r#"{"text":"hi all"}"#)
        .await
        .expect("signed-in users may talk in rooms");
    let publication = loop {
        match tokio::time::timeout(WAIT, room.next())
            .await
            .expect("in time")
        {
            Some(SubEvent::Publication(p)) => break p,
            Some(_) => continue,
            None => panic!("subscription ended"),
        }
    };
    assert_eq!(
        publication.data.parse_json::<serde_json::Value>().unwrap()["text"],
        "hi all"
    );
    assert_eq!(
        publication.info.expect("author").user,
        "alice",
        "the name comes from the token"
    );

    let mut inbox = alice.messages();
    bob.send_to_user("alice", r#"{"text":"psst"}"#)
        .await
        .unwrap();
    let dm = tokio::time::timeout(WAIT, inbox.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(dm.from.expect("a sender").user, "bob");
    assert_eq!(
        dm.data.parse_json::<serde_json::Value>().unwrap()["text"],
        "psst"
    );
}

#[tokio::test]
async fn names_that_are_not_plain_are_refused() {
    let node = DevNode::start().await;
    let base = serve_app(chorus_example_chat::app(node.info.clone())).await;
    for bad in ["", "a,b", "a#b", "spaced name"] {
        let response = reqwest::Client::new()
            .post(format!("{base}/session"))
            .json(&serde_json::json!({ "user": bad }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{bad:?}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert!(
            body["error"].as_str().unwrap().contains("user name"),
            "{body}"
        );
    }
}
