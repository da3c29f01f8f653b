//! The whole catalogue against three reference nodes sharing a three-server
//! NATS cluster (JetStream with three replicas), every scenario spreading its
//! connections over the three nodes: nothing may fail or be skipped.

mod common;

use std::collections::BTreeSet;

use chorus_conformance::suite::{self, RunOptions};
use chorus_testkit::NatsCluster;
use common::{Node, assert_clean, context, profile_config};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_catalogue_against_three_nodes_over_a_nats_cluster() {
    let nats = NatsCluster::start(3).await;
    let urls = nats.urls();
    let mut nodes = Vec::new();
    for i in 0..3 {
        let mut config = profile_config();
        // Each node lists every NATS server, its "own" first.
        config.nats = urls
            .iter()
            .cycle()
            .skip(i)
            .take(urls.len())
            .cloned()
            .collect();
        config.cluster.replicas = 3;
        // Creating replicated buckets on a freshly formed cluster can take
        // longer than the 5 s default while the rest of the suite loads the
        // machine's two cores (seen once: "presence bucket: timed out").
        config.cluster.request_timeout_ms = 30_000;
        nodes.push(Node::start(config).await);
    }
    let ctx = context(&nodes);
    let report = suite::run(&ctx, &suite::catalogue(), &RunOptions::default()).await;
    assert_clean("cluster", &report, &BTreeSet::new());
    drop(nodes);
    drop(nats);
}
