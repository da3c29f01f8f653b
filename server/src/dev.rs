//! The development profile's keys and credentials file.
//!
//! A development node (`chorus --dev`) that has no API key or token key of its
//! own gets generated ones, so that its admin dashboard, its server API and
//! token-bearing users all work without any setup. The binary **keeps** them
//! between runs in `dev-keys.json` under the user's state directory
//! ([`state_dir`]), readable by the same OS user only, so that a restart of the
//! development node does not sign every client out (`--reset-dev-keys` starts
//! over with new ones).
//!
//! App backends on the same machine (the example apps in `examples/`) find the
//! keys the node uses, generated or configured, in a **credentials file** that
//! the node writes for its port and removes when it stops, also private to the
//! OS user. Configured keys are never logged.
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

/// Keys a development node without its own gets. Obtained once per process
/// (kept from an earlier run, or generated), so that a configuration reload
/// keeps them.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
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
    /// Fresh keys from the OS random generator, kept nowhere ([`DevCredentials::kept`] is what
    /// keeps them).
    pub fn generate() -> DevCredentials {
        DevCredentials {
            api_key: format!("dev-{}", crate::ids::random_hex(16)),
            hmac_secret: format!("dev-{}", crate::ids::random_hex(32)),
        }
    }

    /// The keys kept in `dir` (normally [`state_dir`]) by an earlier run, or
    /// fresh ones written there for the next: the directory and the file are
    /// private to this OS user. Nodes starting at the same moment agree on one
    /// set (the first to create the file wins). A file that is not a set of
    /// keys is an error, never overwritten.
    pub fn kept(dir: &Path) -> std::io::Result<DevCredentials> {
        let path = dir.join(KEYS_FILE);
        loop {
            match std::fs::read_to_string(&path) {
                Ok(text) => return Self::parse(&text, &path),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
            create_private_dir(dir)?;
            let fresh = DevCredentials::generate();
            let text = serde_json::to_string_pretty(&fresh).map_err(std::io::Error::other)?;
            match private_file(&path) {
                Ok(mut file) => {
                    file.write_all(text.as_bytes())?;
                    file.write_all(b"\n")?;
                    return Ok(fresh);
                }
                // Another node created it first: read its keys.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Forgets the keys kept in `dir`: the next [`DevCredentials::kept`]
    /// generates new ones (`chorus --dev --reset-dev-keys`).
    pub fn forget(dir: &Path) -> std::io::Result<()> {
        match std::fs::remove_file(dir.join(KEYS_FILE)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    fn parse(text: &str, path: &Path) -> std::io::Result<DevCredentials> {
        let invalid = |why: &str| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "{}: {why} (remove it, or start with --reset-dev-keys)",
                    path.display()
                ),
            )
        };
        let keys: DevCredentials =
            serde_json::from_str(text).map_err(|e| invalid(&e.to_string()))?;
        if keys.api_key.len() < 16 || keys.hmac_secret.len() < 32 {
            return Err(invalid("keys too short"));
        }
        Ok(keys)
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
    /// holds: the addresses and the keys the node uses (generated, or
    /// configured: a secret from the environment too), so that local app
    /// backends sign what the node accepts. `None` when the node is not a
    /// development node.
    pub fn file_contents(config: &Config, addr: SocketAddr) -> Option<CredentialsFile> {
        if !config.dev {
            return None;
        }
        let host = match addr.ip() {
            ip if ip.is_unspecified() => SocketAddr::new(IpAddr::from([127, 0, 0, 1]), addr.port()),
            _ => addr,
        };
        Some(CredentialsFile {
            http: format!("http://{host}"),
            ws: format!("ws://{host}{}", config.ws_path),
            api_key: config.api_key.clone(),
            hmac_secret: config.auth.hmac_secret.clone(),
        })
    }
}

/// What `chorus-dev-<port>.json` holds (as JSON): how app backends on this machine reach a
/// development node and sign for it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialsFile {
    /// Base URL of HTTP (server API, health, pages).
    pub http: String,
    /// WebSocket URL: `ws://`, the host as in `http`, then `ws_path` (`ws://127.0.0.1:8000/ws`).
    pub ws: String,
    /// The node's API key, when it has one.
    pub api_key: Option<String>,
    /// The node's HS256 token secret, when it has one.
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

/// The name of the kept keys' file in [`state_dir`].
pub const KEYS_FILE: &str = "dev-keys.json";

/// Where a development node keeps its generated keys between runs:
/// `$XDG_STATE_HOME/chorus`, else `~/.local/state/chorus`; `None` when
/// neither variable is set (the keys then last one run).
pub fn state_dir() -> Option<PathBuf> {
    let non_empty = |name| std::env::var_os(name).filter(|v| !v.is_empty());
    non_empty("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| non_empty("HOME").map(|home| Path::new(&home).join(".local/state")))
        .map(|dir| dir.join("chorus"))
}

/// Creates `dir` (and its parents) if missing; a directory it creates is
/// private to this OS user.
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Creates a new file readable by this OS user only; fails if it exists.
fn private_file(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
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
        let mut file = private_file(&path)?;
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
    /// Where the file was written ([`credentials_path`] of the port, in the directory given to
    /// [`CredentialsFile::write`]).
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
pub(crate) fn is_loopback_origin(origin: &str) -> bool {
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
    fn the_file_names_the_keys_the_node_uses() {
        let creds = DevCredentials::generate();
        let addr: SocketAddr = "0.0.0.0:8123".parse().unwrap();
        let mut config = dev();
        config.api_key = Some(KEY.into());
        creds.apply(&mut config);
        let contents = DevCredentials::file_contents(&config, addr).unwrap();
        assert_eq!(contents.http, "http://127.0.0.1:8123");
        assert_eq!(contents.ws, "ws://127.0.0.1:8123/ws");
        assert_eq!(contents.api_key.as_deref(), Some(KEY), "the configured key");
        assert_eq!(contents.hmac_secret.as_ref(), Some(&creds.hmac_secret));
        assert!(DevCredentials::file_contents(&Config::default(), addr).is_none());
    }

    #[test]
    fn keys_are_kept_between_runs_until_forgotten() {
        let state = tempfile::tempdir().unwrap();
        let dir = state.path().join("nested/chorus");
        let first = DevCredentials::kept(&dir).unwrap();
        assert_eq!(DevCredentials::kept(&dir).unwrap(), first, "kept");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&dir.join(KEYS_FILE)), 0o600);
            assert_eq!(mode(&dir), 0o700);
        }
        DevCredentials::forget(&dir).unwrap();
        DevCredentials::forget(&dir).unwrap();
        let second = DevCredentials::kept(&dir).unwrap();
        assert_ne!(second, first, "new keys after forget");

        std::fs::write(dir.join(KEYS_FILE), "{\"api_key\": \"x\"}").unwrap();
        let err = DevCredentials::kept(&dir).unwrap_err();
        assert!(err.to_string().contains("--reset-dev-keys"), "{err}");
        assert_eq!(
            std::fs::read_to_string(dir.join(KEYS_FILE)).unwrap(),
            "{\"api_key\": \"x\"}",
            "not overwritten"
        );
    }

    #[test]
    fn the_file_is_private_and_removed_with_its_guard() {
        let creds = DevCredentials::generate();
        let mut config = dev();
        creds.apply(&mut config);
        let dir = tempfile::tempdir().unwrap();
        let port = 8000;
        let contents =
            DevCredentials::file_contents(&config, SocketAddr::from(([127, 0, 0, 1], port)))
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
