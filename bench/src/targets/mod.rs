//! The servers under test: how to start them and how to speak to them.
//!
//! A target is a server program ([`Target`]) plus its client protocol
//! ([`Dialect`]). [`deploy`] starts one or more nodes of a target as child
//! processes on free loopback ports, each with a configuration file written
//! under the work directory, and waits until every node accepts a real client
//! connection. Nodes are killed when the [`Deployment`] is dropped.

pub mod centrifugo;
pub mod chorus;

use std::borrow::Cow;
use std::fmt;
use std::fs::File;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use tokio::process::{Child, Command};
use tokio_tungstenite::tungstenite::Message;

use crate::client::Conn;
use crate::{Result, payload, procstat};

/// How long a node may take to accept its first client.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// A server program under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    /// The `chorus` binary from this repository.
    Chorus,
    /// Centrifugo v6, the peer we compare with.
    Centrifugo,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Target::Chorus => "Chorus",
            Target::Centrifugo => "Centrifugo",
        })
    }
}

/// What a client needs to know about a server's wire protocol: how to write
/// the few commands the benchmark sends, and how to read what comes back.
///
/// Both targets are spoken in JSON, each in its own envelope.
pub trait Dialect: Send + Sync + fmt::Debug {
    /// The WebSocket path, such as `/ws`.
    fn path(&self) -> &'static str;
    /// The `Sec-WebSocket-Protocol` to offer, if any.
    fn subprotocol(&self) -> Option<&'static str>;
    /// An anonymous `connect` command with request id `id`.
    fn connect(&self, id: u64) -> Message;
    /// A `subscribe` command.
    fn subscribe(&self, id: u64, channel: &str) -> Message;
    /// A `publish` command carrying `data` (JSON text).
    fn publish(&self, id: u64, channel: &str, data: &[u8]) -> Message;
    /// The answer to a server ping.
    fn pong(&self) -> Message;
    /// Reads one WebSocket message, which may hold several frames, calling
    /// `on` for each.
    fn decode(&self, message: &[u8], on: &mut dyn FnMut(Event)) -> Result<()>;
}

/// One frame from a server, as far as the benchmark cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The reply to command `id`: `Ok`, or the server's error message.
    Reply {
        /// The command's request id.
        id: u64,
        /// The error, if the command failed.
        error: Option<String>,
    },
    /// A publication; `sent_at` is the send time read from a stamped payload.
    Publication {
        /// See [`crate::payload::sent_at`].
        sent_at: Option<u64>,
    },
    /// A ping the client must answer with [`Dialect::pong`].
    Ping,
    /// The server says it is closing the connection.
    Disconnect(String),
    /// Anything else (join/leave events, pushes we never ask for).
    Other,
}

/// An error reply's body, as both servers write it: `{"code":..,"message":..}`.
#[derive(Debug, Deserialize)]
struct ErrorBody<'a> {
    code: u32,
    #[serde(borrow, default)]
    message: Cow<'a, str>,
}

impl ErrorBody<'_> {
    /// The failed reply to command `id`.
    fn reply(&self, id: u64) -> Event {
        Event::Reply {
            id,
            error: Some(format!("{}: {}", self.code, self.message)),
        }
    }
}

/// A publication's body: the benchmark reads only its data, where the send
/// time travels.
#[derive(Debug, Deserialize)]
struct PublicationBody<'a> {
    #[serde(borrow)]
    data: Option<&'a RawValue>,
}

impl PublicationBody<'_> {
    fn event(&self) -> Event {
        Event::Publication {
            sent_at: self.data.and_then(|d| payload::sent_at(d.get().as_bytes())),
        }
    }
}

/// Where the server binaries are, and how they are run.
#[derive(Debug, Clone)]
pub struct Binaries {
    /// Path of the `chorus` server to run (`--chorus-bin`, `BENCH_CHORUS_BIN`).
    pub chorus: PathBuf,
    /// Path of the `centrifugo` server to run (`--centrifugo-bin`, `BENCH_CENTRIFUGO_BIN`).
    pub centrifugo: PathBuf,
    /// Environment settings of every `chorus` node (`--chorus-env`).
    pub chorus_env: Vec<(String, String)>,
}

impl Binaries {
    /// The binary of `target`.
    pub fn of(&self, target: Target) -> &Path {
        match target {
            Target::Chorus => &self.chorus,
            Target::Centrifugo => &self.centrifugo,
        }
    }

    /// The version the binary of `target` reports, or why it cannot run.
    pub fn version(&self, target: Target) -> Result<String> {
        let bin = self.of(target);
        let args: &[&str] = match target {
            Target::Chorus => &["--version"],
            Target::Centrifugo => &["version"],
        };
        let out = std::process::Command::new(bin)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("{}: {e}", bin.display()))?;
        if !out.status.success() {
            return Err(format!("{} {args:?} failed: {}", bin.display(), out.status).into());
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }
}

/// One running server process.
#[derive(Debug)]
pub struct Node {
    /// The address clients connect to.
    pub addr: SocketAddr,
    child: Child,
    pid: u32,
    log: PathBuf,
}

impl Node {
    /// Starts `command` with its output going to `log`.
    fn spawn(mut command: Command, addr: SocketAddr, log: PathBuf) -> Result<Node> {
        let out = File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        command
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .kill_on_drop(true);
        let child = command
            .spawn()
            .map_err(|e| format!("cannot start {:?}: {e}", command.as_std().get_program()))?;
        let pid = child.id().ok_or("server exited at once")?;
        Ok(Node {
            addr,
            child,
            pid,
            log,
        })
    }

    /// The server process's id: the process [`Self::rss_kib`] and [`Self::cpu_seconds`] measure.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Resident memory in KiB.
    pub fn rss_kib(&self) -> Result<u64> {
        Ok(procstat::rss_kib(self.pid)?)
    }

    /// CPU seconds used so far.
    pub fn cpu_seconds(&self) -> Result<f64> {
        Ok(procstat::cpu_seconds(self.pid)?)
    }

    /// The last lines of the node's log, to explain a failure.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let start = lines.len().saturating_sub(20);
        format!("{}:\n{}", self.log.display(), lines[start..].join("\n"))
    }

    /// Waits until a client can connect, or fails with the log's tail.
    async fn wait_ready(&mut self, dialect: &Arc<dyn Dialect>) -> Result<()> {
        let deadline = tokio::time::Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Err(format!("server exited ({status}); {}", self.log_tail()).into());
            }
            match Conn::open(self.addr, Ipv4Addr::LOCALHOST, dialect.clone()).await {
                Ok(conn) => {
                    conn.close().await;
                    return Ok(());
                }
                Err(e) if tokio::time::Instant::now() > deadline => {
                    return Err(format!(
                        "server not ready after {READY_TIMEOUT:?}: {e}; {}",
                        self.log_tail()
                    )
                    .into());
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }
}

/// The running nodes of one target.
#[derive(Debug)]
pub struct Deployment {
    /// Which server the nodes run, Chorus or the peer it is compared with.
    pub target: Target,
    /// How clients speak to that server: its path, subprotocol and envelope.
    pub dialect: Arc<dyn Dialect>,
    /// Its nodes, in start order.
    pub nodes: Vec<Node>,
}

impl Deployment {
    /// Resident memory of all nodes together, in KiB.
    pub fn rss_kib(&self) -> Result<u64> {
        self.nodes.iter().map(Node::rss_kib).sum()
    }

    /// CPU seconds used by all nodes together.
    pub fn cpu_seconds(&self) -> Result<f64> {
        self.nodes.iter().map(Node::cpu_seconds).sum()
    }
}

/// Starts `nodes` nodes of `target` (joined through the NATS server at `nats`
/// when given) and waits until each accepts clients. Files go under `work`.
pub async fn deploy(
    target: Target,
    binaries: &Binaries,
    nodes: usize,
    nats: Option<&str>,
    work: &Path,
) -> Result<Deployment> {
    std::fs::create_dir_all(work).map_err(|e| format!("{}: {e}", work.display()))?;
    let dialect: Arc<dyn Dialect> = match target {
        Target::Chorus => Arc::new(chorus::ChorusJson),
        Target::Centrifugo => Arc::new(centrifugo::CentrifugoJson),
    };
    // One NATS prefix per deployment, so that runs never share subjects.
    let prefix = format!("bench{}", crate::payload::now_ns());
    let mut started = Vec::with_capacity(nodes);
    for index in 0..nodes {
        let port = free_port()?;
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let name = format!("{}-{index}", target.to_string().to_lowercase());
        let node = match target {
            Target::Chorus => chorus::start(
                &binaries.chorus,
                &binaries.chorus_env,
                addr,
                nats,
                &prefix,
                work,
                &name,
            )?,
            Target::Centrifugo => {
                centrifugo::start(&binaries.centrifugo, addr, nats, &prefix, work, &name)?
            }
        };
        started.push(node);
    }
    for node in &mut started {
        node.wait_ready(&dialect).await?;
    }
    Ok(Deployment {
        target,
        dialect,
        nodes: started,
    })
}

/// A TCP port that was free a moment ago on 127.0.0.1.
fn free_port() -> Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}

/// Writes a configuration file and returns its path.
fn write_config(work: &Path, file: &str, text: &str) -> Result<PathBuf> {
    let path = work.join(file);
    std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path)
}
