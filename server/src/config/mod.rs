//! Server configuration: one TOML file, `CHORUS_*` environment overrides and CLI
//! flags, merged in that order (later wins) and validated once at startup.
//!
//! Every option and its default is documented in docs/configuration.md.
//! [`Config`] and its loading live here; each table of options has its own
//! module with its defaults and checks: `limits`, `namespace`, `cluster`,
//! `users`, `log`, and `env` for the `CHORUS_*` overrides.

mod cluster;
mod env;
mod limits;
mod log;
mod namespace;
mod users;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;

use serde::Deserialize;
use thiserror::Error;

pub use cluster::{ClusterConfig, ClusterStorage};
pub use env::ENV_PREFIX;
pub use limits::Limits;
pub use log::{LogConfig, LogFormat};
pub use namespace::{NamespaceConfig, PublishPolicy, SubscribePolicy};
pub use users::UsersConfig;

use crate::auth::AuthConfig;
use crate::history::HistoryOptions;

/// A configuration problem, naming the option at fault.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("config file {path}: {source}")]
    Read {
        /// The path as it was named (`--config`, `CHORUS_CONFIG`, or by the embedder).
        path: String,
        /// The I/O error: not found, permission denied...
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

/// The error for an option with an invalid value, shared by every table's checks.
fn invalid(option: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        option: option.to_owned(),
        message: message.into(),
    }
}

/// The whole configuration, each option defaulting as docs/configuration.md lists. Parsing
/// checks names and types; [`Config::validate`] checks the values.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address of the one port serving the WebSocket endpoint, the server API, health and
    /// metrics; default `127.0.0.1:8000`, local connections only.
    pub listen: SocketAddr,
    /// Path of the WebSocket endpoint, default `/ws`; must start with `/`.
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
    /// Log format and filter (`[log]`), applied by the `chorus` binary at startup only.
    pub log: LogConfig,
    /// Token verification (`[auth]`): the keys for HS256, RS256 and ES256, and the `aud`, `iss`
    /// and leeway checks.
    pub auth: AuthConfig,
    /// Sizes, rates, timeouts and connection caps (`[limits]`), each reported to clients with a
    /// documented error or close code.
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

impl Config {
    /// Reads a TOML file like [`Config::from_toml`]: no environment overrides (see
    /// [`Config::load`]), no validation.
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Config::from_toml(&text)
    }

    /// Parses TOML text; an unknown option or a wrong type fails here, an invalid value only in
    /// [`Config::validate`].
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
        env::apply(&mut table, env)?;
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
    pub(crate) fn history_of(&self, key: &crate::stream_key::StreamKey) -> Option<HistoryOptions> {
        use crate::stream_key::StreamKey;
        match key {
            StreamKey::Channel(channel) => self
                .namespace_of(channel)
                .and_then(NamespaceConfig::history),
            StreamKey::Inbox(_) => crate::inbox::options(self),
            StreamKey::Status(_) => None,
        }
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
        self.cluster.validate()?;
        self.users.validate(&self.namespaces)?;
        self.limits.validate()?;
        for (name, ns) in &self.namespaces {
            namespace::validate_name(name)?;
            ns.validate(&format!("namespaces.{name}"))?;
        }
        self.default_namespace.validate("default_namespace")?;
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
        for (delay, ok) in [(0, true), (1_000, true), (1_001, false)] {
            let c = Config::from_toml(&format!("[limits]\nwrite_delay_ms = {delay}")).unwrap();
            assert_eq!(c.validate().is_ok(), ok, "write_delay_ms = {delay}");
        }
        let e = Config::from_toml("[limits]\nbogus = 1").unwrap_err();
        assert!(e.to_string().contains("bogus"), "{e}");
        let e = Config::from_toml("[namespaces.\"a.b\"]")
            .unwrap()
            .validate()
            .unwrap_err();
        assert!(e.to_string().starts_with("namespaces.a.b:"), "{e}");
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
