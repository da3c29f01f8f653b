//! Prometheus metrics, served at `/metrics` in the text exposition format.
//!
//! Counters are updated where things happen (sessions, hub); gauges are read
//! from the hub when scraped. Names are listed in docs/api.md.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::hub::Hub;

/// Label of `chorus_errors_total` and `chorus_disconnects_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct CodeLabel {
    /// Stable name of the error or close code.
    pub code: String,
}

/// Label of `chorus_live_gaps_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct OutcomeLabel {
    /// `filled` or `lost`.
    pub outcome: &'static str,
}

/// Label of `chorus_connections_refused_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct ReasonLabel {
    /// `header_timeout`, `pending`, `per_address` or `tls`; every series exists from the start,
    /// at 0.
    pub reason: &'static str,
}

/// Every metric of a node.
#[derive(Debug)]
pub(crate) struct Metrics {
    registry: Registry,
    /// Frames received from clients.
    pub messages_in: Counter,
    /// Frames written to clients.
    pub messages_out: Counter,
    /// Bytes received from clients.
    pub bytes_in: Counter,
    /// Bytes written to clients.
    pub bytes_out: Counter,
    /// Error replies by error code.
    pub errors: Family<CodeLabel, Counter>,
    /// Connections closed, by close code.
    pub disconnects: Family<CodeLabel, Counter>,
    /// Seconds from a publication entering this node to its write on a
    /// connection, observed once per write: for the oldest publication in it.
    pub publish_to_write: Histogram,
    /// Frames per write of a connection's queue (one flush of its buffer).
    pub frames_per_write: Histogram,
    /// Gaps in a connection's live publications filled from history before
    /// the next one was written (`filled`), or that history could not fill
    /// (`lost`: the client's own repair, or recovery, takes over).
    pub gaps: Family<OutcomeLabel, Counter>,
    /// Connections closed before their session, by why (`pending`,
    /// `per_address`, `header_timeout`).
    pub refused: Family<ReasonLabel, Counter>,
    connections: Gauge,
    users: Gauge,
    subscriptions: Gauge,
    channels: Gauge,
}

impl Metrics {
    /// Registers every metric; `hub` contributes its own counters.
    pub(crate) fn new(hub: &Hub) -> Self {
        let mut registry = Registry::with_prefix("chorus");
        let m = Metrics {
            messages_in: Counter::default(),
            messages_out: Counter::default(),
            bytes_in: Counter::default(),
            bytes_out: Counter::default(),
            errors: Family::default(),
            disconnects: Family::default(),
            publish_to_write: Histogram::new(exponential_buckets(0.000_05, 2.0, 18)),
            frames_per_write: Histogram::new(exponential_buckets(1.0, 2.0, 8)),
            gaps: Family::default(),
            refused: Family::default(),
            connections: Gauge::default(),
            users: Gauge::default(),
            subscriptions: Gauge::default(),
            channels: Gauge::default(),
            registry: Registry::default(),
        };
        registry.register(
            "messages_in",
            "Frames received from clients",
            m.messages_in.clone(),
        );
        registry.register(
            "messages_out",
            "Frames written to clients",
            m.messages_out.clone(),
        );
        registry.register(
            "bytes_in",
            "Bytes received from clients",
            m.bytes_in.clone(),
        );
        registry.register("bytes_out", "Bytes written to clients", m.bytes_out.clone());
        registry.register("errors", "Error replies by code", m.errors.clone());
        registry.register(
            "disconnects",
            "Connections closed by the server, by close code",
            m.disconnects.clone(),
        );
        registry.register(
            "publish_to_write_seconds",
            "Time from a publication entering the node to its write on a connection (the oldest of each write)",
            m.publish_to_write.clone(),
        );
        registry.register(
            "frames_per_write",
            "Frames per write of a connection's outbound queue (one flush)",
            m.frames_per_write.clone(),
        );
        registry.register(
            "live_gaps",
            "Gaps in a connection's live publications, by whether history filled them",
            m.gaps.clone(),
        );
        registry.register(
            "connections_refused",
            "Connections closed before a session: too many pending, too many from one address, headers too slow",
            m.refused.clone(),
        );
        registry.register(
            "queue_drops",
            "Items that did not fit a connection's outbound queue",
            hub.stats.queue_drops.clone(),
        );
        registry.register(
            "slow_consumer_disconnects",
            "Connections closed because their outbound queue overflowed",
            hub.stats.slow_consumer_disconnects.clone(),
        );
        registry.register(
            "inbox_evictions",
            "Inbox messages forgotten to keep the node's inbox memory within users.inbox_max_bytes",
            hub.stats.inbox_evictions.clone(),
        );
        registry.register(
            "history_evictions",
            "Channel publications forgotten to keep the node's history memory within limits.history_memory_bytes",
            hub.stats.history_evictions.clone(),
        );
        registry.register(
            "connections",
            "Open authenticated connections",
            m.connections.clone(),
        );
        registry.register("users", "Distinct connected users", m.users.clone());
        registry.register(
            "subscriptions",
            "Subscriptions (connection x channel)",
            m.subscriptions.clone(),
        );
        registry.register(
            "channels",
            "Channels with local subscribers",
            m.channels.clone(),
        );
        // Every labelled series exists from the start, at 0: alerts and
        // dashboards see the counter before the first refusal or gap.
        for reason in ["header_timeout", "pending", "per_address", "tls"] {
            let _ = m.refused.get_or_create(&ReasonLabel { reason });
        }
        for outcome in ["filled", "lost"] {
            let _ = m.gaps.get_or_create(&OutcomeLabel { outcome });
        }
        Metrics { registry, ..m }
    }

    /// Counts one write to a connection: its frames and bytes and, when it
    /// carried publications, the time since the oldest of them entered the node.
    pub(crate) fn wrote(&self, frames: u64, bytes: u64, oldest_publication_secs: Option<f64>) {
        if frames == 0 {
            return;
        }
        self.messages_out.inc_by(frames);
        self.bytes_out.inc_by(bytes);
        self.frames_per_write.observe(frames as f64);
        if let Some(secs) = oldest_publication_secs {
            self.publish_to_write.observe(secs);
        }
    }

    /// Counts an error reply.
    pub(crate) fn error(&self, code: chorus_protocol::ErrorCode) {
        self.errors
            .get_or_create(&CodeLabel {
                code: code.name().to_owned(),
            })
            .inc();
    }

    /// Counts a gap in a connection's live publications.
    pub(crate) fn gap(&self, filled: bool) {
        let outcome = if filled { "filled" } else { "lost" };
        self.gaps.get_or_create(&OutcomeLabel { outcome }).inc();
    }

    /// Counts a connection refused or closed before its session.
    pub(crate) fn refused(&self, reason: &'static str) {
        self.refused.get_or_create(&ReasonLabel { reason }).inc();
    }

    /// Counts a server-side close.
    pub(crate) fn disconnect(&self, code: chorus_protocol::CloseCode) {
        let name = code
            .info()
            .map_or_else(|| code.0.to_string(), |i| i.name.to_owned());
        self.disconnects
            .get_or_create(&CodeLabel { code: name })
            .inc();
    }

    /// The text exposition, with gauges read from `hub` now.
    pub(crate) fn render(&self, hub: &Hub) -> String {
        self.connections.set(hub.connections() as i64);
        self.users.set(hub.users() as i64);
        let channels = hub.channels();
        self.channels.set(channels.len() as i64);
        self.subscriptions
            .set(channels.iter().map(|(_, n)| *n as i64).sum());
        let mut out = String::new();
        if encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use chorus_protocol::{CloseCode, ErrorCode};

    use super::Metrics;
    use crate::hub::Hub;

    const GRAFANA_DASHBOARD_JSON: &str = include_str!("../../docs/grafana-dashboard.json");
    const OPERATIONS_MD: &str = include_str!("../../docs/operations.md");

    /// The family names (`# TYPE` lines) and sample names of everything `/metrics`
    /// exports, labelled families included.
    fn exported_metric_names() -> BTreeSet<String> {
        let hub = Hub::default();
        let metrics = Metrics::new(&hub);
        // Labelled counters appear at their first event.
        metrics.error(ErrorCode::INTERNAL);
        metrics.disconnect(CloseCode::SHUTDOWN);
        let text = metrics.render(&hub);
        let mut names = BTreeSet::new();
        for line in text.lines() {
            let name = match line.strip_prefix("# TYPE ") {
                Some(rest) => rest.split(' ').next(),
                None if line.starts_with('#') => None,
                None => line.split(['{', ' ']).next(),
            };
            names.extend(name.filter(|n| !n.is_empty()).map(str::to_owned));
        }
        names
    }

    /// Every `chorus_...` word of `text`.
    fn metric_names_in(text: &str) -> BTreeSet<String> {
        text.match_indices("chorus_")
            .filter(|(at, _)| {
                let before = text[..*at].chars().next_back();
                !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
            })
            .map(|(at, _)| {
                text[at..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect::<String>()
            })
            .filter(|name| name.len() > "chorus_".len())
            .collect()
    }

    #[test]
    fn dashboards_and_the_operations_guide_name_real_metrics() {
        if let Err(e) = serde_json::from_str::<serde_json::Value>(GRAFANA_DASHBOARD_JSON) {
            panic!("docs/grafana-dashboard.json is not JSON: {e}");
        }
        let exported = exported_metric_names();
        assert!(exported.contains("chorus_errors_total"), "{exported:?}");
        for (file, text) in [
            ("docs/grafana-dashboard.json", GRAFANA_DASHBOARD_JSON),
            ("docs/operations.md", OPERATIONS_MD),
        ] {
            let named = metric_names_in(text);
            assert!(!named.is_empty(), "{file} names no metric");
            let unknown: Vec<&String> = named.difference(&exported).collect();
            assert!(
                unknown.is_empty(),
                "{file} names metrics that /metrics does not export: {unknown:?}"
            );
        }
    }
}
