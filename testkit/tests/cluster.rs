//! A real three-server JetStream cluster: replicated streams right after
//! start, survival of a lost server, restart, and quorum loss and recovery.

mod common;

use std::time::{Duration, Instant};

use chorus_testkit::NatsCluster;
use common::{DEADLINE, RawNats, eventually};
use serde_json::{Value, json};

/// The meta leader's index, as seen by server `ask`.
async fn meta_leader(cluster: &mut NatsCluster, ask: usize) -> Option<usize> {
    let jsz = cluster.server(ask).monitor("/jsz").await;
    let leader = jsz["meta_cluster"]["leader"].as_str()?.to_owned();
    (0..3).find(|&i| cluster.server(i).name() == leader)
}

/// A JetStream API request through the server on `port`, retried until the
/// reply satisfies `ok` (JetStream answers "temporarily unavailable" while a
/// leader is being elected).
async fn js_until(port: u16, subject: &str, ok: impl Fn(&Value) -> bool) -> Value {
    let mut last = Value::Null;
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Ok(mut nats) = RawNats::connect(port).await {
            if let Ok(reply) = nats.request(subject, b"{}").await {
                if reply.get("error").is_none() && ok(&reply) {
                    return reply;
                }
                last = reply;
            }
        }
        assert!(
            Instant::now() < deadline,
            "{subject} on port {port}: last reply {last}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_three_server_cluster_takes_replicated_streams_at_once() {
    let started = Instant::now();
    let mut cluster = NatsCluster::start(3).await;
    eprintln!("3-server cluster ready in {:?}", started.elapsed());

    let urls = cluster.urls();
    assert_eq!(urls.len(), 3);
    for (i, url) in urls.iter().enumerate() {
        assert_eq!(*url, cluster.server(i).url());
        let jsz = cluster.server(i).monitor("/jsz").await;
        assert_eq!(jsz["meta_cluster"]["cluster_size"], 3);
        assert!(jsz["meta_cluster"]["leader"].is_string());
    }

    // No waiting: an R3 stream can be created as soon as start returns.
    let mut nats = RawNats::connect(cluster.server(1).port()).await.unwrap();
    let created = nats
        .js(
            "$JS.API.STREAM.CREATE.R3",
            json!({"name": "R3", "subjects": ["r3.>"], "num_replicas": 3}),
        )
        .await;
    assert_eq!(created["config"]["num_replicas"], 3);
    let info = js_until(cluster.server(2).port(), "$JS.API.STREAM.INFO.R3", |_| true).await;
    assert_eq!(info["cluster"]["replicas"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn the_cluster_survives_losing_its_meta_leader_and_takes_it_back() {
    let mut cluster = NatsCluster::start(3).await;
    let mut nats = RawNats::connect(cluster.server(0).port()).await.unwrap();
    nats.js(
        "$JS.API.STREAM.CREATE.KEEP",
        json!({"name": "KEEP", "subjects": ["keep.>"], "num_replicas": 3}),
    )
    .await;
    drop(nats);

    let dead = meta_leader(&mut cluster, 0).await.expect("a meta leader");
    cluster.server(dead).kill();
    let survivors: Vec<usize> = (0..3).filter(|&i| i != dead).collect();
    for &i in &survivors {
        // Ready: /healthz 200, and a (live) meta leader that sees it current.
        cluster.server(i).wait_ready().await;
    }
    let new_leader = meta_leader(&mut cluster, survivors[0]).await;
    assert!(
        new_leader.is_some_and(|l| survivors.contains(&l)),
        "new meta leader {new_leader:?}"
    );
    js_until(
        cluster.server(survivors[1]).port(),
        "$JS.API.STREAM.INFO.KEEP",
        |info| info["cluster"]["leader"].is_string(),
    )
    .await;

    cluster.server(dead).restart().await;
    cluster.wait_ready().await;
    js_until(
        cluster.server(dead).port(),
        "$JS.API.STREAM.INFO.KEEP",
        |info| {
            let replicas = info["cluster"]["replicas"].as_array();
            replicas.is_some_and(|r| r.len() == 2 && r.iter().all(|r| r["current"] == true))
        },
    )
    .await;
}

#[tokio::test]
async fn the_cluster_recovers_from_losing_its_quorum() {
    let mut cluster = NatsCluster::start(3).await;
    // Keep a follower alone: it notices the lost quorum within seconds, where
    // a lone meta leader takes about 20 s to step down.
    let leader = meta_leader(&mut cluster, 0).await.expect("a meta leader");
    let lone = (leader + 1) % 3;
    let killed: Vec<usize> = (0..3).filter(|&i| i != lone).collect();
    for &i in &killed {
        cluster.server(i).kill();
    }
    let lone = cluster.server(lone);
    eventually("the lone server reports unhealthy", || async {
        lone.monitor("/healthz").await["status"] != "ok"
    })
    .await;

    for &i in &killed {
        cluster.server(i).restart_no_wait();
    }
    cluster.wait_ready().await;
    let mut nats = RawNats::connect(cluster.server(killed[0]).port())
        .await
        .unwrap();
    nats.js(
        "$JS.API.STREAM.CREATE.AFTER",
        json!({"name": "AFTER", "subjects": ["after.>"], "num_replicas": 3}),
    )
    .await;
}

#[tokio::test]
async fn cluster_subscriptions_cover_every_server() {
    let mut cluster = NatsCluster::start(3).await;
    let mut a = RawNats::connect(cluster.server(0).port()).await.unwrap();
    let mut c = RawNats::connect(cluster.server(2).port()).await.unwrap();
    a.subscribe("chorus.testkit.a").await.unwrap();
    c.subscribe("chorus.testkit.c").await.unwrap();
    let cluster = &cluster;
    eventually("both subscriptions are listed", || async {
        let subs = cluster.subscriptions().await;
        subs.contains(&"chorus.testkit.a".to_owned())
            && subs.contains(&"chorus.testkit.c".to_owned())
    })
    .await;
}
