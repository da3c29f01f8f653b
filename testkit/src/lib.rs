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

mod binary;
mod certs;
mod cluster;
mod monitor;
mod server;
mod unique;

pub use binary::nats_server_bin;
pub use certs::write_certificates;
pub use cluster::NatsCluster;
pub use server::{NatsOptions, NatsServer};
