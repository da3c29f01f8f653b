//! A seam for the tests outside this crate that must see an internal (its
//! integration tests, the fuzz targets): hidden from the documentation, not
//! part of the embedding API, and free to change with the internals. Each item
//! says who needs it and why the public API does not serve.

use crate::Node;

/// The NATS subjects, streams and buckets of a cluster: the cluster tests
/// check which subjects a node holds on the NATS server.
pub use crate::broker::nats::names::Names;

/// The subscribe and publish checks the session makes for every channel: the
/// token fuzz target runs them on the grants of every token it gets accepted.
pub use crate::permissions::{Principal, may_publish, may_subscribe};

/// Connections `node` closed as slow consumers so far, read directly: a test
/// polls it between publications, too often to scrape `/metrics` each time.
pub fn slow_consumer_disconnects(node: &Node) -> u64 {
    node.hub.stats.slow_consumer_disconnects.get()
}
