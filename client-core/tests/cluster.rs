//! The Rust client against cluster nodes sharing a real `nats-server`: a node
//! that dies and comes back, and failover to another node behind a load
//! balancer. History lives in JetStream, so in both cases the client recovers
//! every publication it missed, in order, with no duplicates.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chorus_client::{Client, Codec, Payload, Recovery, SubEvent};
use chorus_protocol::message::PublishRequest;
use chorus_server::auth::{Claims, mint};
use chorus_server::config::NamespaceConfig;
use chorus_server::{Config, ServerBuilder};
use chorus_testkit::NatsServer;
use tokio::net::{TcpListener, TcpStream};

const WAIT: Duration = Duration::from_secs(30);
const SECRET: &str = "client-test-secret-of-at-least-32-bytes";

fn token(user: &str) -> String {
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    let claims = Claims {
        sub: user.into(),
        exp: Some(exp),
        ..Default::default()
    };
    mint::hs256(SECRET, &claims).unwrap()
}

/// A node on its own runtime thread. `kill` drops that runtime: every socket
/// closes at once with no goodbye, as when the process dies.
struct Node {
    addr: SocketAddr,
    handle: chorus_server::Handle,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Node {
    fn start(listen: SocketAddr, nats: String) -> Node {
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .unwrap();
            let (addr, handle) = runtime.block_on(async move {
                let mut config = Config {
                    listen,
                    nats: vec![nats],
                    ..Default::default()
                };
                config.auth.hmac_secret = Some(SECRET.into());
                config.cluster.node_ttl_ms = 2_000;
                config.namespaces.insert(
                    "chat".into(),
                    NamespaceConfig {
                        history_size: 1000,
                        ..Default::default()
                    },
                );
                let server = ServerBuilder::new(config).bind().await.unwrap();
                let addr = server.local_addr();
                let handle = server.handle();
                tokio::spawn(server.run_until(std::future::pending()));
                (addr, handle)
            });
            Node {
                addr,
                handle,
                runtime: Some(runtime),
            }
        })
        .join()
        .unwrap()
    }

    fn kill(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A TCP load balancer: each connection goes to the first upstream that accepts.
async fn balancer(upstreams: Vec<SocketAddr>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let upstreams = Arc::new(Mutex::new(upstreams));
    tokio::spawn(async move {
        while let Ok((mut down, _)) = listener.accept().await {
            let upstreams = upstreams.lock().unwrap().clone();
            tokio::spawn(async move {
                for upstream in upstreams {
                    if let Ok(mut up) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut down, &mut up).await;
                        return;
                    }
                }
            });
        }
    });
    addr
}

async fn publish(handle: &chorus_server::Handle, n: u64) {
    let req = PublishRequest {
        channel: "chat:room".into(),
        data: Payload::from(n.to_string()),
        idempotency_key: None,
    };
    handle.publish(req).await.unwrap();
}

/// Reads publications until `last`, checking they are exactly `from..=last`
/// in order; a recovery marker may come in between (a fresh one only at the
/// first subscribe), an unrecoverable one may not.
async fn expect_publications(sub: &mut chorus_client::Subscription, from: u64, last: u64) {
    let mut want = from;
    while want <= last {
        let event = tokio::time::timeout(WAIT, sub.next())
            .await
            .expect("event in time")
            .expect("subscription open");
        match event {
            SubEvent::Publication(p) => {
                assert_eq!(
                    p.data,
                    Payload::from(want.to_string()),
                    "no gap, no duplicate"
                );
                assert_eq!(p.offset, Some(want));
                want += 1;
            }
            SubEvent::Subscribing | SubEvent::Subscribed(Recovery::Recovered | Recovery::Fresh) => {
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}

fn client(addr: SocketAddr) -> Client {
    Client::builder(format!("ws://{addr}/ws"))
        .token(token("alice"))
        .codec(Codec::MessagePack)
        .backoff(Duration::from_millis(20), Duration::from_millis(200))
        .build()
}

#[tokio::test]
async fn a_killed_node_that_comes_back_serves_every_missed_publication() {
    let nats = NatsServer::start().await;
    let mut node = Node::start("127.0.0.1:0".parse().unwrap(), nats.url());
    let other = Node::start("127.0.0.1:0".parse().unwrap(), nats.url());
    let alice = client(node.addr);
    alice.connect().await.unwrap();
    let mut sub = alice.subscribe("chat:room").await.unwrap();
    for n in 1..=5 {
        publish(&node.handle, n).await;
    }
    expect_publications(&mut sub, 1, 5).await;

    let addr = node.addr;
    node.kill();
    for n in 6..=10 {
        publish(&other.handle, n).await;
    }
    let restarted = Node::start(addr, nats.url());
    expect_publications(&mut sub, 6, 10).await;
    for n in 11..=12 {
        publish(&restarted.handle, n).await;
    }
    expect_publications(&mut sub, 11, 12).await;
}

#[tokio::test]
async fn fails_over_to_another_node_behind_a_load_balancer() {
    let nats = NatsServer::start().await;
    let mut first = Node::start("127.0.0.1:0".parse().unwrap(), nats.url());
    let second = Node::start("127.0.0.1:0".parse().unwrap(), nats.url());
    let lb = balancer(vec![first.addr, second.addr]).await;
    let alice = client(lb);
    alice.connect().await.unwrap();
    let mut sub = alice.subscribe("chat:room").await.unwrap();
    for n in 1..=3 {
        publish(&second.handle, n).await;
    }
    expect_publications(&mut sub, 1, 3).await;

    first.kill();
    for n in 4..=8 {
        publish(&second.handle, n).await;
    }
    // The client reconnects through the balancer, lands on the second node,
    // and recovers 4..=8 from JetStream before live traffic.
    expect_publications(&mut sub, 4, 8).await;
    publish(&second.handle, 9).await;
    expect_publications(&mut sub, 9, 9).await;
}

#[tokio::test]
async fn fails_over_through_its_own_list_of_node_urls() {
    let nats = NatsServer::start().await;
    let mut first = Node::start("127.0.0.1:0".parse().unwrap(), nats.url());
    let second = Node::start("127.0.0.1:0".parse().unwrap(), nats.url());
    let alice = Client::builder("unused")
        .urls([first.addr, second.addr].map(|a| format!("ws://{a}/ws")))
        .token(token("alice"))
        .backoff(Duration::from_millis(20), Duration::from_millis(200))
        .build();
    alice.connect().await.unwrap();
    let mut sub = alice.subscribe("chat:room").await.unwrap();
    assert_eq!(first.handle.stats().connections, 1, "the first URL first");
    for n in 1..=3 {
        publish(&second.handle, n).await;
    }
    expect_publications(&mut sub, 1, 3).await;

    // The first node dies: the client moves on to the second URL by itself
    // and recovers what was published meanwhile.
    first.kill();
    for n in 4..=8 {
        publish(&second.handle, n).await;
    }
    expect_publications(&mut sub, 4, 8).await;
    assert_eq!(second.handle.stats().connections, 1);
    publish(&second.handle, 9).await;
    expect_publications(&mut sub, 9, 9).await;
}
