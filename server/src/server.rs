//! Starting and running a node: the builder (the entry point for embedding),
//! binding the listen address, the accept loop and the graceful drain.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use thiserror::Error;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::auth::{AuthConfigError, Verifier};
use crate::broker::Broker;
use crate::broker::memory::MemoryBroker;
use crate::broker::nats::NatsBroker;
use crate::config::{Config, ConfigError};
use crate::hooks::{Hooks, NoHooks};
use crate::hub::Hub;
use crate::ids::random_hex;
use crate::metrics::Metrics;
use crate::node::{Node, ReloadSource};

/// Why a node could not start.
#[derive(Debug, Error)]
pub enum StartError {
    /// The configuration fails [`Config::validate`](crate::Config::validate); the message names
    /// the option.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The token verifier refuses the `[auth]` options (`bind` validates first, which reports
    /// the same problems as [`ConfigError::Auth`]).
    #[error("auth: {0}")]
    Auth(#[from] AuthConfigError),
    /// The listen address could not be bound.
    #[error("listen on {addr}: {source}")]
    Bind {
        /// The configured `listen` address.
        addr: SocketAddr,
        /// The OS error: the address is in use, not local, or needs privileges.
        source: std::io::Error,
    },
    /// The TLS certificate or key cannot be used.
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    /// The cluster broker could not start (NATS unreachable, JetStream off...).
    #[error("{0}")]
    Broker(#[from] crate::broker::BrokerError),
}

/// Builds and starts a node; the way to embed Chorus in another Rust program.
///
/// ```no_run
/// # async fn run() -> Result<(), chorus_server::StartError> {
/// let mut config = chorus_server::Config::default();
/// config.apply_dev_profile();
/// let server = chorus_server::ServerBuilder::new(config).bind().await?;
/// println!("listening on {}", server.local_addr());
/// server.run_until(async { let _ = tokio::signal::ctrl_c().await; }).await;
/// # Ok(()) }
/// ```
pub struct ServerBuilder {
    config: Config,
    hooks: Arc<dyn Hooks>,
    reload_source: Option<ReloadSource>,
}

impl ServerBuilder {
    /// A builder with no hooks.
    pub fn new(config: Config) -> Self {
        ServerBuilder {
            config,
            hooks: Arc::new(NoHooks),
            reload_source: None,
        }
    }

    /// Where `POST /api/reload` (and [`Node::reload_from_source`]) read the
    /// configuration again; without one, only [`Node::reload`] with a given
    /// configuration works.
    pub fn reload_source(
        mut self,
        source: impl Fn() -> Result<Config, ConfigError> + Send + Sync + 'static,
    ) -> Self {
        self.reload_source = Some(Arc::new(source));
        self
    }

    /// Sets the hooks that take part in connect, subscribe, publish and rpc.
    pub fn hooks(mut self, hooks: impl Hooks) -> Self {
        self.hooks = Arc::new(hooks);
        self
    }

    /// Validates the configuration and binds the listen address.
    pub async fn bind(self) -> Result<Server, StartError> {
        self.config.validate()?;
        let verifier = Verifier::new(&self.config.auth)?;
        let tls = crate::tls::Tls::new(&self.config.tls)?;
        let listener = listen(self.config.listen).map_err(|source| StartError::Bind {
            addr: self.config.listen,
            source,
        })?;
        let hub = Arc::new(Hub::default());
        let id: Arc<str> = random_hex(6).into();
        let (broker, memory): (Arc<dyn Broker>, _) = if self.config.nats.is_empty() {
            let memory = Arc::new(MemoryBroker::new(
                hub.clone(),
                Duration::from_millis(self.config.limits.idempotency_window_ms),
            ));
            memory.set_bounds(&self.config);
            (memory.clone(), Some(memory))
        } else {
            let config = Arc::new(self.config.clone());
            (
                NatsBroker::connect(config, hub.clone(), id.clone()).await?,
                None,
            )
        };
        let (shutdown, _) = watch::channel(false);
        let admission = crate::listener::Admission::new(self.config.limits.max_pending_connections);
        let node = Arc::new(Node {
            id,
            config: RwLock::new(Arc::new(self.config)),
            verifier: RwLock::new(Arc::new(verifier)),
            reload_source: self.reload_source,
            hub: hub.clone(),
            broker,
            hooks: self.hooks,
            metrics: Metrics::new(&hub),
            stall: Arc::default(),
            admission,
            tls,
            counter: AtomicU64::new(1),
            shutdown,
            started: Instant::now(),
        });
        if let Some(memory) = memory {
            spawn_history_sweeper(&node, memory);
        }
        crate::stall::StallClock::spawn_ticker(&node.stall);
        Ok(Server { node, listener })
    }
}

/// Pending connections the listener accepts (the kernel caps it at
/// `net.core.somaxconn`): a node absorbs the reconnect burst of a drained peer.
const LISTEN_BACKLOG: u32 = 4096;

/// Binds the listen address with a deep accept backlog.
fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Drops idle in-memory streams once a minute, so memory follows live channels.
fn spawn_history_sweeper(node: &Arc<Node>, broker: Arc<MemoryBroker>) {
    let weak = Arc::downgrade(node);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            let Some(node) = weak.upgrade() else { break };
            broker.sweep(|key| node.config().history_of(key));
        }
    });
}

/// A bound node, ready to serve.
pub struct Server {
    node: Arc<Node>,
    listener: TcpListener,
}

impl Server {
    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or(self.node.config().listen)
    }

    /// A handle for publishing, sending and disconnecting from server code.
    pub fn handle(&self) -> crate::Handle {
        crate::Handle::new(self.node.clone())
    }

    /// The node's shared state: the configuration in force, reloads, whether it drains.
    pub fn node(&self) -> Arc<Node> {
        self.node.clone()
    }

    /// Serves until `signal` resolves, then shuts down gracefully: readiness turns
    /// false, clients are closed with the reconnect code 4000, and the call
    /// returns once they are gone or `limits.shutdown_timeout_ms` has passed.
    pub async fn run_until(self, signal: impl Future<Output = ()> + Send + 'static) {
        let node = self.node.clone();
        let app = crate::http::router(node.clone());
        let limit = Duration::from_millis(node.config().limits.shutdown_timeout_ms);
        // While draining, the listener stays open: `/readyz` answers 503 and new
        // WebSocket clients are told to reconnect elsewhere (close 4000).
        let drained = {
            let node = node.clone();
            async move {
                let mut stop = node.shutdown_signal();
                let _ = stop.wait_for(|s| *s).await;
                let deadline = tokio::time::Instant::now() + limit;
                while node.hub.connections() > 0 && tokio::time::Instant::now() < deadline {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                let left = node.hub.connections();
                if left > 0 {
                    tracing::warn!(left, "shutdown timeout: dropping remaining connections");
                }
            }
        };
        let trigger = node.clone();
        tokio::spawn(async move {
            signal.await;
            tracing::info!("shutdown requested: draining");
            trigger.begin_shutdown();
        });
        let (stop_http, stop) = watch::channel(false);
        // Open HTTP requests get a second to finish once the drain is over.
        let serve = crate::listener::serve(
            self.listener,
            app,
            node.clone(),
            stop,
            Duration::from_secs(1),
        );
        let server = tokio::spawn(serve);
        tokio::spawn(async move {
            drained.await;
            let _ = stop_http.send(true);
        });
        let mut stop = node.shutdown_signal();
        let _ = stop.wait_for(|s| *s).await;
        let _ = tokio::time::timeout(limit + Duration::from_secs(2), server).await;
        node.broker.shutdown().await;
        tracing::info!("stopped");
    }
}
