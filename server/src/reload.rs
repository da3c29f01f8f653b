//! Configuration hot reload: what may change while the node runs, and why a
//! new configuration is refused.
//!
//! Namespaces, limits, secrets (auth keys, the API key's value) and allowed
//! origins reload. Options that shape the running node do not: its listen
//! address, WebSocket path, NATS connection and cluster options, the dev profile
//! (which adds routes) and whether the server API exists. Logging options are
//! read at startup only.

use thiserror::Error;

use crate::auth::AuthConfigError;
use crate::broker::BrokerError;
use crate::config::{Config, ConfigError};

/// Why a reload was refused (the old configuration stays in force).
#[derive(Debug, Error)]
pub enum ReloadError {
    /// The new configuration fails [`Config::validate`]; the message names the option.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The new configuration changes an option that needs a restart.
    #[error("{option}: cannot change while the node runs; restart the node to change it")]
    Fixed {
        /// The top-level option that changed (`listen`, `nats`, `cluster`...); `tls` and
        /// `api_key` count only when turned on or off.
        option: &'static str,
    },
    /// The new key material is invalid.
    #[error("auth: {0}")]
    Auth(#[from] AuthConfigError),
    /// The certificate or key files cannot be used.
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    /// The broker could not apply it (cluster mode: the history stream).
    #[error("{0}")]
    Broker(#[from] BrokerError),
    /// This node was started without a configuration source.
    #[error("this node has no configuration source to reload from")]
    NoSource,
}

/// Refuses a new configuration that changes an option fixed at startup.
pub(crate) fn check_fixed(old: &Config, new: &Config) -> Result<(), ReloadError> {
    let fixed: [(&'static str, bool); 8] = [
        (
            "tls",
            old.tls.cert_file.is_some() == new.tls.cert_file.is_some(),
        ),
        ("listen", old.listen == new.listen),
        ("ws_path", old.ws_path == new.ws_path),
        ("nats", old.nats == new.nats),
        ("cluster", old.cluster == new.cluster),
        ("dev", old.dev == new.dev),
        ("api_key", old.api_key.is_some() == new.api_key.is_some()),
        ("log", old.log == new.log),
    ];
    match fixed.into_iter().find(|(_, same)| !same) {
        Some((option, _)) => Err(ReloadError::Fixed { option }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_options_are_named() {
        let old = Config::default();
        let mut new = old.clone();
        new.limits.max_message_size = 10;
        new.namespaces.insert("x".into(), Default::default());
        assert!(
            check_fixed(&old, &new).is_ok(),
            "limits and namespaces reload"
        );
        new.listen = "127.0.0.1:9".parse().unwrap();
        match check_fixed(&old, &new) {
            Err(ReloadError::Fixed { option }) => assert_eq!(option, "listen"),
            other => panic!("{other:?}"),
        }
        let mut new = old.clone();
        new.api_key = Some("a-key-of-sufficient-length".into());
        assert!(matches!(
            check_fixed(&old, &new),
            Err(ReloadError::Fixed { option: "api_key" })
        ));
    }
}
