//! The processes of a run: a three-server NATS cluster with
//! `sync_interval: always` and three `chorus` nodes on it, with one history
//! namespace (`chat`, three replicas). Used by the chaos runs and by the
//! benchmark's history scenario.

use std::path::Path;
use std::time::Duration;

use chorus_server::auth::{Claims, mint};
use chorus_testkit::{NatsCluster, NatsOptions};
use tokio::time::Instant;

use crate::nodes::{ChorusNode, NodeSettings};

/// How many Chorus nodes a system runs; clients are spread over them by index.
pub const NODES: usize = 3;
/// The stream the nodes keep history in (prefix `chaos`).
pub const HISTORY_STREAM: &str = "chaos_history";
/// How long a node may take to become ready.
pub const READY: Duration = Duration::from_secs(60);
/// How long a SIGTERMed node may take to drain and exit.
pub const DRAIN: Duration = Duration::from_secs(15);

/// What differs between systems.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Publications kept per channel of the `chat` namespace.
    pub history_size: usize,
    /// Commands per second and burst per connection (default: the server's).
    pub rate_limit: Option<u32>,
}

/// A token for `user`, valid for a day.
pub fn token(user: &str) -> Result<String, String> {
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|e| e.to_string())?
        .as_secs()
        + 24 * 3600;
    let claims = Claims {
        sub: user.to_owned(),
        exp: Some(exp),
        ..Default::default()
    };
    mint::hs256(SECRET, &claims).map_err(|e| e.to_string())
}

/// The token secret of every node.
const SECRET: &str = "chaos-suite-secret-of-at-least-32-bytes";

/// The processes of a system; every one is killed when this is dropped.
pub struct System {
    /// The three-server JetStream cluster the nodes share.
    pub nats: NatsCluster,
    /// The `chorus` processes, [`NODES`] of them in index order.
    pub nodes: Vec<ChorusNode>,
}

impl System {
    /// Starts the NATS cluster and the nodes (files in `dir`), and waits
    /// until every node is ready.
    pub async fn start(bin: &Path, settings: &Settings, dir: &Path) -> Result<System, String> {
        let nats = NatsCluster::start_with(
            3,
            NatsOptions {
                sync_always: true,
                ..Default::default()
            },
        )
        .await;
        let node_settings = NodeSettings {
            bin: bin.to_owned(),
            nats: nats.urls(),
            secret: SECRET.to_owned(),
            history_size: settings.history_size,
            rate_limit: settings.rate_limit,
        };
        let mut nodes = Vec::new();
        for i in 0..NODES {
            let mut node =
                ChorusNode::new(i, &node_settings, dir).map_err(|e| format!("node {i}: {e}"))?;
            node.start()
                .map_err(|e| format!("node {i}: {}: {e}", bin.display()))?;
            nodes.push(node);
        }
        for node in &mut nodes {
            node.wait_ready(READY).await?;
        }
        Ok(System { nats, nodes })
    }

    /// The nodes' WebSocket URLs, in order.
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(ChorusNode::url).collect()
    }

    /// Starts node `i` again and waits until it is ready.
    pub async fn restart_node(&mut self, i: usize) -> Result<(), String> {
        self.nodes[i]
            .start()
            .map_err(|e| format!("node {i}: {e}"))?;
        self.nodes[i].wait_ready(READY).await
    }

    /// The NATS server leading the history stream (waits up to 30 s for one).
    pub async fn stream_leader(&self) -> Result<usize, String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(i) = self.nats.stream_leader(HISTORY_STREAM).await {
                return Ok(i);
            }
            if Instant::now() >= deadline {
                return Err(format!("no leader of {HISTORY_STREAM} within 30 s"));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The tail of every node's log, for a failed run.
    pub fn log_tails(&self, lines: usize) -> String {
        let mut out = String::new();
        for node in &self.nodes {
            let text = std::fs::read_to_string(node.log()).unwrap_or_default();
            let all: Vec<&str> = text.lines().collect();
            out.push_str(&format!(
                "--- node {} log (last {lines} lines) ---\n",
                node.index
            ));
            for line in &all[all.len().saturating_sub(lines)..] {
                out.push_str(line);
                out.push('\n');
            }
        }
        out
    }
}
