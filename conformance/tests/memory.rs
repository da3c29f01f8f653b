//! The whole catalogue against one reference node with the in-memory broker,
//! configured with the conformance profile: nothing may fail, and only the
//! scenarios that need several nodes may be skipped.

mod common;

use chorus_conformance::suite::{self, RunOptions};
use common::{Node, assert_clean, context, needing_more_nodes, profile_config};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_catalogue_against_one_memory_node() {
    let node = Node::start(profile_config()).await;
    let ctx = context(std::slice::from_ref(&node));
    let report = suite::run(&ctx, &suite::catalogue(), &RunOptions::default()).await;
    assert_clean("memory", &report, &needing_more_nodes(1));
}
