//! The whiteboard against a real development node: bots run through the
//! library, and an observer signed in through the app's `POST /session` sees
//! every bot's cursor, their strokes (live and in history) and, through
//! presence, everyone who is here; when the bots stop, they leave.

use std::collections::BTreeSet;
use std::time::Duration;

use chorus_client::{Client, HistoryQuery, Publication, SubEvent, Subscription};
use chorus_example_support::testing::{DevNode, serve_app, sign_in};
use chorus_example_whiteboard::bots::{self, Bots};
use chorus_example_whiteboard::{BOARD_CHANNEL, CURSORS_CHANNEL, Cursor, Stroke};

/// Generous: shared CI machines, debug builds.
const WAIT: Duration = Duration::from_secs(20);

const BOTS: usize = 3;

async fn connect(node: &DevNode, token: String) -> Client {
    let client = Client::builder(node.info.ws.clone()).token(token).build();
    tokio::time::timeout(WAIT, client.connect())
        .await
        .expect("connects in time")
        .expect("the token is accepted");
    client
}

/// The next event of `sub`, within [`WAIT`].
async fn next(sub: &mut Subscription) -> SubEvent {
    tokio::time::timeout(WAIT, sub.next())
        .await
        .expect("an event in time")
        .expect("the subscription is live")
}

async fn next_publication(sub: &mut Subscription) -> Publication {
    loop {
        if let SubEvent::Publication(p) = next(sub).await {
            return p;
        }
    }
}

fn author(p: &Publication) -> String {
    p.info.as_ref().expect("published by a client").user.clone()
}

fn bot_names() -> BTreeSet<String> {
    (1..=BOTS).map(bots::name).collect()
}

#[tokio::test]
async fn bots_move_cursors_and_draw_for_everyone_to_see() {
    let node = DevNode::start().await;
    let base = serve_app(chorus_example_whiteboard::app(node.info.clone())).await;

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

    // The observer is subscribed before the bots start, so it sees them all live.
    let observer = connect(&node, sign_in(&base, "observer").await).await;
    let mut cursors = observer.subscribe(CURSORS_CHANNEL).await.unwrap();
    let mut board = observer.subscribe(BOARD_CHANNEL).await.unwrap();
    let bots = Bots::spawn(node.info.clone(), BOTS);
    assert_eq!(bots.len(), BOTS);

    let mut seen = BTreeSet::new();
    while seen != bot_names() {
        let p = next_publication(&mut cursors).await;
        let cursor: Cursor = p.data.parse_json().expect("a cursor");
        assert!((0.0..=1.0).contains(&cursor.x) && (0.0..=1.0).contains(&cursor.y));
        seen.insert(author(&p));
    }

    // Each bot subscribed to the cursors before moving: all are here, and so
    // is the observer.
    let members = observer.presence(CURSORS_CHANNEL).await.unwrap();
    let users: BTreeSet<_> = members.iter().map(|m| m.user.clone()).collect();
    assert_eq!(users.len(), BOTS + 1, "{users:?}");
    assert!(users.contains("observer"));

    let p = next_publication(&mut board).await;
    let stroke: Stroke = p.data.parse_json().expect("a stroke");
    assert!(bot_names().contains(&author(&p)), "{p:?}");
    assert!(stroke.points.len() >= 2, "{stroke:?}");
    assert!(stroke.color.starts_with('#'), "{stroke:?}");
    assert!(
        stroke
            .points
            .iter()
            .all(|[x, y]| (0.0..=1.0).contains(x) && (0.0..=1.0).contains(y))
    );

    // A page that opens later draws the board from history: the stroke is there.
    let history = observer
        .history(BOARD_CHANNEL, HistoryQuery::last(100))
        .await
        .unwrap();
    assert!(
        history.publications.iter().any(|h| h
            .data
            .parse_json::<Stroke>()
            .is_ok_and(|s| s.id == stroke.id)),
        "the stroke is in the board's history"
    );

    // Stopped bots close their connections: everyone sees them leave, which
    // is what takes their cursors off the pages.
    drop(bots);
    let mut left = BTreeSet::new();
    while left != bot_names() {
        if let SubEvent::Leave(m) = next(&mut cursors).await {
            left.insert(m.info.user);
        }
    }
}
