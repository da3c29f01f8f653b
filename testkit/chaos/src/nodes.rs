//! Chorus nodes as real `chorus` processes, so that faults are real: SIGKILL,
//! SIGTERM (the node drains), SIGSTOP and SIGCONT. Each node listens on its
//! own loopback port, kept across restarts (the clients' URLs name it), and
//! logs to a file of the run's directory.

use std::fs::OpenOptions;
use std::io::Write as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// What a node needs to know to start: the shared part of its configuration.
#[derive(Debug, Clone)]
pub struct NodeSettings {
    /// Path of the `chorus` server binary every node runs.
    pub bin: PathBuf,
    /// Client URLs of every NATS server: the nodes' `nats` setting.
    pub nats: Vec<String>,
    /// HS256 secret for client tokens.
    pub secret: String,
    /// Publications kept per channel.
    pub history_size: usize,
    /// Commands per second and burst per connection (default: the server's).
    pub rate_limit: Option<u32>,
}

/// One `chorus` process.
#[derive(Debug)]
pub struct ChorusNode {
    /// Position in the system (0, 1, 2).
    pub index: usize,
    /// The port it listens on at 127.0.0.1: chosen when the node is made,
    /// kept across restarts (the clients' URLs name it).
    pub port: u16,
    bin: PathBuf,
    config: PathBuf,
    log: PathBuf,
    child: Option<Child>,
    stopped: bool,
}

/// A free loopback port (the kernel's choice; closed again at once).
pub fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn config_text(settings: &NodeSettings, port: u16) -> String {
    let nats: Vec<String> = settings.nats.iter().map(|u| format!("{u:?}")).collect();
    let rate = settings
        .rate_limit
        .map(|r| format!("rate_per_second = {r}\nrate_burst = {r}\n"))
        .unwrap_or_default();
    format!(
        "listen = \"127.0.0.1:{port}\"\n\
         nats = [{nats}]\n\
         [auth]\nhmac_secret = {secret:?}\n\
         [cluster]\nprefix = \"chaos\"\nreplicas = 3\nstorage = \"file\"\nnode_ttl_ms = 5000\n\
         [limits]\nshutdown_timeout_ms = 5000\n{rate}\
         [log]\nlevel = \"warn,chorus_server=info\"\n\
         [namespaces.chat]\nhistory_size = {size}\nhistory_ttl_ms = 600000\npublish = \"any\"\n",
        nats = nats.join(", "),
        secret = settings.secret,
        size = settings.history_size,
    )
}

impl ChorusNode {
    /// A node (not started yet) with its files in `dir`.
    pub fn new(index: usize, settings: &NodeSettings, dir: &Path) -> std::io::Result<ChorusNode> {
        let port = free_port()?;
        let config = dir.join(format!("node{index}.toml"));
        std::fs::write(&config, config_text(settings, port))?;
        Ok(ChorusNode {
            index,
            port,
            bin: settings.bin.clone(),
            config,
            log: dir.join(format!("node{index}.log")),
            child: None,
            stopped: false,
        })
    }

    /// `ws://127.0.0.1:PORT/ws`, the same across restarts.
    pub fn url(&self) -> String {
        format!("ws://127.0.0.1:{}/ws", self.port)
    }

    /// The process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The log file (appended across restarts).
    pub fn log(&self) -> &Path {
        &self.log
    }

    /// Starts the process (no-op while running).
    pub fn start(&mut self) -> std::io::Result<()> {
        if self.child.is_some() {
            return Ok(());
        }
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)?;
        writeln!(log, "=== chorus-chaos: starting node {}", self.index)?;
        let child = Command::new(&self.bin)
            .arg("--config")
            .arg(&self.config)
            .env_remove("CHORUS_CONFIG")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?;
        self.child = Some(child);
        self.stopped = false;
        Ok(())
    }

    /// Waits until `/readyz` answers 200 (connected to NATS, not draining).
    pub async fn wait_ready(&mut self, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    self.child = None;
                    return Err(format!("node {} exited at start: {status}", self.index));
                }
            } else {
                return Err(format!("node {} is not running", self.index));
            }
            if ready(self.port).await {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!("node {} not ready within {timeout:?}", self.index));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn signal(&self, signal: Signal) {
        if let Some(pid) = self.pid() {
            // Fails only when the process is gone already.
            let _ = kill(Pid::from_raw(pid as i32), signal);
        }
    }

    /// SIGKILL: the node dies with no goodbye.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.stopped = false;
    }

    /// SIGTERM, then waits for the node to drain and exit (SIGKILL after `timeout`).
    pub async fn terminate(&mut self, timeout: Duration) -> Result<(), String> {
        self.signal(Signal::SIGTERM);
        let deadline = Instant::now() + timeout;
        loop {
            let Some(child) = self.child.as_mut() else {
                return Ok(());
            };
            if let Ok(Some(_)) = child.try_wait() {
                self.child = None;
                return Ok(());
            }
            if Instant::now() >= deadline {
                self.kill();
                return Err(format!(
                    "node {} did not exit within {timeout:?} of SIGTERM",
                    self.index
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// SIGSTOP: the node hangs (its sockets stay open).
    pub fn pause(&mut self) {
        self.signal(Signal::SIGSTOP);
        self.stopped = true;
    }

    /// SIGCONT after [`ChorusNode::pause`].
    pub fn resume(&mut self) {
        self.signal(Signal::SIGCONT);
        self.stopped = false;
    }
}

impl Drop for ChorusNode {
    fn drop(&mut self) {
        if self.stopped {
            self.resume();
        }
        self.kill();
    }
}

/// Whether `GET /readyz` on the port answers 200.
async fn ready(port: u16) -> bool {
    let exchange = async {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await?;
        let request = format!("GET /readyz HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n");
        stream.write_all(request.as_bytes()).await?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await?;
        Ok::<_, std::io::Error>(response)
    };
    match tokio::time::timeout(Duration::from_secs(2), exchange).await {
        Ok(Ok(response)) => {
            response.starts_with(b"HTTP/1.1 200") || response.starts_with(b"HTTP/1.0 200")
        }
        _ => false,
    }
}
