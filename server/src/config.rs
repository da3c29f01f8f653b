//! Server configuration: one TOML file, `CHORUS_*` environment overrides and CLI
//! flags, merged in that order (later wins) and validated once at startup.
//!
//! Every option and its default is documented in docs/configuration.md.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;

use serde::Deserialize;
use thiserror::Error;

use crate::auth::AuthConfig;
use crate::history::HistoryOptions;

/// A configuration problem, naming the option at fault.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("config file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The TOML (file or environment overrides) does not parse, or names an
    /// unknown or mistyped option.
    #[error("{0}")]
    Parse(String),
    /// Invalid key material or token checks in `[auth]`.
    #[error(transparent)]
    Auth(#[from] crate::auth::AuthConfigError),
    /// An option has an invalid value.
    #[error("{option}: {message}")]
    Invalid {
        /// The dotted option name, e.g. `limits.outbound_queue`.
        option: String,
        /// What is wrong with it.
        message: String,
    },
}

/// Prefix of environment overrides.
pub const ENV_PREFIX: &str = "CHORUS_";

/// Top-level options that `CHORUS_*` variables may set; other `CHORUS_*`
/// variables (such as `CHORUS_CONFIG`, `CHORUS_LOG`, or a client's
/// `CHORUS_TOKEN`) are not configuration and are left alone.
const ENV_ROOTS: &[&str] = &[
    "listen",
    "ws_path",
    "api_key",
    "admin",
    "nats",
    "cluster",
    "users",
    "dev",
    "allowed_origins",
    "log",
    "auth",
    "limits",
    "default_namespace",
    "namespaces",
    "tls",
];

/// Options whose environment value may be a comma-separated list.
const ENV_LISTS: &[&str] = &["nats", "allowed_origins"];

fn set_path(table: &mut toml::Table, path: &[String], value: toml::Value) -> Result<(), String> {
    match path {
        [] => Err("empty option name".to_owned()),
        [last] => {
            table.insert(last.clone(), value);
            Ok(())
        }
        [first, rest @ ..] => {
            let entry = table
                .entry(first.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            match entry {
                toml::Value::Table(t) => set_path(t, rest, value),
                _ => Err(format!("{first} is not a table")),
            }
        }
    }
}

fn invalid(option: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        option: option.to_owned(),
        message: message.into(),
    }
}

/// The whole configuration.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address for HTTP and WebSocket.
    pub listen: SocketAddr,
    /// Path of the WebSocket endpoint.
    pub ws_path: String,
    /// Key for the server API (`Authorization: apikey <key>`); the API is off without it.
    pub api_key: Option<String>,
    /// The admin dashboard at `/admin` (needs `api_key`); unset: on in the
    /// development profile only. See [`crate::admin`].
    pub admin: Option<bool>,
    /// NATS URLs; empty means the in-memory broker (single node).
    pub nats: Vec<String>,
    /// Cluster options (used with `nats`).
    pub cluster: ClusterConfig,
    /// Per-user features: the offline inbox and online status.
    pub users: UsersConfig,
    /// Development profile: a `demo` namespace open to anonymous users.
    pub dev: bool,
    /// Origins allowed to open WebSockets (`*` for any). Empty: same origin only,
    /// plus clients that send no Origin (non-browsers).
    pub allowed_origins: Vec<String>,
    /// Logging.
    pub log: LogConfig,
    /// Token verification.
    pub auth: AuthConfig,
    /// Limits.
    pub limits: Limits,
    /// Options of channels without a namespace (`lobby`).
    pub default_namespace: NamespaceConfig,
    /// TLS served by the node itself (`wss://`, `https://`); off by default.
    pub tls: crate::tls::TlsConfig,
    /// Options per namespace (`chat:lobby` uses `namespaces.chat`).
    pub namespaces: BTreeMap<String, NamespaceConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8000)),
            ws_path: "/ws".to_owned(),
            api_key: None,
            admin: None,
            nats: Vec::new(),
            cluster: ClusterConfig::default(),
            users: UsersConfig::default(),
            dev: false,
            allowed_origins: Vec::new(),
            log: LogConfig::default(),
            auth: AuthConfig::default(),
            limits: Limits::default(),
            default_namespace: NamespaceConfig::default(),
            tls: crate::tls::TlsConfig::default(),
            namespaces: BTreeMap::new(),
        }
    }
}

/// Cluster mode: how the nodes of one system share NATS and JetStream.
/// Every node of a cluster must use the same values (and the same namespaces).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterConfig {
    /// Prefix of every subject, stream and bucket name, so several systems can
    /// share one NATS cluster (A-Z a-z 0-9 _ -).
    pub prefix: String,
    /// JetStream replicas of the history stream and the buckets (1, 3 or 5;
    /// at most the number of NATS servers).
    pub replicas: usize,
    /// `file` or `memory` storage for the history stream and the buckets.
    pub storage: ClusterStorage,
    /// Bytes the history stream may hold in all (oldest publications go first).
    pub history_max_bytes: i64,
    /// A node that has not refreshed its registry entry for this long is dead:
    /// it leaves `/api/nodes`, and its members leave presence (with leave events).
    pub node_ttl_ms: u64,
    /// How long to wait for one JetStream reply (a publish ack, a read).
    pub request_timeout_ms: u64,
    /// How long a publish to a history channel keeps trying, through offset
    /// conflicts with other nodes, stream leader elections and NATS
    /// reconnects, before the client gets error 100. Below the SDKs' request
    /// timeout (10 s), so the client hears the answer.
    pub publish_timeout_ms: u64,
    /// PEM file of the CA that signed the NATS servers' certificates, for
    /// `tls://` URLs (unset: the platform's roots).
    pub nats_ca_file: Option<std::path::PathBuf>,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            prefix: "chorus".to_owned(),
            replicas: 1,
            storage: ClusterStorage::File,
            history_max_bytes: 1 << 30,
            node_ttl_ms: 15_000,
            request_timeout_ms: 5_000,
            publish_timeout_ms: 8_000,
            nats_ca_file: None,
        }
    }
}

/// The offline inbox and online status of users.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct UsersConfig {
    /// Messages kept per user inbox (0: no inbox; `send` only reaches
    /// connections that are online).
    pub inbox_size: usize,
    /// How long an inbox message is kept.
    pub inbox_ttl_ms: u64,
    /// Namespace whose channel `<namespace>:<user>` carries that user's online
    /// and offline events (unset: no events; status is still queryable through
    /// the server API).
    pub status_namespace: Option<String>,
    /// Whether a client's `send` to a user who never connected (not online,
    /// no last-seen time) is kept in that user's inbox. Off: it reaches
    /// nobody, so clients cannot make a node keep messages for invented user
    /// ids. The server API always may.
    pub client_inbox_for_unseen: bool,
    /// Bytes of inbox messages one node keeps in memory in all (memory
    /// broker; the oldest go first beyond it). In cluster mode inboxes live
    /// in the history stream, bounded by `cluster.history_max_bytes`.
    pub inbox_max_bytes: usize,
}

impl Default for UsersConfig {
    fn default() -> Self {
        UsersConfig {
            inbox_size: 100,
            inbox_ttl_ms: 86_400_000,
            status_namespace: None,
            client_inbox_for_unseen: false,
            inbox_max_bytes: 64 << 20,
        }
    }
}

/// Where JetStream keeps cluster state.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ClusterStorage {
    /// On disk: survives NATS server restarts.
    File,
    /// In memory: faster, lost when the NATS servers restart.
    Memory,
}

/// Log output.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// `text` or `json`.
    pub format: LogFormat,
    /// A `tracing` filter such as `info` or `chorus_server=debug`.
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: LogFormat::Text,
            level: "info".to_owned(),
        }
    }
}

/// Log line format.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

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
        }
    }
}

/// Who may publish in a namespace.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum PublishPolicy {
    /// Only the server API (and clients with a publish grant).
    Nobody,
    /// Connections subscribed to the channel.
    Subscribers,
    /// Any connection allowed in the namespace.
    Any,
}

/// Who may subscribe in a namespace.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SubscribePolicy {
    /// Only connections whose token grants the channel.
    Grants,
    /// Any connection allowed in the namespace.
    Any,
}

/// Options of one namespace.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct NamespaceConfig {
    /// Publications kept per channel for history and recovery (0: none).
    pub history_size: usize,
    /// How long a publication stays in history.
    pub history_ttl_ms: u64,
    /// Whether presence and presence stats are available.
    pub presence: bool,
    /// Whether join and leave pushes are sent to subscribers.
    pub join_leave: bool,
    /// Whether connections without a token may subscribe (and publish, by policy).
    pub anonymous: bool,
    /// Who may subscribe.
    pub subscribe: SubscribePolicy,
    /// Who may publish.
    pub publish: PublishPolicy,
    /// Subscribers a channel may have across the cluster (error 112; 0: no limit).
    pub max_members: usize,
}

impl Default for NamespaceConfig {
    fn default() -> Self {
        NamespaceConfig {
            history_size: 0,
            history_ttl_ms: 300_000,
            presence: false,
            join_leave: false,
            anonymous: false,
            subscribe: SubscribePolicy::Any,
            publish: PublishPolicy::Subscribers,
            max_members: 0,
        }
    }
}

impl NamespaceConfig {
    /// The namespace the development profile adds: open to anonymous users, with
    /// history, presence and join/leave so the demo shows everything.
    pub fn demo() -> Self {
        NamespaceConfig {
            history_size: 100,
            history_ttl_ms: 600_000,
            presence: true,
            join_leave: true,
            anonymous: true,
            subscribe: SubscribePolicy::Any,
            publish: PublishPolicy::Subscribers,
            max_members: 0,
        }
    }

    /// Whether channels keep history (and so support recovery).
    pub fn has_history(&self) -> bool {
        self.history_size > 0 && self.history_ttl_ms > 0
    }

    /// History bounds of the namespace's channels, if they keep history.
    pub fn history(&self) -> Option<HistoryOptions> {
        self.has_history().then(|| HistoryOptions {
            size: self.history_size,
            ttl: std::time::Duration::from_millis(self.history_ttl_ms),
        })
    }
}

impl Config {
    /// Reads a TOML file.
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Config::from_toml(&text)
    }

    /// Parses TOML text.
    pub fn from_toml(text: &str) -> Result<Config, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Parse(e.to_string()))
    }

    /// Reads the optional file, then applies `CHORUS_*` environment overrides.
    ///
    /// An override names an option path in upper case with `__` between table
    /// levels: `CHORUS_LISTEN`, `CHORUS_LIMITS__OUTBOUND_QUEUE`,
    /// `CHORUS_NAMESPACES__CHAT__PRESENCE`. Values are TOML scalars or arrays
    /// (`true`, `42`, `["a","b"]`); anything else is taken as a string. Variables
    /// that name no option fail like an unknown option in the file.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let text = match file {
            Some(path) => std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.display().to_string(),
                source,
            })?,
            None => String::new(),
        };
        let mut table: toml::Table =
            toml::from_str(&text).map_err(|e| ConfigError::Parse(e.to_string()))?;
        for (key, value) in env {
            let Some(path) = key.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            if path == "LOG" || path == "CONFIG" {
                continue; // read by the command line: a log filter and the file name
            }
            let parts: Vec<String> = path.split("__").map(|p| p.to_ascii_lowercase()).collect();
            if !ENV_ROOTS.contains(&parts[0].as_str()) {
                continue;
            }
            let parsed = toml::from_str::<toml::Table>(&format!("v = {value}"))
                .ok()
                .and_then(|mut t| t.remove("v"))
                .unwrap_or_else(|| {
                    if parts.len() == 1 && ENV_LISTS.contains(&parts[0].as_str()) {
                        let items = value
                            .split(',')
                            .map(|v| toml::Value::String(v.trim().to_owned()));
                        toml::Value::Array(items.collect())
                    } else {
                        toml::Value::String(value)
                    }
                });
            set_path(&mut table, &parts, parsed).map_err(|m| invalid(&key, m))?;
        }
        table
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Parse(e.to_string()))
    }

    /// Applies the development profile (adds the `demo` namespace unless defined).
    pub fn apply_dev_profile(&mut self) {
        self.dev = true;
        self.namespaces
            .entry("demo".to_owned())
            .or_insert_with(NamespaceConfig::demo);
    }

    /// The options for a namespace name (`""` is the default namespace).
    pub fn namespace(&self, name: &str) -> Option<&NamespaceConfig> {
        if name.is_empty() {
            Some(&self.default_namespace)
        } else {
            self.namespaces.get(name)
        }
    }

    /// The options of a channel's namespace, if the name is valid and its
    /// namespace is configured.
    pub fn namespace_of(&self, channel: &str) -> Option<&NamespaceConfig> {
        let parsed = chorus_protocol::Channel::parse(channel).ok()?;
        self.namespace(parsed.namespace())
    }

    /// History bounds of a stream: a channel's (from its namespace) or a
    /// user's inbox, if it keeps history.
    pub fn history_of(&self, key: &str) -> Option<HistoryOptions> {
        if crate::inbox::user_of(key).is_some() {
            return crate::inbox::options(self);
        }
        self.namespace_of(key).and_then(NamespaceConfig::history)
    }

    /// Whether any namespace admits connections without a token.
    pub fn allows_anonymous(&self) -> bool {
        self.default_namespace.anonymous || self.namespaces.values().any(|n| n.anonymous)
    }

    /// Checks every option; the error names the first bad one.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !self.ws_path.starts_with('/') {
            return Err(invalid("ws_path", "must start with `/`"));
        }
        if self.api_key.as_deref().is_some_and(|k| k.len() < 16) {
            return Err(invalid("api_key", "must be at least 16 characters"));
        }
        if self.admin == Some(true) && self.api_key.is_none() {
            return Err(invalid(
                "admin",
                "needs api_key: the dashboard signs in with the API key",
            ));
        }
        for url in &self.nats {
            if !url.starts_with("nats://") && !url.starts_with("tls://") {
                return Err(invalid(
                    "nats",
                    format!("{url:?} is not a nats:// or tls:// URL"),
                ));
            }
        }
        let c = &self.cluster;
        let prefix_ok = !c.prefix.is_empty()
            && c.prefix.len() <= 32
            && c.prefix
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !prefix_ok {
            return Err(invalid("cluster.prefix", "is 1 to 32 of A-Z a-z 0-9 _ -"));
        }
        if !(1..=5).contains(&c.replicas) {
            return Err(invalid("cluster.replicas", "must be 1 to 5"));
        }
        if c.node_ttl_ms < 1_000 {
            return Err(invalid("cluster.node_ttl_ms", "must be at least 1000"));
        }
        if c.publish_timeout_ms == 0 {
            return Err(invalid(
                "cluster.publish_timeout_ms",
                "must be greater than 0",
            ));
        }
        if c.request_timeout_ms == 0 {
            return Err(invalid(
                "cluster.request_timeout_ms",
                "must be greater than 0",
            ));
        }
        if c.history_max_bytes == 0 || c.history_max_bytes < -1 {
            return Err(invalid(
                "cluster.history_max_bytes",
                "must be positive (or -1: no limit)",
            ));
        }
        let u = &self.users;
        if u.inbox_size > 100_000 {
            return Err(invalid("users.inbox_size", "must be at most 100000"));
        }
        if u.inbox_size > 0 && u.inbox_ttl_ms == 0 {
            return Err(invalid("users.inbox_ttl_ms", "must be greater than 0"));
        }
        if let Some(ns) = &u.status_namespace {
            if !self.namespaces.contains_key(ns) {
                return Err(invalid(
                    "users.status_namespace",
                    format!("namespace {ns:?} is not configured"),
                ));
            }
        }
        let l = &self.limits;
        let positive = [
            ("limits.max_message_size", l.max_message_size as u64),
            ("limits.outbound_queue", l.outbound_queue as u64),
            ("limits.handshake_timeout_ms", l.handshake_timeout_ms),
            ("limits.pong_timeout_ms", l.pong_timeout_ms),
            ("limits.rate_per_second", u64::from(l.rate_per_second)),
            ("limits.rate_burst", u64::from(l.rate_burst)),
            (
                "limits.max_channels_per_connection",
                l.max_channels_per_connection as u64,
            ),
            ("limits.shutdown_timeout_ms", l.shutdown_timeout_ms),
            ("limits.header_timeout_ms", l.header_timeout_ms),
            (
                "limits.max_pending_connections",
                l.max_pending_connections as u64,
            ),
        ];
        for (option, value) in positive {
            if value == 0 {
                return Err(invalid(option, "must be greater than 0"));
            }
        }
        if l.ping_interval_ms > u64::from(u32::MAX) {
            return Err(invalid("limits.ping_interval_ms", "is too large"));
        }
        for (name, ns) in &self.namespaces {
            let ok = !name.is_empty()
                && name.len() <= chorus_protocol::channel::MAX_NAMESPACE_LEN
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            if !ok {
                return Err(invalid(
                    &format!("namespaces.{name}"),
                    "a namespace name is 1 to 64 of A-Z a-z 0-9 _ -",
                ));
            }
            if ns.history_size > 100_000 {
                return Err(invalid(
                    &format!("namespaces.{name}.history_size"),
                    "must be at most 100000",
                ));
            }
        }
        if self.default_namespace.history_size > 100_000 {
            return Err(invalid(
                "default_namespace.history_size",
                "must be at most 100000",
            ));
        }
        crate::auth::Verifier::new(&self.auth)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate() {
        Config::default().validate().unwrap();
        assert!(!Config::default().allows_anonymous(), "secure by default");
    }

    #[test]
    fn parses_namespaces_and_limits() {
        let c = Config::from_toml(
            r#"
            listen = "0.0.0.0:9000"
            [limits]
            outbound_queue = 10
            [namespaces.chat]
            history_size = 50
            presence = true
            publish = "any"
            "#,
        )
        .unwrap();
        c.validate().unwrap();
        assert_eq!(c.limits.outbound_queue, 10);
        let chat = c.namespace("chat").unwrap();
        assert_eq!(chat.history_size, 50);
        assert_eq!(chat.publish, PublishPolicy::Any);
        assert!(c.namespace("nope").is_none());
    }

    #[test]
    fn errors_name_the_option() {
        let e = Config::from_toml("[limits]\noutbound_queue = 0")
            .unwrap()
            .validate()
            .unwrap_err();
        assert!(e.to_string().starts_with("limits.outbound_queue:"), "{e}");
        let e = Config::from_toml("[limits]\nbogus = 1").unwrap_err();
        assert!(e.to_string().contains("bogus"), "{e}");
        let e = Config::from_toml("[namespaces.\"a.b\"]")
            .unwrap()
            .validate()
            .unwrap_err();
        assert!(e.to_string().starts_with("namespaces.a.b:"), "{e}");
    }

    #[test]
    fn environment_overrides_nested_options() {
        let env = [
            ("CHORUS_LISTEN".to_owned(), "0.0.0.0:7000".to_owned()),
            ("CHORUS_LIMITS__OUTBOUND_QUEUE".to_owned(), "7".to_owned()),
            ("CHORUS_TLS__CERT_FILE".to_owned(), "/etc/c.pem".to_owned()),
            (
                "CHORUS_NAMESPACES__CHAT__PRESENCE".to_owned(),
                "true".to_owned(),
            ),
            (
                "CHORUS_API_KEY".to_owned(),
                "a-key-of-enough-length".to_owned(),
            ),
            ("CHORUS_CONFIG".to_owned(), "ignored.toml".to_owned()),
            ("CHORUS_TOKEN".to_owned(), "a client's variable".to_owned()),
            (
                "CHORUS_NATS".to_owned(),
                "nats://a:4222,nats://b:4222".to_owned(),
            ),
            ("OTHER".to_owned(), "x".to_owned()),
        ];
        let c = Config::load(None, env).unwrap();
        assert_eq!(c.listen.port(), 7000);
        assert_eq!(c.limits.outbound_queue, 7);
        assert!(c.namespace("chat").unwrap().presence);
        assert_eq!(c.api_key.as_deref(), Some("a-key-of-enough-length"));
        assert_eq!(c.nats, ["nats://a:4222", "nats://b:4222"]);
        assert_eq!(
            c.tls.cert_file.as_deref(),
            Some(std::path::Path::new("/etc/c.pem"))
        );
        let bad = Config::load(None, [("CHORUS_LIMITS__NOPE".to_owned(), "1".to_owned())]);
        assert!(bad.unwrap_err().to_string().contains("nope"));
    }

    #[test]
    fn dev_profile_opens_only_the_demo_namespace() {
        let mut c = Config::default();
        c.apply_dev_profile();
        assert!(c.allows_anonymous());
        assert!(c.namespace("demo").unwrap().anonymous);
        assert!(!c.default_namespace.anonymous);
    }
}
