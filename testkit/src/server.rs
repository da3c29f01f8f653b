//! One `nats-server` process: its command line, its launch, its readiness and
//! its failures.

use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::binary::nats_server_bin;
use crate::certs::write_certificates;
use crate::monitor::{get_json, http_get};
use crate::unique::{free_port, unique_name};

/// How long a server or cluster may take to become ready. Generous: test
/// suites start many servers in parallel on two shared cores.
pub(crate) const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// Pause between two readiness polls.
pub(crate) const POLL_INTERVAL: Duration = Duration::from_millis(50);
/// Attempts with fresh ports when a chosen port was taken in the meantime.
pub(crate) const START_ATTEMPTS: usize = 5;
/// Lines of the server log shown when a server fails.
const LOG_TAIL_LINES: usize = 40;
/// Written to the log before each launch; failures look only at the last run.
const LAUNCH_MARKER: &str = "=== chorus-testkit: launching";

/// Why a launch did not become ready.
pub(crate) enum StartError {
    /// A port was taken by someone else: retry with other ports.
    PortClash(String),
    /// Anything else: report it.
    Failed(String),
}

/// How the servers store JetStream data.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NatsOptions {
    /// `sync_interval: always`: every write reaches the disk before it is
    /// acknowledged. By default nats-server syncs on an interval (about two
    /// minutes), so acknowledged writes can be lost to a power cut of the
    /// whole cluster; the chaos suite runs with this on, as docs/cluster.md
    /// recommends.
    pub sync_always: bool,
    /// TLS on the client port, with a CA and certificate made for the server
    /// ([`NatsServer::ca_file`]); [`NatsServer::url`] is then `tls://`.
    pub tls: bool,
}

/// Cluster settings of one server.
#[derive(Debug, Clone)]
pub(crate) struct ClusterConfig {
    pub(crate) name: String,
    pub(crate) port: u16,
    /// Cluster ports of the other servers.
    pub(crate) routes: Vec<u16>,
    /// Name and monitoring port of every server in the cluster, this one
    /// included: to ask the meta leader how it sees this server.
    pub(crate) peers: Vec<(String, u16)>,
}

/// One `nats-server` process with JetStream, on free loopback ports.
///
/// Tests get a server of their own, so they never share subjects, streams or
/// KV buckets with another test. The process is killed (SIGKILL) and its
/// temporary directory (JetStream store and log) removed when this value is
/// dropped.
#[derive(Debug)]
pub struct NatsServer {
    pub(crate) name: String,
    port: u16,
    pub(crate) monitor_port: u16,
    pub(crate) cluster: Option<ClusterConfig>,
    pub(crate) options: NatsOptions,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl NatsServer {
    /// Starts a standalone server with JetStream and waits until it is ready.
    ///
    /// The client and monitoring ports are chosen free on 127.0.0.1; on a port
    /// clash the start is retried with other ports.
    ///
    /// # Panics
    ///
    /// If the binary is missing (see [`nats_server_bin`]), or the server does
    /// not become ready within 60 s; the message then holds the tail of the
    /// server's log.
    pub async fn start() -> NatsServer {
        NatsServer::start_with(NatsOptions::default()).await
    }

    /// [`start`](Self::start) with `options` (TLS, syncing every write).
    pub async fn start_with(options: NatsOptions) -> NatsServer {
        let mut last_clash = String::new();
        for _ in 0..START_ATTEMPTS {
            let mut server = NatsServer::new(unique_name("chorus-nats"), free_port(), None);
            server.options = options;
            server.launch();
            match server.await_ready(Instant::now() + READY_TIMEOUT).await {
                Ok(()) => return server,
                Err(StartError::PortClash(msg)) => last_clash = msg,
                Err(StartError::Failed(msg)) => panic!("{msg}"),
            }
        }
        panic!("nats-server: port clash on each of {START_ATTEMPTS} attempts; last: {last_clash}");
    }

    pub(crate) fn new(name: String, port: u16, cluster: Option<ClusterConfig>) -> NatsServer {
        let dir = tempfile::Builder::new()
            .prefix("chorus-nats-")
            .tempdir()
            .expect("creating a temporary directory for nats-server");
        NatsServer {
            name,
            port,
            monitor_port: free_port(),
            cluster,
            options: NatsOptions::default(),
            dir,
            child: None,
        }
    }

    /// The process id, while running (for signals such as SIGSTOP).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The client URL, `nats://127.0.0.1:PORT` (`tls://` with TLS on), to
    /// hand to a NATS client or to a Chorus node's `--nats`. It stays the same
    /// across [`restart`](Self::restart).
    pub fn url(&self) -> String {
        let scheme = if self.options.tls { "tls" } else { "nats" };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// With TLS on: the PEM file of the CA that signed the server's
    /// certificate (for 127.0.0.1 and localhost).
    pub fn ca_file(&self) -> Option<PathBuf> {
        self.options.tls.then(|| self.dir.path().join("ca.pem"))
    }

    /// The client port, for tests that speak to the server over raw TCP.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The HTTP monitoring base URL, `http://127.0.0.1:PORT` (endpoints such
    /// as `/healthz`, `/jsz`, `/connz`), for looking at server state by hand.
    pub fn monitor_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.monitor_port)
    }

    /// The server name (`-n`); in a cluster, the name `/jsz` uses for the
    /// meta leader and replicas.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The JetStream store directory. It survives [`kill`](Self::kill) and
    /// [`restart`](Self::restart), and is removed on drop.
    pub fn store_dir(&self) -> PathBuf {
        self.dir.path().join("store")
    }

    /// The file that receives the server's stdout and stderr, across restarts;
    /// worth reading when a test fails.
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("nats-server.log")
    }

    /// Whether the process was launched and not killed since.
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Kills the process with SIGKILL and waits for it to exit: a crash, with
    /// no goodbye to clients or cluster peers. Does nothing if not running.
    /// The ports and the store directory are kept for [`restart`](Self::restart).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            // Fails only if the process is already gone, which is the goal.
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the process again on the same ports with the same store
    /// directory, and waits until it is ready (in a cluster: until it is in
    /// contact with a meta leader that sees it as current). Kills it first if
    /// it is still running.
    ///
    /// If the cluster has lost its quorum, this server cannot become ready on
    /// its own: use [`restart_no_wait`](Self::restart_no_wait) on each killed
    /// server, then [`NatsCluster::wait_ready`](crate::NatsCluster::wait_ready).
    ///
    /// # Panics
    ///
    /// If the server is not ready within 60 s (a port still held by another
    /// process is retried until then).
    pub async fn restart(&mut self) {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            self.restart_no_wait();
            match self.await_ready(deadline).await {
                Ok(()) => return,
                Err(StartError::PortClash(_)) if Instant::now() < deadline => {
                    // Someone took one of our ports while we were down; ours
                    // must stay, so wait for it to be released.
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(StartError::PortClash(msg) | StartError::Failed(msg)) => panic!("{msg}"),
            }
        }
    }

    /// Starts the process again (same ports, same store directory) without
    /// waiting for it to be ready; for restarting several servers of a cluster
    /// that lost its quorum. Kills it first if it is still running.
    pub fn restart_no_wait(&mut self) {
        self.kill();
        self.launch();
    }

    /// Waits until this server is ready; see [`restart`](Self::restart) for
    /// what ready means. Tests use it to check that a server is still healthy
    /// after one of its cluster peers died.
    ///
    /// # Panics
    ///
    /// If the server is not running, exits, or is not ready within 60 s.
    pub async fn wait_ready(&mut self) {
        let deadline = Instant::now() + READY_TIMEOUT;
        if let Err(StartError::PortClash(msg) | StartError::Failed(msg)) =
            self.await_ready(deadline).await
        {
            panic!("{msg}");
        }
    }

    /// All subscription subjects of all client connections on this server,
    /// sorted, one entry per subscription (so a subject held twice appears
    /// twice). From the monitoring endpoint `/connz?subs=1`.
    ///
    /// Lets tests show what a Chorus node subscribes to, for example a
    /// channel's subject only while the channel has local members. It is a
    /// snapshot that lags the client a little: poll it with a deadline.
    ///
    /// # Panics
    ///
    /// If the monitoring endpoint cannot be read.
    pub async fn subscriptions(&self) -> Vec<String> {
        let mut subjects = Vec::new();
        let mut offset = 0;
        loop {
            let page = self
                .monitor(&format!("/connz?subs=1&offset={offset}&limit=1024"))
                .await;
            let connections = page["connections"].as_array().cloned().unwrap_or_default();
            for conn in &connections {
                let subs = conn["subscriptions_list"].as_array();
                subjects.extend(
                    subs.into_iter()
                        .flatten()
                        .filter_map(|s| s.as_str().map(str::to_owned)),
                );
            }
            offset += connections.len();
            let total = page["total"].as_u64().unwrap_or(0) as usize;
            if connections.is_empty() || offset >= total {
                break;
            }
        }
        subjects.sort();
        subjects
    }

    /// GETs a monitoring endpoint (such as `/jsz?streams=true` or `/healthz`)
    /// and parses its JSON body, whatever the HTTP status: for assertions on
    /// server state that no client API shows.
    ///
    /// # Panics
    ///
    /// If the request fails or the body is not JSON.
    pub async fn monitor(&self, path: &str) -> Value {
        match http_get(self.monitor_port, path).await {
            Ok((_, body)) => serde_json::from_str(&body).unwrap_or_else(|e| {
                panic!(
                    "{}{path}: body is not JSON ({e}): {body}",
                    self.monitor_url()
                )
            }),
            Err(e) => panic!("{}{path}: {e}", self.monitor_url()),
        }
    }

    fn args(&self) -> Vec<String> {
        let mut args: Vec<String> = [
            "-a",
            "127.0.0.1",
            "-p",
            &self.port.to_string(),
            "-m",
            &self.monitor_port.to_string(),
            "-n",
            &self.name,
            "-js",
            "-sd",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.push(self.store_dir().display().to_string());
        if self.options.sync_always {
            args.extend(["-c".to_owned(), self.config_path().display().to_string()]);
        }
        if self.options.tls {
            let dir = self.dir.path();
            args.extend([
                "--tls".to_owned(),
                "--tlscert".to_owned(),
                dir.join("cert.pem").display().to_string(),
                "--tlskey".to_owned(),
                dir.join("key.pem").display().to_string(),
            ]);
        }
        if let Some(cluster) = &self.cluster {
            args.extend([
                "--cluster".to_owned(),
                format!("nats://127.0.0.1:{}", cluster.port),
                "--cluster_name".to_owned(),
                cluster.name.clone(),
            ]);
            if !cluster.routes.is_empty() {
                let routes: Vec<String> = cluster
                    .routes
                    .iter()
                    .map(|p| format!("nats://127.0.0.1:{p}"))
                    .collect();
                args.extend(["--routes".to_owned(), routes.join(",")]);
            }
        }
        args
    }

    /// The configuration file with what flags cannot say (`sync_interval`).
    fn config_path(&self) -> PathBuf {
        self.dir.path().join("nats-server.conf")
    }

    /// Spawns the process, its output appended to the log file.
    pub(crate) fn launch(&mut self) {
        assert!(self.child.is_none(), "launch while running");
        if self.options.sync_always {
            std::fs::write(
                self.config_path(),
                "jetstream {\n  sync_interval: always\n}\n",
            )
            .expect("writing the nats-server configuration");
        }
        if self.options.tls && !self.dir.path().join("ca.pem").exists() {
            write_certificates(self.dir.path());
        }
        let bin = nats_server_bin();
        let args = self.args();
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("opening the nats-server log file");
        writeln!(log, "{LAUNCH_MARKER} {} {}", bin.display(), args.join(" "))
            .expect("writing the nats-server log file");
        let stderr = log.try_clone().expect("cloning the log file handle");
        let child = Command::new(&bin)
            .args(&args)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("spawning {}: {e}", bin.display()));
        self.child = Some(child);
    }

    /// Polls [`probe`](Self::probe) until it succeeds, the process exits, or
    /// the deadline passes.
    pub(crate) async fn await_ready(&mut self, deadline: Instant) -> Result<(), StartError> {
        loop {
            self.check_alive()?;
            let last = match self.probe().await {
                Ok(()) => return Ok(()),
                Err(why) => why,
            };
            if Instant::now() >= deadline {
                return Err(StartError::Failed(self.failure(&format!(
                    "not ready after {READY_TIMEOUT:?}; last check: {last}"
                ))));
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// An error if the process is not running or has exited; a port clash if
    /// its last run died of one.
    pub(crate) fn check_alive(&mut self) -> Result<(), StartError> {
        let Some(child) = self.child.as_mut() else {
            return Err(StartError::Failed(format!(
                "nats-server {} is not running (killed; restart it first)",
                self.name
            )));
        };
        let status = match child.try_wait() {
            Ok(None) => return Ok(()),
            Ok(Some(status)) => status.to_string(),
            Err(e) => format!("unknown status ({e})"),
        };
        self.child = None;
        let msg = self.failure(&format!("exited during startup ({status})"));
        if self.last_run_log().contains("address already in use") {
            Err(StartError::PortClash(msg))
        } else {
            Err(StartError::Failed(msg))
        }
    }

    /// One readiness check; `Err` says what is missing.
    pub(crate) async fn probe(&self) -> Result<(), String> {
        let varz = get_json(self.monitor_port, "/varz").await?;
        if varz["server_name"] != self.name.as_str() {
            return Err(format!(
                "port {} answers as {} (not yet ours)",
                self.monitor_port, varz["server_name"]
            ));
        }
        let (status, body) = http_get(self.monitor_port, "/healthz")
            .await
            .map_err(|e| format!("GET /healthz: {e}"))?;
        if status != 200 {
            return Err(format!("/healthz {status}: {}", body.trim()));
        }
        let Some(cluster) = &self.cluster else {
            return Ok(());
        };
        let jsz = get_json(self.monitor_port, "/jsz").await?;
        let leader = jsz["meta_cluster"]["leader"].as_str().unwrap_or_default();
        if leader.is_empty() {
            return Err("no JetStream meta leader yet".to_owned());
        }
        if leader == self.name {
            return Ok(());
        }
        let Some((_, leader_port)) = cluster.peers.iter().find(|(name, _)| name == leader) else {
            return Err(format!("meta leader {leader} is not a known peer"));
        };
        let leader_jsz = get_json(*leader_port, "/jsz").await?;
        let current = leader_jsz["meta_cluster"]["replicas"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|r| r["name"] == self.name.as_str() && r["current"] == true);
        if current {
            Ok(())
        } else {
            Err(format!(
                "meta leader {leader} does not see {} as current yet",
                self.name
            ))
        }
    }

    /// The log of the current (or last) run only.
    fn last_run_log(&self) -> String {
        let log = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        match log.rfind(LAUNCH_MARKER) {
            Some(i) => log[i..].to_owned(),
            None => log,
        }
    }

    /// A failure message: which server, what happened, and its log tail.
    pub(crate) fn failure(&self, what: &str) -> String {
        let log = self.last_run_log();
        let lines: Vec<&str> = log.lines().collect();
        let tail = lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n");
        format!(
            "nats-server {} (client port {}, monitor port {}) {what}\n--- last lines of {} ---\n{tail}",
            self.name,
            self.port,
            self.monitor_port,
            self.log_path().display()
        )
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
        // The TempDir field removes the directory after this.
    }
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;

    use super::*;

    #[tokio::test]
    async fn a_taken_port_is_reported_as_a_clash() {
        let holder = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = holder.local_addr().unwrap().port();
        let mut server = NatsServer::new(unique_name("chorus-clash"), port, None);
        server.launch();
        match server.await_ready(Instant::now() + READY_TIMEOUT).await {
            Err(StartError::PortClash(msg)) => assert!(msg.contains("already in use"), "{msg}"),
            Err(StartError::Failed(msg)) => panic!("not reported as a clash: {msg}"),
            Ok(()) => panic!("ready on a taken port"),
        }
        assert!(!server.is_running());
    }
}
