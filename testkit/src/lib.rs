//! Real `nats-server` processes for Chorus tests.
//!
//! The NATS broker, JetStream history, presence and the node registry are only
//! worth testing against the real server: a mock would not show route delays,
//! meta-leader elections or what happens when a server dies. This crate starts
//! `nats-server` processes on free loopback ports, each with JetStream and its
//! own temporary store directory, and waits until they are really usable:
//!
//! - [`NatsServer::start`]: one server;
//! - [`NatsCluster::start`]: `n` routed servers forming one JetStream cluster,
//!   ready for streams with three replicas as soon as `start` returns.
//!
//! Servers are killed, and their store directories removed, when dropped. Tests
//! can kill and restart single servers to exercise failover.
//!
//! The binary comes from [`nats_server_bin`]; `./scripts/setup` installs the
//! pinned version.
//!
//! Readiness is decided from the HTTP monitoring endpoint, never by sleeping:
//! `/varz` must name this server (so a foreign process on a reused port is
//! never mistaken for ours), `/healthz` must answer 200 (it answers 503 while
//! JetStream is still recovering or has no meta leader), and in a cluster
//! `/jsz` must name a meta leader whose own view lists every peer as current.

use std::collections::HashSet;
use std::fs::OpenOptions;
use std::io::Write as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// How long a server or cluster may take to become ready. Generous: test
/// suites start many servers in parallel on two shared cores.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// Pause between two readiness polls.
const POLL_INTERVAL: Duration = Duration::from_millis(50);
/// Bound on one monitoring request, so a stuck server cannot hang a poll.
const HTTP_TIMEOUT: Duration = Duration::from_secs(5);
/// Attempts with fresh ports when a chosen port was taken in the meantime.
const START_ATTEMPTS: usize = 5;
/// Oldest usable server: Chorus nodes use batched direct reads and
/// per-message TTLs (2.11) and atomic batch publishes (2.12), and async-nats
/// 0.51 fails against 2.9 outright.
const MIN_VERSION: (u32, u32) = (2, 12);
/// Lines of the server log shown when a server fails.
const LOG_TAIL_LINES: usize = 40;
/// Written to the log before each launch; failures look only at the last run.
const LAUNCH_MARKER: &str = "=== chorus-testkit: launching";

/// The `nats-server` binary to run.
///
/// Looked up, in order: the environment variable `CHORUS_NATS_SERVER` (an
/// explicit choice, used even if broken so that a mistake is reported rather
/// than silently bypassed); `target/tools/bin/nats-server` in the workspace,
/// where `./scripts/setup` installs the pinned version; `nats-server` on
/// `PATH`. The binary must run and report version 2.12 or newer.
///
/// # Panics
///
/// If no usable binary is found, with a message saying to run `./scripts/setup`.
pub fn nats_server_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(find_nats_server).clone()
}

fn find_nats_server() -> PathBuf {
    const HINT: &str = "run ./scripts/setup (it installs the pinned nats-server into \
                        target/tools/bin), or set CHORUS_NATS_SERVER to a nats-server binary";
    if let Some(path) = std::env::var_os("CHORUS_NATS_SERVER").filter(|v| !v.is_empty()) {
        let path = PathBuf::from(path);
        if let Err(e) = check_version(&path) {
            panic!("CHORUS_NATS_SERVER={}: {e}; {HINT}", path.display());
        }
        return path;
    }
    let tools = workspace_root().join("target/tools/bin/nats-server");
    let on_path = std::env::var_os("PATH").and_then(|dirs| {
        std::env::split_paths(&dirs)
            .map(|dir| dir.join("nats-server"))
            .find(|p| p.is_file())
    });
    let mut problems = Vec::new();
    for candidate in [Some(tools.clone()), on_path].into_iter().flatten() {
        if !candidate.exists() {
            continue;
        }
        match check_version(&candidate) {
            Ok(()) => return candidate,
            Err(e) => problems.push(format!("{}: {e}", candidate.display())),
        }
    }
    if problems.is_empty() {
        panic!(
            "nats-server not found (not set in CHORUS_NATS_SERVER, not at {}, not on PATH); {HINT}",
            tools.display()
        );
    }
    panic!("no usable nats-server ({}); {HINT}", problems.join("; "));
}

/// Runs `<bin> --version` and checks it reports at least [`MIN_VERSION`].
fn check_version(bin: &Path) -> Result<(), String> {
    let out = Command::new(bin)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run it: {e}"))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = text.trim();
    if !out.status.success() {
        return Err(format!("`--version` failed ({}): {text}", out.status));
    }
    check_version_text(text)
}

/// Checks a `--version` output such as `nats-server: v2.15.1`.
fn check_version_text(text: &str) -> Result<(), String> {
    let version = text
        .rsplit('v')
        .next()
        .unwrap_or_default()
        .split('.')
        .map(|n| n.trim().parse::<u32>().ok())
        .collect::<Vec<_>>();
    match version.as_slice() {
        [Some(major), Some(minor), ..] if (*major, *minor) >= MIN_VERSION => Ok(()),
        [Some(_), Some(_), ..] => Err(format!(
            "{text} is too old (need {}.{} or newer; Debian's package is 2.9)",
            MIN_VERSION.0, MIN_VERSION.1
        )),
        _ => Err(format!("cannot read a version from `--version`: {text:?}")),
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the testkit crate lives in a folder of the workspace")
        .to_path_buf()
}

/// A free loopback port, never the same twice in this process.
///
/// Binding port 0 lets the kernel choose a free port; the listener is closed
/// again so the server can bind it, which leaves a short window in which
/// another process may take it. Callers retry with fresh ports when a server
/// reports "address already in use". Remembering every port handed out keeps
/// parallel tests in one binary from ever racing each other for one.
fn free_port() -> u16 {
    static USED: Mutex<Option<HashSet<u16>>> = Mutex::new(None);
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("binding 127.0.0.1:0 to find a free port")
            .port();
        let mut used = USED.lock().unwrap_or_else(|e| e.into_inner());
        if used.get_or_insert_with(HashSet::new).insert(port) {
            return port;
        }
    }
}

/// A name unique to this process and call, so that servers of parallel tests
/// (or of test binaries running side by side) never join each other's
/// cluster and are never mistaken for each other.
fn unique_name(prefix: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Why a launch did not become ready.
enum StartError {
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
struct ClusterConfig {
    name: String,
    port: u16,
    /// Cluster ports of the other servers.
    routes: Vec<u16>,
    /// Name and monitoring port of every server in the cluster, this one
    /// included: to ask the meta leader how it sees this server.
    peers: Vec<(String, u16)>,
}

/// One `nats-server` process with JetStream, on free loopback ports.
///
/// Tests get a server of their own, so they never share subjects, streams or
/// KV buckets with another test. The process is killed (SIGKILL) and its
/// temporary directory (JetStream store and log) removed when this value is
/// dropped.
#[derive(Debug)]
pub struct NatsServer {
    name: String,
    port: u16,
    monitor_port: u16,
    cluster: Option<ClusterConfig>,
    options: NatsOptions,
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

    fn new(name: String, port: u16, cluster: Option<ClusterConfig>) -> NatsServer {
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
    /// server, then [`NatsCluster::wait_ready`].
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
    fn launch(&mut self) {
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
    async fn await_ready(&mut self, deadline: Instant) -> Result<(), StartError> {
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
    fn check_alive(&mut self) -> Result<(), StartError> {
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
    async fn probe(&self) -> Result<(), String> {
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
    fn failure(&self, what: &str) -> String {
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

/// Writes a CA and a certificate it signed for 127.0.0.1 and localhost, as
/// `ca.pem`, `cert.pem` and `key.pem` in `dir`: for TLS servers in tests.
///
/// # Panics
///
/// If a key cannot be made or a file cannot be written.
pub fn write_certificates(dir: &Path) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().expect("a CA key");
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    // Names of their own: a leaf whose issuer reads like its subject looks
    // self-signed to OpenSSL and browsers.
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "Chorus test CA");
    let ca_cert = ca.self_signed(&ca_key).expect("a CA certificate");
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().expect("a server key");
    let mut params = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
        .expect("server certificate parameters");
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "localhost");
    let cert = params
        .signed_by(&key, &issuer)
        .expect("a server certificate");
    for (file, pem) in [
        ("ca.pem", ca_cert.pem()),
        ("cert.pem", cert.pem()),
        ("key.pem", key.serialize_pem()),
    ] {
        std::fs::write(dir.join(file), pem).expect("writing a certificate");
    }
}

/// A minimal HTTP/1.0 GET on 127.0.0.1: the status code and the body. The
/// server closes the connection after the response, so reading to the end
/// gives the whole of it.
async fn http_get(port: u16, path: &str) -> Result<(u16, String), String> {
    let exchange = async {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await?;
        let request = format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n");
        stream.write_all(request.as_bytes()).await?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await?;
        Ok::<_, std::io::Error>(response)
    };
    let response = tokio::time::timeout(HTTP_TIMEOUT, exchange)
        .await
        .map_err(|_| format!("GET {path}: no response within {HTTP_TIMEOUT:?}"))?
        .map_err(|e| format!("GET {path}: {e}"))?;
    let response = String::from_utf8_lossy(&response);
    let (head, body) = response
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("GET {path}: malformed response {response:?}"))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("GET {path}: malformed status line in {head:?}"))?;
    Ok((status, body.to_owned()))
}

/// [`http_get`] of a JSON endpoint that must answer 200.
async fn get_json(port: u16, path: &str) -> Result<Value, String> {
    let (status, body) = http_get(port, path).await?;
    if status != 200 {
        return Err(format!("GET {path}: status {status}: {}", body.trim()));
    }
    serde_json::from_str(&body).map_err(|e| format!("GET {path}: body is not JSON ({e})"))
}

#[cfg(test)]
mod tests {
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

    #[test]
    fn versions_older_than_2_12_are_refused() {
        for (text, ok) in [
            ("nats-server: v2.9.10", false),
            ("nats-server: v2.10.29", false),
            ("nats-server: v2.11.9", false),
            ("nats-server: v2.12.0", true),
            ("nats-server: v2.15.1", true),
            ("nats-server: v3.0.0-beta", true),
            ("something else", false),
        ] {
            assert_eq!(check_version_text(text).is_ok(), ok, "{text}");
        }
    }
}
