//! The accept loop: each TCP connection from `accept` to its WebSocket
//! session (or its last HTTP response), with the deadlines and caps a server
//! facing the internet needs before any client is authenticated.
//!
//! - **Header deadline** (`limits.header_timeout_ms`): the request headers must
//!   arrive in full within it, counted from the moment the connection waits
//!   for them. That covers a socket that sends nothing, one that drips its
//!   request line byte by byte, one that never ends its headers, and a
//!   keep-alive connection idle between requests: each is closed. (hyper
//!   keeps this deadline only when it has a timer; `axum::serve` gives it none,
//!   which is why the node serves connections itself.)
//! - **Pending cap** (`limits.max_pending_connections`): connections that have
//!   not yet upgraded and authenticated (every plain HTTP connection counts
//!   until it closes). Beyond it a new connection is closed at once, so idle
//!   sockets cannot use up the node's descriptors; a WebSocket leaves the count
//!   with its successful `connect`.
//! - **Per-address cap** (`limits.max_connections_per_ip`, off by default):
//!   connections, authenticated or not, from one IP address.
//!
//! Every refusal is counted in `chorus_connections_refused_total{reason}`.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tower::ServiceExt as _;

use crate::node::Node;
use crate::sync::lock;

/// What one connection holds of the node's caps, for as long as it lives
/// (moved into the WebSocket session on upgrade).
#[derive(Debug)]
pub(crate) struct Ticket {
    /// Held until the connection authenticates (or closes).
    pending: Mutex<Option<OwnedSemaphorePermit>>,
    /// Counted against its address until it closes.
    address: Option<(IpAddr, Arc<Addresses>)>,
}

impl Ticket {
    /// The connection authenticated: it no longer counts as pending.
    pub(crate) fn authenticated(&self) {
        lock(&self.pending).take();
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if let Some((ip, addresses)) = &self.address {
            addresses.release(*ip);
        }
    }
}

/// Open connections per IP address.
#[derive(Debug, Default)]
pub(crate) struct Addresses {
    counts: Mutex<HashMap<IpAddr, usize>>,
}

impl Addresses {
    /// Counts one more connection from `ip`, unless it has `max` already.
    fn admit(&self, ip: IpAddr, max: usize) -> bool {
        let mut counts = lock(&self.counts);
        let n = counts.entry(ip).or_default();
        if *n >= max {
            return false;
        }
        *n += 1;
        true
    }

    fn release(&self, ip: IpAddr) {
        let mut counts = lock(&self.counts);
        if let Some(n) = counts.get_mut(&ip) {
            *n -= 1;
            if *n == 0 {
                counts.remove(&ip);
            }
        }
    }
}

/// The caps every connection is admitted against.
#[derive(Debug)]
pub(crate) struct Admission {
    pending: Arc<Semaphore>,
    addresses: Arc<Addresses>,
}

impl Admission {
    /// Caps from the node's limits at start (the pending cap does not change on reload).
    pub(crate) fn new(max_pending: usize) -> Self {
        Admission {
            pending: Arc::new(Semaphore::new(max_pending.max(1))),
            addresses: Arc::default(),
        }
    }

    /// A ticket for a new connection from `peer`, or why it is refused.
    fn admit(&self, peer: SocketAddr, max_per_ip: usize) -> Result<Ticket, &'static str> {
        let pending = self
            .pending
            .clone()
            .try_acquire_owned()
            .map_err(|_| "pending")?;
        let address = if max_per_ip > 0 {
            if !self.addresses.admit(peer.ip(), max_per_ip) {
                return Err("per_address");
            }
            Some((peer.ip(), self.addresses.clone()))
        } else {
            None
        };
        Ok(Ticket {
            pending: Mutex::new(Some(pending)),
            address,
        })
    }
}

/// Serves `app` on `listener` until `stop` turns true, then stops accepting,
/// asks open HTTP connections to finish, and returns once they have (or after
/// `grace`). WebSocket sessions run on their own and are not waited for here.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    node: Arc<Node>,
    mut stop: watch::Receiver<bool>,
    grace: Duration,
) {
    // Told to every open HTTP connection when the listener stops.
    let (closing, _) = watch::channel(false);
    let mut open = tokio::task::JoinSet::new();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.wait_for(|s| *s) => break,
        };
        let (tcp, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of descriptors, mostly: pause instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let limits = node.config().limits.clone();
        let ticket = match node.admission.admit(peer, limits.max_connections_per_ip) {
            Ok(ticket) => Arc::new(ticket),
            Err(reason) => {
                node.metrics.refused(reason);
                drop(tcp);
                continue;
            }
        };
        // Replies and pushes are small and latency-bound: no Nagle delay.
        let _ = tcp.set_nodelay(true);
        let service = app
            .clone()
            .map_request(move |mut req: hyper::Request<Incoming>| {
                req.extensions_mut().insert(ConnectInfo(peer));
                req.extensions_mut().insert(ticket.clone());
                req
            });
        let header_timeout = Duration::from_millis(limits.header_timeout_ms.max(1));
        let tls = node.tls.current();
        let node = node.clone();
        let mut closing = closing.subscribe();
        while open.try_join_next().is_some() {}
        open.spawn(async move {
            let service = TowerToHyperService::new(service);
            let ended = match tls {
                None => serve_one(TokioIo::new(tcp), service, header_timeout, &mut closing).await,
                Some(acceptor) => {
                    // The handshake is part of what must arrive in time.
                    match tokio::time::timeout(header_timeout, acceptor.accept(tcp)).await {
                        Ok(Ok(stream)) => {
                            serve_one(TokioIo::new(stream), service, header_timeout, &mut closing)
                                .await
                        }
                        Ok(Err(e)) => {
                            node.metrics.refused("tls");
                            tracing::debug!(%peer, error = %e, "TLS handshake failed");
                            return;
                        }
                        Err(_) => {
                            node.metrics.refused("header_timeout");
                            return;
                        }
                    }
                }
            };
            if let Err(e) = ended {
                if e.is_timeout() {
                    node.metrics.refused("header_timeout");
                }
                tracing::debug!(%peer, error = %e, "HTTP connection ended");
            }
        });
    }
    drop(listener);
    let _ = closing.send(true);
    let all = async { while open.join_next().await.is_some() {} };
    if tokio::time::timeout(grace, all).await.is_err() {
        tracing::debug!("HTTP connections still open after the grace period");
        open.abort_all();
    }
}

/// Serves one HTTP/1.1 connection (with upgrades) until it ends, finishing
/// the request in flight when `closing` turns true.
async fn serve_one<I, S>(
    io: I,
    service: S,
    header_timeout: Duration,
    closing: &mut watch::Receiver<bool>,
) -> Result<(), hyper::Error>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    S: hyper::service::HttpService<Incoming> + Send,
    S::Future: Send + 'static,
    S::ResBody: Send + 'static,
    <S::ResBody as hyper::body::Body>::Data: Send,
    <S::ResBody as hyper::body::Body>::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    let conn = http.serve_connection(io, service).with_upgrades();
    let mut conn = std::pin::pin!(conn);
    tokio::select! {
        ended = conn.as_mut() => ended,
        () = async { let _ = closing.wait_for(|c| *c).await; } => {
            // Finish the request in flight, then close.
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    }
}

/// Descriptors kept for everything that is not a client connection (the
/// listener, NATS, logs, the runtime, HTTP requests in flight).
const DESCRIPTOR_RESERVE: u64 = 256;

/// The connection cap in force: `configured`, or, when it is 0, what the
/// process's open-files limit leaves after a reserve (no cap when the limit
/// is unknown or unlimited).
pub(crate) fn connection_cap(configured: usize) -> usize {
    if configured > 0 {
        return configured;
    }
    static FROM_LIMIT: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *FROM_LIMIT.get_or_init(|| {
        open_files_limit().map_or(0, |soft| {
            soft.saturating_sub(DESCRIPTOR_RESERVE).max(16) as usize
        })
    })
}

/// The soft open-files limit (`/proc/self/limits`; Linux), if finite.
fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    parse_open_files(&limits)
}

fn parse_open_files(limits: &str) -> Option<u64> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_open_files_limit_is_read_from_proc() {
        let text = "Limit                     Soft Limit           Hard Limit           Units\n\
                    Max cpu time              unlimited            unlimited            seconds\n\
                    Max open files            20000                20000                files\n";
        assert_eq!(parse_open_files(text), Some(20_000));
        let unlimited =
            "Max open files            unlimited            unlimited            files\n";
        assert_eq!(parse_open_files(unlimited), None);
        assert_eq!(connection_cap(7), 7);
    }

    #[test]
    fn addresses_are_counted_until_their_tickets_go() {
        let admission = Admission::new(10);
        let peer: SocketAddr = "10.0.0.1:1000".parse().unwrap();
        let other: SocketAddr = "10.0.0.2:1000".parse().unwrap();
        let a = admission.admit(peer, 2).unwrap();
        let b = admission.admit(peer, 2).unwrap();
        assert_eq!(admission.admit(peer, 2).err(), Some("per_address"));
        assert!(admission.admit(other, 2).is_ok());
        drop(a);
        assert!(admission.admit(peer, 2).is_ok());
        drop(b);
    }

    #[test]
    fn pending_connections_are_capped_until_they_authenticate() {
        let admission = Admission::new(2);
        let peer: SocketAddr = "10.0.0.1:1000".parse().unwrap();
        let a = admission.admit(peer, 0).unwrap();
        let _b = admission.admit(peer, 0).unwrap();
        assert_eq!(admission.admit(peer, 0).err(), Some("pending"));
        a.authenticated();
        let c = admission.admit(peer, 0).unwrap();
        drop(a);
        assert_eq!(
            admission.admit(peer, 0).err(),
            Some("pending"),
            "a was no longer pending"
        );
        drop(c);
        assert!(admission.admit(peer, 0).is_ok());
    }
}
