//! The `[limits]` options: every bound a client or the network can push
//! against, each enforced with a documented error or close code.

use serde::Deserialize;

use super::{ConfigError, invalid};

/// Limits, each enforced with a documented error or close code.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Largest WebSocket message accepted, in bytes (close 4503 beyond).
    pub max_message_size: usize,
    /// Frames queued for one connection before it counts as a slow consumer (close 4001).
    pub outbound_queue: usize,
    /// Time allowed between the upgrade and a successful `connect` (close 4003).
    pub handshake_timeout_ms: u64,
    /// Interval between server pings (0: no pings, and no pong deadline).
    pub ping_interval_ms: u64,
    /// Time allowed for the pong after a ping (close 4002).
    pub pong_timeout_ms: u64,
    /// Commands per second a connection may send on average (error 110).
    pub rate_per_second: u32,
    /// Commands a connection may send in a burst above the average.
    pub rate_burst: u32,
    /// Channels one connection may subscribe to (error 106).
    pub max_channels_per_connection: usize,
    /// Connections one user may hold on this node (close 4504; 0: no limit).
    pub max_connections_per_user: usize,
    /// Authenticated connections this node accepts (close 4006; 0: what the
    /// open-files limit leaves after a reserve of 256).
    pub max_connections: usize,
    /// Time for a connection's request headers to arrive in full, also the
    /// most a keep-alive HTTP connection may idle between requests.
    pub header_timeout_ms: u64,
    /// Connections not yet upgraded and authenticated; beyond, new ones are
    /// closed at once.
    pub max_pending_connections: usize,
    /// Connections from one IP address (0: no limit; behind a load
    /// balancer every connection comes from its address).
    pub max_connections_per_ip: usize,
    /// How long an idempotency key is remembered.
    pub idempotency_window_ms: u64,
    /// Bytes of channel history one node keeps in memory in all (memory
    /// broker; the oldest publications of all channels go first beyond it).
    pub history_memory_bytes: usize,
    /// How long graceful shutdown may take before connections are dropped.
    pub shutdown_timeout_ms: u64,
    /// How long a connection waits, once something is queued for it, before
    /// writing what has queued by then (0: at once). Under load more frames
    /// share one write, which saves CPU at the cost of this much latency
    /// (docs/benchmarks.md); at most 1,000.
    pub write_delay_ms: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_size: 65_536,
            outbound_queue: 1_024,
            handshake_timeout_ms: 10_000,
            ping_interval_ms: 25_000,
            pong_timeout_ms: 10_000,
            rate_per_second: 100,
            rate_burst: 200,
            max_channels_per_connection: 128,
            max_connections_per_user: 64,
            max_connections: 0,
            header_timeout_ms: 10_000,
            max_pending_connections: 4_096,
            max_connections_per_ip: 0,
            idempotency_window_ms: 120_000,
            history_memory_bytes: 256 << 20,
            shutdown_timeout_ms: 10_000,
            write_delay_ms: 0,
        }
    }
}

impl Limits {
    /// Checks the limits; the error names the first bad one.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let positive = [
            ("limits.max_message_size", self.max_message_size as u64),
            ("limits.outbound_queue", self.outbound_queue as u64),
            ("limits.handshake_timeout_ms", self.handshake_timeout_ms),
            ("limits.pong_timeout_ms", self.pong_timeout_ms),
            ("limits.rate_per_second", u64::from(self.rate_per_second)),
            ("limits.rate_burst", u64::from(self.rate_burst)),
            (
                "limits.max_channels_per_connection",
                self.max_channels_per_connection as u64,
            ),
            ("limits.shutdown_timeout_ms", self.shutdown_timeout_ms),
            ("limits.header_timeout_ms", self.header_timeout_ms),
            (
                "limits.max_pending_connections",
                self.max_pending_connections as u64,
            ),
        ];
        for (option, value) in positive {
            if value == 0 {
                return Err(invalid(option, "must be greater than 0"));
            }
        }
        if self.write_delay_ms > 1_000 {
            return Err(invalid("limits.write_delay_ms", "must be at most 1000"));
        }
        if self.ping_interval_ms > u64::from(u32::MAX) {
            return Err(invalid("limits.ping_interval_ms", "is too large"));
        }
        Ok(())
    }
}
