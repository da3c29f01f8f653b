//! Serving `wss://` and `https://` without a proxy: the node terminates TLS
//! itself when `[tls]` names a certificate chain and its key (PEM files).
//! The files are read at start and again on every reload, so a renewed
//! certificate takes effect without a restart; connections already open
//! keep the one they started with.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde::Deserialize;
use thiserror::Error;
use tokio_rustls::TlsAcceptor;

use crate::sync::{read, write};

/// `[tls]`: both files, or neither (plain HTTP).
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM file with the certificate chain, leaf first.
    pub cert_file: Option<PathBuf>,
    /// PEM file with the certificate's private key (PKCS#8, PKCS#1 or SEC1).
    pub key_file: Option<PathBuf>,
}

/// Why the certificate or key could not be used.
#[derive(Debug, Error)]
pub enum TlsError {
    /// Only one of the two files is set.
    #[error("tls: set both cert_file and key_file, or neither")]
    Incomplete,
    /// A file could not be read or holds no usable PEM.
    #[error("tls: {path}: {reason}")]
    File {
        /// `cert_file` or `key_file`, as configured.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// rustls refused the pair (a key that does not match, say).
    #[error("tls: {0}")]
    Config(String),
}

fn file_error(path: &Path, reason: impl ToString) -> TlsError {
    TlsError::File {
        path: path.to_owned(),
        reason: reason.to_string(),
    }
}

/// The acceptor for `config`; `None` without TLS.
pub(crate) fn acceptor(config: &TlsConfig) -> Result<Option<TlsAcceptor>, TlsError> {
    let (cert_file, key_file) = match (&config.cert_file, &config.key_file) {
        (None, None) => return Ok(None),
        (Some(c), Some(k)) => (c, k),
        _ => return Err(TlsError::Incomplete),
    };
    let pem = std::fs::read(cert_file).map_err(|e| file_error(cert_file, e))?;
    let chain = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_error(cert_file, e))?;
    if chain.is_empty() {
        return Err(file_error(cert_file, "no certificate in it"));
    }
    let pem = std::fs::read(key_file).map_err(|e| file_error(key_file, e))?;
    let key = PrivateKeyDer::from_pem_slice(&pem).map_err(|e| file_error(key_file, e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| TlsError::Config(e.to_string()))?;
    server.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Some(TlsAcceptor::from(Arc::new(server))))
}

/// The node's acceptor, replaced on reload.
#[derive(Default)]
pub(crate) struct Tls {
    acceptor: RwLock<Option<TlsAcceptor>>,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls")
            .field("on", &self.current().is_some())
            .finish()
    }
}

impl Tls {
    /// TLS as `config` says (files read now).
    pub(crate) fn new(config: &TlsConfig) -> Result<Tls, TlsError> {
        Ok(Tls {
            acceptor: RwLock::new(acceptor(config)?),
        })
    }

    /// Reads the files again (a reload); the old acceptor stays on failure.
    pub(crate) fn reload(&self, config: &TlsConfig) -> Result<(), TlsError> {
        let acceptor = acceptor(config)?;
        *write(&self.acceptor) = acceptor;
        Ok(())
    }

    /// The acceptor for new connections; `None` for plain HTTP.
    pub(crate) fn current(&self) -> Option<TlsAcceptor> {
        read(&self.acceptor).clone()
    }
}
