//! The Rust client against a real in-process server: requests, recovery across
//! a cut connection, terminal close codes.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chorus_client::{
    Client, ClientError, Codec, ConnectionState, HistoryQuery, Payload, Recovery, SubEvent,
};
use chorus_protocol::CloseCode;
use chorus_server::auth::{Claims, mint};
use chorus_server::config::NamespaceConfig;
use chorus_server::{Config, ServerBuilder};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

const WAIT: Duration = Duration::from_secs(30);
const SECRET: &str = "client-test-secret-of-at-least-32-bytes";

fn token(user: &str) -> String {
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    mint::hs256(
        SECRET,
        &Claims {
            sub: user.into(),
            exp: Some(exp),
            ..Default::default()
        },
    )
    .unwrap()
}

async fn server() -> (SocketAddr, chorus_server::Handle) {
    let mut config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..Default::default()
    };
    config.auth.hmac_secret = Some(SECRET.into());
    config.namespaces.insert(
        "chat".into(),
        NamespaceConfig {
            history_size: 1000,
            presence: true,
            ..Default::default()
        },
    );
    let server = ServerBuilder::new(config).bind().await.unwrap();
    let addr = server.local_addr();
    let handle = server.handle();
    tokio::spawn(server.run_until(std::future::pending()));
    (addr, handle)
}

/// A TCP proxy whose connections can be cut, to simulate network failures.
struct Proxy {
    addr: SocketAddr,
    conns: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Proxy {
    async fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let conns: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let tracked = conns.clone();
        tokio::spawn(async move {
            while let Ok((mut down, _)) = listener.accept().await {
                let task = tokio::spawn(async move {
                    if let Ok(mut up) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut down, &mut up).await;
                    }
                });
                tracked.lock().unwrap().push(task);
            }
        });
        Proxy { addr, conns }
    }

    /// Drops every proxied connection abruptly (no close frames).
    fn cut(&self) {
        for task in self.conns.lock().unwrap().drain(..) {
            task.abort();
        }
    }
}

fn client(addr: SocketAddr, user: &str, codec: Codec) -> Client {
    Client::builder(format!("ws://{addr}/ws"))
        .token(token(user))
        .codec(codec)
        .backoff(Duration::from_millis(20), Duration::from_millis(200))
        .build()
}

async fn next(sub: &mut chorus_client::Subscription) -> SubEvent {
    tokio::time::timeout(WAIT, sub.next())
        .await
        .expect("event in time")
        .expect("subscription open")
}

#[tokio::test]
async fn requests_round_trip_in_both_codecs() {
    let (addr, _) = server().await;
    for codec in [Codec::Json, Codec::MessagePack] {
        let alice = client(addr, "alice", codec);
        alice.connect().await.unwrap();
        assert_eq!(alice.state(), ConnectionState::Connected);
        // Connecting a connected client changes no state, and still returns
        // (it used to wait for a state change that never came).
        tokio::time::timeout(WAIT, alice.connect())
            .await
            .expect("connect on a connected client returns")
            .unwrap();
        let mut sub = alice.subscribe("chat:lobby").await.unwrap();
        let result = alice.publish("chat:lobby", r#"{"n":1}"#).await.unwrap();
        assert!(result.position.is_some());
        loop {
            match next(&mut sub).await {
                SubEvent::Publication(p) => {
                    assert_eq!(p.data, Payload::from(r#"{"n":1}"#));
                    break;
                }
                SubEvent::Subscribed(Recovery::Fresh) => continue,
                other => panic!("{other:?}"),
            }
        }
        let members = alice.presence("chat:lobby").await.unwrap();
        assert_eq!(members.len(), 1);
        let page = alice
            .history("chat:lobby", HistoryQuery::last(10))
            .await
            .unwrap();
        assert!(!page.publications.is_empty());
        let err = alice.rpc("anything", "null").await.unwrap_err();
        assert_eq!(err.code(), chorus_protocol::ErrorCode::NOT_AVAILABLE);
        let err = alice.publish("bad channel", "1").await.unwrap_err();
        assert!(matches!(err, ClientError::InvalidChannel(_)), "{err:?}");
        let mut inbox = alice.messages();
        let bob = client(addr, "bob", codec);
        bob.connect().await.unwrap();
        bob.send_to_user("alice", "\"hi\"").await.unwrap();
        let m = tokio::time::timeout(WAIT, inbox.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(m.from.unwrap().user, "bob");
        alice.disconnect().await.unwrap();
        assert_eq!(alice.state(), ConnectionState::Disconnected);
    }
}

#[tokio::test]
async fn recovers_every_publication_across_cut_connections() {
    let (addr, handle) = server().await;
    let proxy = Proxy::start(addr).await;
    let reader = client(proxy.addr, "reader", Codec::MessagePack);
    reader.connect().await.unwrap();
    let mut sub = reader.subscribe("chat:stream").await.unwrap();

    // Rounds of publications; between rounds every connection is cut, so the
    // next round is published while the client is away and must be recovered.
    const ROUNDS: u64 = 5;
    const PER_ROUND: u64 = 60;
    let mut got = Vec::new();
    let mut recovered = 0;
    for round in 0..ROUNDS {
        for n in round * PER_ROUND + 1..=(round + 1) * PER_ROUND {
            let req = chorus_protocol::message::PublishRequest {
                channel: "chat:stream".into(),
                data: Payload::from(n.to_string()),
                idempotency_key: None,
            };
            handle.publish(req).await.unwrap();
        }
        while got.len() < ((round + 1) * PER_ROUND) as usize {
            match next(&mut sub).await {
                SubEvent::Publication(p) => {
                    got.push(
                        std::str::from_utf8(p.data.as_bytes())
                            .unwrap()
                            .parse::<u64>()
                            .unwrap(),
                    );
                }
                SubEvent::Subscribed(Recovery::Recovered) => recovered += 1,
                SubEvent::Subscribed(Recovery::Fresh) if got.is_empty() => {} // the first subscribe
                SubEvent::Subscribed(other) => {
                    panic!("the history window covers the outage: {other:?}")
                }
                SubEvent::Subscribing => {}
                other => panic!("{other:?}"),
            }
        }
        if round + 1 < ROUNDS {
            proxy.cut();
        }
    }
    assert_eq!(
        got,
        (1..=ROUNDS * PER_ROUND).collect::<Vec<_>>(),
        "no gaps, no duplicates, in order"
    );
    assert!(recovered >= 1, "recoveries: {recovered}");
}

#[tokio::test]
async fn terminal_close_stops_reconnecting_and_bad_tokens_are_refused() {
    let (addr, handle) = server().await;
    let alice = client(addr, "alice", Codec::Json);
    alice.connect().await.unwrap();
    let mut states = alice.state_changes();
    handle
        .disconnect_user("alice", CloseCode::KICKED, "banned")
        .await
        .unwrap();
    tokio::time::timeout(WAIT, states.wait_for(|s| *s == ConnectionState::Closed))
        .await
        .unwrap()
        .unwrap();
    let err = alice.publish("chat:x", "1").await.unwrap_err();
    assert!(matches!(err, ClientError::Closed(_)), "{err:?}");
    let reason = alice.last_close().expect("a close reason");
    assert_eq!(reason.code, CloseCode::KICKED);
    assert_eq!(reason.reason, "banned");

    let forged = Client::builder(format!("ws://{addr}/ws"))
        .token("not.a.token")
        .backoff(Duration::from_millis(20), Duration::from_millis(200))
        .build();
    let err = tokio::time::timeout(WAIT, forged.connect())
        .await
        .unwrap()
        .unwrap_err();
    let ClientError::Closed(reason) = err else {
        panic!("{err:?}")
    };
    assert!(reason.contains("4500"), "{reason}");
}

#[tokio::test]
async fn requests_made_while_reconnecting_are_sent_after_reconnect() {
    let (addr, _) = server().await;
    let proxy = Proxy::start(addr).await;
    let alice = client(proxy.addr, "alice", Codec::Json);
    alice.connect().await.unwrap();
    let mut sub = alice.subscribe("chat:queue").await.unwrap();
    let mut states = alice.state_changes();
    proxy.cut();
    tokio::time::timeout(WAIT, states.wait_for(|s| *s != ConnectionState::Connected))
        .await
        .unwrap()
        .unwrap();
    // Queued while reconnecting, then sent.
    alice.publish("chat:queue", "\"late\"").await.unwrap();
    loop {
        if let SubEvent::Publication(p) = next(&mut sub).await {
            assert_eq!(p.data, Payload::from("\"late\""));
            break;
        }
    }
}

#[tokio::test]
async fn token_provider_refreshes_before_expiry_without_reconnecting() {
    let mut config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..Default::default()
    };
    config.auth.hmac_secret = Some(SECRET.into());
    config.auth.leeway_secs = 0;
    let server = ServerBuilder::new(config).bind().await.unwrap();
    let addr = server.local_addr();
    tokio::spawn(server.run_until(std::future::pending()));

    // Tokens live 3 s; the client must refresh each at half-life, on the same connection.
    let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (fetched_tx, mut fetched) = tokio::sync::mpsc::unbounded_channel();
    let counter = calls.clone();
    let client = Client::builder(format!("ws://{addr}/ws"))
        .token_provider(move || {
            let n = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            let tx = fetched_tx.clone();
            async move {
                let exp = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_secs()
                    + 3;
                let token = mint::hs256(
                    SECRET,
                    &Claims {
                        sub: "alice".into(),
                        exp: Some(exp),
                        ..Default::default()
                    },
                )
                .map_err(|e| ClientError::Closed(e.to_string()))?;
                let _ = tx.send(n);
                Ok(token)
            }
        })
        .build();
    client.connect().await.unwrap();
    let mut states = client.state_changes();
    states.mark_unchanged();
    // The first token connected; wait for three refreshes (about 4.5 s, past the
    // first token's expiry), then check the connection never dropped.
    loop {
        let n = tokio::time::timeout(WAIT, fetched.recv())
            .await
            .unwrap()
            .unwrap();
        if n >= 4 {
            break;
        }
    }
    client.ping().await.unwrap();
    assert!(
        !states.has_changed().unwrap(),
        "the connection stayed up: {:?}",
        client.state()
    );
    assert_eq!(client.state(), ConnectionState::Connected);
}

#[tokio::test]
async fn a_restarted_memory_node_is_reported_unrecoverable_and_the_stream_goes_on() {
    let start = |listen: SocketAddr| async move {
        let mut config = Config {
            listen,
            ..Default::default()
        };
        config.auth.hmac_secret = Some(SECRET.into());
        config.limits.shutdown_timeout_ms = 2_000;
        config.namespaces.insert(
            "chat".into(),
            NamespaceConfig {
                history_size: 100,
                ..Default::default()
            },
        );
        let server = ServerBuilder::new(config).bind().await.unwrap();
        let addr = server.local_addr();
        let handle = server.handle();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let done = tokio::spawn(server.run_until(async {
            let _ = stopped.await;
        }));
        (addr, handle, stop, done)
    };
    let (addr, first, stop, done) = start("127.0.0.1:0".parse().unwrap()).await;
    let alice = client(addr, "alice", Codec::Json);
    alice.connect().await.unwrap();
    let mut sub = alice.subscribe("chat:restart").await.unwrap();
    let publish = |handle: chorus_server::Handle, n: u64| async move {
        let req = chorus_protocol::message::PublishRequest {
            channel: "chat:restart".into(),
            data: Payload::from(n.to_string()),
            idempotency_key: None,
        };
        handle.publish(req).await.unwrap();
    };
    publish(first.clone(), 1).await;
    loop {
        if let SubEvent::Publication(p) = next(&mut sub).await {
            assert_eq!(p.data, Payload::from("1"));
            break;
        }
    }
    // Stop the node (clients are told 4000: reconnect) and start a new one on the
    // same address: its in-memory history starts over with a new epoch.
    let _ = stop.send(());
    done.await.unwrap();
    let (_, second, _stop2, _done2) = start(addr).await;
    loop {
        match next(&mut sub).await {
            SubEvent::Subscribing | SubEvent::Subscribed(Recovery::Fresh) => {}
            SubEvent::Subscribed(Recovery::Unrecoverable) => break,
            other => panic!("{other:?}"),
        }
    }
    publish(second, 2).await;
    loop {
        if let SubEvent::Publication(p) = next(&mut sub).await {
            assert_eq!(p.data, Payload::from("2"));
            break;
        }
    }
}

#[tokio::test]
async fn messages_sent_while_away_arrive_after_reconnect_once_and_in_order() {
    let (addr, handle) = server().await;
    let proxy = Proxy::start(addr).await;
    let bob = client(proxy.addr, "bob", Codec::MessagePack);
    let mut messages = bob.messages();
    let mut inbox = bob.inbox();
    bob.connect().await.unwrap();
    let send = |n: u64| {
        let handle = handle.clone();
        async move {
            handle
                .send_to_user("bob", Payload::from(n.to_string()))
                .await
                .unwrap();
        }
    };
    let mut got = Vec::new();
    let mut receive = async |messages: &mut tokio::sync::broadcast::Receiver<_>, upto: u64| {
        while got.len() < upto as usize {
            let m: chorus_protocol::message::Message = tokio::time::timeout(WAIT, messages.recv())
                .await
                .unwrap()
                .unwrap();
            got.push(
                std::str::from_utf8(m.data.as_bytes())
                    .unwrap()
                    .parse::<u64>()
                    .unwrap(),
            );
        }
        got.clone()
    };
    for n in 1..=3 {
        send(n).await;
    }
    receive(&mut messages, 3).await;
    proxy.cut();
    // Sent while the connection is down (the client may not have noticed yet).
    for n in 4..=8 {
        send(n).await;
    }
    let all = receive(&mut messages, 8).await;
    assert_eq!(
        all,
        (1..=8).collect::<Vec<_>>(),
        "no gaps, no duplicates, in order"
    );
    // The reconnect carried the inbox position and the replay was complete.
    let state = tokio::time::timeout(
        WAIT,
        inbox.wait_for(|s| s.recovery == Some(Recovery::Recovered)),
    )
    .await
    .unwrap()
    .unwrap()
    .clone();
    assert_eq!(state.position.map(|p| p.offset), Some(8));
}
