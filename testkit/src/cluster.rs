//! A JetStream cluster of routed `nats-server` processes.

use std::collections::HashSet;
use std::time::Instant;

use crate::monitor::get_json;
use crate::server::{
    ClusterConfig, NatsOptions, NatsServer, POLL_INTERVAL, READY_TIMEOUT, START_ATTEMPTS,
    StartError,
};
use crate::unique::{free_port, unique_name};

/// `n` `nats-server` processes routed into one cluster with JetStream on each.
///
/// For tests of what only a cluster shows: Chorus nodes on different servers,
/// replicated streams and KV buckets, and the loss of a server. When
/// [`start`](Self::start) returns, the JetStream meta leader is elected and sees
/// every peer, so streams with `n` replicas can be created at once. Dropping
/// the cluster kills every server and removes their store directories.
#[derive(Debug)]
pub struct NatsCluster {
    servers: Vec<NatsServer>,
}

impl NatsCluster {
    /// Starts `n` servers, each routed to all the others, and waits until the
    /// cluster is ready (see [`wait_ready`](Self::wait_ready)). Ports are
    /// chosen free on 127.0.0.1; on a port clash the whole cluster is started
    /// again on other ports.
    ///
    /// # Panics
    ///
    /// If `n` is 0, or the cluster is not ready within 60 s; the message then
    /// holds the log tail of every server.
    pub async fn start(n: usize) -> NatsCluster {
        NatsCluster::start_with(n, NatsOptions::default()).await
    }

    /// [`start`](Self::start) with storage `options` on every server.
    pub async fn start_with(n: usize, options: NatsOptions) -> NatsCluster {
        assert!(n > 0, "a cluster needs at least one server");
        let mut last_clash = String::new();
        for _ in 0..START_ATTEMPTS {
            let cluster_name = unique_name("chorus-cluster");
            let names: Vec<String> = (0..n).map(|i| format!("{cluster_name}-n{i}")).collect();
            let cluster_ports: Vec<u16> = (0..n).map(|_| free_port()).collect();
            let mut servers: Vec<NatsServer> = names
                .iter()
                .enumerate()
                .map(|(i, name)| {
                    let config = ClusterConfig {
                        name: cluster_name.clone(),
                        port: cluster_ports[i],
                        routes: (0..n)
                            .filter(|&j| j != i)
                            .map(|j| cluster_ports[j])
                            .collect(),
                        peers: Vec::new(),
                    };
                    let mut server = NatsServer::new(name.clone(), free_port(), Some(config));
                    server.options = options;
                    server
                })
                .collect();
            let peers: Vec<(String, u16)> = servers
                .iter()
                .map(|s| (s.name.clone(), s.monitor_port))
                .collect();
            for server in &mut servers {
                if let Some(config) = server.cluster.as_mut() {
                    config.peers = peers.clone();
                }
                server.launch();
            }
            let mut cluster = NatsCluster { servers };
            match cluster.await_ready(Instant::now() + READY_TIMEOUT).await {
                Ok(()) => return cluster,
                Err(StartError::PortClash(msg)) => last_clash = msg,
                Err(StartError::Failed(msg)) => panic!("{msg}"),
            }
        }
        panic!("nats cluster: port clash on each of {START_ATTEMPTS} attempts; last: {last_clash}");
    }

    /// The client URLs of all servers, in server order; joined with `,` they
    /// make a Chorus node's `--nats` value.
    pub fn urls(&self) -> Vec<String> {
        self.servers.iter().map(NatsServer::url).collect()
    }

    /// Server `i` (from 0), to kill, restart or inspect it.
    ///
    /// # Panics
    ///
    /// If `i` is out of range.
    pub fn server(&mut self, i: usize) -> &mut NatsServer {
        &mut self.servers[i]
    }

    /// How many servers the cluster has.
    pub fn len(&self) -> usize {
        self.servers.len()
    }

    /// Always false: a cluster has at least one server.
    pub fn is_empty(&self) -> bool {
        self.servers.is_empty()
    }

    /// The index of the server that leads stream `stream`, as the running
    /// servers report it (`/jsz`); `None` while no leader is elected.
    pub async fn stream_leader(&self, stream: &str) -> Option<usize> {
        for server in self.servers.iter().filter(|s| s.is_running()) {
            let Ok(jsz) = get_json(server.monitor_port, "/jsz?streams=true").await else {
                continue;
            };
            let accounts = jsz["account_details"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            for account in accounts {
                let streams = account["stream_detail"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                for detail in streams.iter().filter(|d| d["name"] == stream) {
                    let leader = detail["cluster"]["leader"].as_str().unwrap_or_default();
                    if let Some(i) = self.servers.iter().position(|s| s.name == leader) {
                        return Some(i);
                    }
                }
            }
        }
        None
    }

    /// Waits until every server is ready and the JetStream meta leader sees
    /// all its peers as current (after restarting servers, for example).
    ///
    /// # Panics
    ///
    /// If a server is not running, or the cluster is not ready within 60 s.
    pub async fn wait_ready(&mut self) {
        if let Err(StartError::PortClash(msg) | StartError::Failed(msg)) =
            self.await_ready(Instant::now() + READY_TIMEOUT).await
        {
            panic!("{msg}");
        }
    }

    /// The subscriptions of all client connections on all running servers
    /// (see [`NatsServer::subscriptions`]): a client may be connected to any
    /// of them.
    pub async fn subscriptions(&self) -> Vec<String> {
        let mut subjects = Vec::new();
        for server in self.servers.iter().filter(|s| s.is_running()) {
            subjects.extend(server.subscriptions().await);
        }
        subjects.sort();
        subjects
    }

    async fn await_ready(&mut self, deadline: Instant) -> Result<(), StartError> {
        loop {
            for server in &mut self.servers {
                server.check_alive()?;
            }
            let last = match self.probe().await {
                Ok(()) => return Ok(()),
                Err(why) => why,
            };
            if Instant::now() >= deadline {
                let logs: Vec<String> = self
                    .servers
                    .iter()
                    .map(|s| s.failure("(log of a cluster member)"))
                    .collect();
                return Err(StartError::Failed(format!(
                    "nats cluster not ready after {READY_TIMEOUT:?}; last check: {last}\n{}",
                    logs.join("\n")
                )));
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// One readiness check of the whole cluster.
    async fn probe(&self) -> Result<(), String> {
        let mut leaders = HashSet::new();
        for server in &self.servers {
            server
                .probe()
                .await
                .map_err(|e| format!("{}: {e}", server.name))?;
            let jsz = get_json(server.monitor_port, "/jsz").await?;
            leaders.insert(
                jsz["meta_cluster"]["leader"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            );
        }
        let [leader] = Vec::from_iter(leaders)
            .try_into()
            .map_err(|l: Vec<String>| format!("servers disagree on the meta leader: {l:?}"))?;
        let leader = self
            .servers
            .iter()
            .find(|s| s.name == leader)
            .ok_or_else(|| format!("meta leader {leader} is not one of ours"))?;
        let meta = get_json(leader.monitor_port, "/jsz").await?["meta_cluster"].take();
        let size = meta["cluster_size"].as_u64().unwrap_or(0) as usize;
        let current = meta["replicas"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|r| r["current"] == true)
            .count();
        let n = self.servers.len();
        if size == n && current == n - 1 {
            Ok(())
        } else {
            Err(format!(
                "meta leader {} sees cluster size {size} with {current} current peers (want {n} and {})",
                leader.name,
                n - 1
            ))
        }
    }
}
