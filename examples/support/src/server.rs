//! Where the Chorus server is, and the keys an app backend needs.
//!
//! The address comes from `--server` (or `CHORUS_SERVER`, default
//! `http://127.0.0.1:8000`, where the README runs it). The keys come from
//! `CHORUS_API_KEY` and `CHORUS_AUTH__HMAC_SECRET` (the variables that also
//! configure the server), or else from the credentials file of a development
//! node on that port (`chorus_server::dev`), so that against `chorus --dev`
//! nothing needs to be copied.

use chorus_server::dev::{CredentialsFile, credentials_dir};

/// The command-line options every example app has.
#[derive(Debug, Clone, clap::Args)]
pub struct ServerArgs {
    /// The Chorus server's HTTP address.
    #[arg(long, env = "CHORUS_SERVER", default_value = "http://127.0.0.1:8000")]
    pub server: String,
    /// Its API key (default: from a development node's credentials file).
    #[arg(long, env = "CHORUS_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// Its HS256 token secret (default: from a development node's credentials file).
    #[arg(long, env = "CHORUS_AUTH__HMAC_SECRET", hide_env_values = true)]
    pub hmac_secret: Option<String>,
}

/// Why the server's keys are not known.
#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    /// `--server` is not an `http://host:port` address.
    #[error("--server {0:?}: expected http://host:port")]
    BadAddress(String),
    /// A key is missing and no development node's file has it.
    #[error(
        "the server's {what} is not known: start the server with `cargo run --release -p chorus-server -- --dev` \
         (which writes it for local apps{file}), or pass {flag}"
    )]
    Missing {
        /// Which key.
        what: &'static str,
        /// The flag that gives it.
        flag: &'static str,
        /// Why the credentials file did not help.
        file: String,
    },
}

/// The server as an app backend sees it.
#[derive(Clone)]
pub struct ServerInfo {
    /// HTTP base address, without a trailing slash.
    pub http: String,
    /// The WebSocket endpoint for clients.
    pub ws: String,
    /// The API key, for backends that call the server API.
    pub api_key: String,
    /// The token secret, for signing users in.
    pub hmac_secret: String,
}

impl std::fmt::Debug for ServerInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerInfo")
            .field("http", &self.http)
            .field("ws", &self.ws)
            .finish_non_exhaustive()
    }
}

impl ServerArgs {
    /// The server's address and keys: the flags first, then the credentials
    /// file of a development node on the address's port.
    pub fn discover(&self) -> Result<ServerInfo, DiscoveryError> {
        let http = self.server.trim_end_matches('/').to_owned();
        let authority = http
            .strip_prefix("http://")
            .filter(|a| !a.is_empty() && !a.contains('/'))
            .ok_or_else(|| DiscoveryError::BadAddress(self.server.clone()))?;
        let port = match authority.rsplit_once(':') {
            Some((_, port)) => port
                .parse::<u16>()
                .map_err(|_| DiscoveryError::BadAddress(self.server.clone()))?,
            None => 80,
        };
        let file = CredentialsFile::read(&credentials_dir(), port);
        let why = |e: &std::io::Error| format!("; none found for port {port}: {e}");
        let pick = |given: &Option<String>,
                    filed: Option<&String>,
                    what: &'static str,
                    flag: &'static str| {
            given
                .clone()
                .or_else(|| filed.cloned())
                .ok_or_else(|| DiscoveryError::Missing {
                    what,
                    flag,
                    file: match &file {
                        Ok(_) => format!("; the file for port {port} has none"),
                        Err(e) => why(e),
                    },
                })
        };
        let filed = file.as_ref().ok();
        let api_key = pick(
            &self.api_key,
            filed.and_then(|f| f.api_key.as_ref()),
            "API key",
            "--api-key",
        )?;
        let hmac_secret = pick(
            &self.hmac_secret,
            filed.and_then(|f| f.hmac_secret.as_ref()),
            "token secret",
            "--hmac-secret",
        )?;
        Ok(ServerInfo {
            ws: format!("ws://{authority}/ws"),
            http,
            api_key,
            hmac_secret,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(server: &str) -> ServerArgs {
        ServerArgs {
            server: server.into(),
            api_key: Some("key".into()),
            hmac_secret: Some("secret".into()),
        }
    }

    #[test]
    fn flags_give_everything() {
        let info = args("http://127.0.0.1:8000/").discover().unwrap();
        assert_eq!(info.http, "http://127.0.0.1:8000");
        assert_eq!(info.ws, "ws://127.0.0.1:8000/ws");
        assert_eq!(
            (info.api_key.as_str(), info.hmac_secret.as_str()),
            ("key", "secret")
        );
    }

    #[test]
    fn bad_addresses_and_missing_keys_are_explained() {
        for bad in ["127.0.0.1:8000", "http://", "http://h:x", "http://h:1/path"] {
            assert!(
                matches!(args(bad).discover(), Err(DiscoveryError::BadAddress(_))),
                "{bad}"
            );
        }
        let mut no_key = args("http://127.0.0.1:9");
        no_key.api_key = None;
        let e = no_key.discover().unwrap_err().to_string();
        assert!(e.contains("API key") && e.contains("--api-key"), "{e}");
    }
}
