//! The development profile's credentials for one run of the `chorus` binary.
//!
//! A development node (`chorus --dev`) that has no API key or token key of its
//! own gets random ones for the run, so that its admin dashboard, its server
//! API and token-bearing users all work without any setup. App backends on the
//! same machine (the example apps in `examples/`) find them in a
//! **credentials file** that the node writes for its port and removes when it
//! stops: readable by the same OS user only, like any other local secret.
//! Configured keys are never written there, and never logged.
//!
//! The file is `chorus-dev-<port>.json` in the temporary directory
//! (`$TMPDIR`, else `/tmp`):
//!
//! ```json
//! {"http": "http://127.0.0.1:8000", "ws": "ws://127.0.0.1:8000/ws",
//!  "api_key": "dev-…", "hmac_secret": "dev-…"}
//! ```
//!
//! See docs/configuration.md ("The development profile").

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::Config;

/// Keys a development node without its own gets for the run. Generate them
/// once per process, so that a configuration reload keeps them.
#[derive(Clone, PartialEq, Eq)]
pub struct DevCredentials {
    /// The API key (`dev-` and 32 hex digits).
    pub api_key: String,
    /// The HS256 token secret (`dev-` and 64 hex digits).
    pub hmac_secret: String,
}

impl std::fmt::Debug for DevCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DevCredentials { .. }")
    }
}

impl DevCredentials {
    /// Fresh random keys.
    pub fn generate() -> DevCredentials {
        DevCredentials {
            api_key: format!("dev-{}", crate::ids::random_hex(16)),
            hmac_secret: format!("dev-{}", crate::ids::random_hex(32)),
        }
    }

    /// Gives a development-profile configuration the keys it lacks: the API key
    /// when none is configured (unless the dashboard is switched off with
    /// `admin = false`, which keeps the API off too), and the token secret when
    /// no token key of any kind is configured. Other configurations are left
    /// alone.
    pub fn apply(&self, config: &mut Config) {
        if !config.dev {
            return;
        }
        if config.api_key.is_none() && config.admin != Some(false) {
            config.api_key = Some(self.api_key.clone());
        }
        let auth = &mut config.auth;
        if auth.hmac_secret.is_none()
            && auth.rsa_public_key.is_none()
            && auth.ecdsa_public_key.is_none()
        {
            auth.hmac_secret = Some(self.hmac_secret.clone());
        }
    }

    /// What the credentials file of a node listening on `addr` with `config`
    /// holds: the addresses, and those of these keys that `config` uses.
    /// `None` when the node is not a development node.
    pub fn file_contents(&self, config: &Config, addr: SocketAddr) -> Option<CredentialsFile> {
        if !config.dev {
            return None;
        }
        let host = match addr.ip() {
            ip if ip.is_unspecified() => SocketAddr::new(IpAddr::from([127, 0, 0, 1]), addr.port()),
            _ => addr,
        };
        let ours = |used: &Option<String>, generated: &String| {
            (used.as_ref() == Some(generated)).then(|| generated.clone())
        };
        Some(CredentialsFile {
            http: format!("http://{host}"),
            ws: format!("ws://{host}{}", config.ws_path),
            api_key: ours(&config.api_key, &self.api_key),
            hmac_secret: ours(&config.auth.hmac_secret, &self.hmac_secret),
        })
    }
}

/// The credentials file's contents.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialsFile {
    /// Base URL of HTTP (server API, health, pages).
    pub http: String,
    /// The WebSocket endpoint.
    pub ws: String,
    /// The generated API key, when the node uses it.
    pub api_key: Option<String>,
    /// The generated token secret, when the node uses it.
    pub hmac_secret: Option<String>,
}

impl std::fmt::Debug for CredentialsFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialsFile")
            .field("http", &self.http)
            .field("ws", &self.ws)
            .finish_non_exhaustive()
    }
}

/// The directory of credentials files: the temporary directory.
pub fn credentials_dir() -> PathBuf {
    std::env::temp_dir()
}

/// Where the credentials file of the development node on `port` is in `dir`.
pub fn credentials_path(dir: &Path, port: u16) -> PathBuf {
    dir.join(format!("chorus-dev-{port}.json"))
}

impl CredentialsFile {
    /// Reads the file of the development node on `port` from `dir`
    /// (normally [`credentials_dir`]).
    pub fn read(dir: &Path, port: u16) -> std::io::Result<CredentialsFile> {
        let text = std::fs::read_to_string(credentials_path(dir, port))?;
        serde_json::from_str(&text).map_err(std::io::Error::other)
    }

    /// Writes the file for `port` into `dir` (normally [`credentials_dir`]),
    /// readable by this OS user only, replacing a stale one left by a node that
    /// did not stop cleanly. The returned guard removes it when dropped.
    pub fn write(&self, dir: &Path, port: u16) -> std::io::Result<WrittenFile> {
        let path = credentials_path(dir, port);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&path)?;
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        file.write_all(text.as_bytes())?;
        file.write_all(b"\n")?;
        Ok(WrittenFile { path })
    }
}

/// A written credentials file; dropping it removes the file.
#[derive(Debug)]
pub struct WrittenFile {
    path: PathBuf,
}

impl WrittenFile {
    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for WrittenFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Whether a browser `Origin` is a page on this machine (`http://127.0.0.1:…`,
/// `http://localhost:…`, `http://[::1]:…`): a development node lets such pages
/// open WebSockets, so apps served on other local ports can connect.
pub fn is_loopback_origin(origin: &str) -> bool {
    let Some(rest) = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
    else {
        return false;
    };
    let host = match rest.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => rest.split(':').next().unwrap_or(""),
    };
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "an-api-key-of-enough-length";

    fn dev() -> Config {
        Config {
            dev: true,
            ..Config::default()
        }
    }

    #[test]
    fn dev_nodes_get_the_keys_they_lack() {
        let creds = DevCredentials::generate();
        assert_ne!(creds, DevCredentials::generate(), "random");
        let mut config = dev();
        creds.apply(&mut config);
        assert_eq!(config.api_key.as_deref(), Some(creds.api_key.as_str()));
        assert_eq!(
            config.auth.hmac_secret.as_deref(),
            Some(creds.hmac_secret.as_str())
        );
        config.validate().unwrap();
        assert!(!format!("{creds:?}").contains(&creds.api_key), "not logged");

        let mut configured = dev();
        configured.api_key = Some(KEY.into());
        configured.auth.rsa_public_key = Some("pem".into());
        let before = configured.clone();
        creds.apply(&mut configured);
        assert_eq!(configured, before, "configured keys win");

        let mut production = Config::default();
        creds.apply(&mut production);
        assert_eq!(production, Config::default(), "only in dev");

        let mut no_dashboard = dev();
        no_dashboard.admin = Some(false);
        creds.apply(&mut no_dashboard);
        assert_eq!(
            no_dashboard.api_key, None,
            "admin = false keeps the API off"
        );
    }

    #[test]
    fn the_file_names_only_generated_keys() {
        let creds = DevCredentials::generate();
        let addr: SocketAddr = "0.0.0.0:8123".parse().unwrap();
        let mut config = dev();
        config.api_key = Some(KEY.into());
        creds.apply(&mut config);
        let contents = creds.file_contents(&config, addr).unwrap();
        assert_eq!(contents.http, "http://127.0.0.1:8123");
        assert_eq!(contents.ws, "ws://127.0.0.1:8123/ws");
        assert_eq!(contents.api_key, None, "a configured key is never written");
        assert_eq!(contents.hmac_secret.as_ref(), Some(&creds.hmac_secret));
        assert!(creds.file_contents(&Config::default(), addr).is_none());
    }

    #[test]
    fn the_file_is_private_and_removed_with_its_guard() {
        let creds = DevCredentials::generate();
        let mut config = dev();
        creds.apply(&mut config);
        let dir = tempfile::tempdir().unwrap();
        let port = 8000;
        let contents = creds
            .file_contents(&config, SocketAddr::from(([127, 0, 0, 1], port)))
            .unwrap();
        let written = contents.write(dir.path(), port).unwrap();
        assert_eq!(CredentialsFile::read(dir.path(), port).unwrap(), contents);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(written.path())
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::mem::forget(written); // a node that did not stop cleanly
        let again = contents.write(dir.path(), port).unwrap();
        drop(again);
        assert!(CredentialsFile::read(dir.path(), port).is_err(), "removed");
    }

    #[test]
    fn loopback_origins() {
        for yes in [
            "http://127.0.0.1:8001",
            "http://localhost:3000",
            "http://LOCALHOST",
            "http://[::1]:8001",
            "https://127.0.0.2",
        ] {
            assert!(is_loopback_origin(yes), "{yes}");
        }
        for no in [
            "http://example.com",
            "http://127.0.0.1.example.com:80",
            "http://localhost.example.com",
            "null",
            "file://",
            "http://10.0.0.1:8000",
        ] {
            assert!(!is_loopback_origin(no), "{no}");
        }
    }
}
