//! TLS for `wss://` URLs: rustls (with the ring provider), trusting the
//! platform's root certificates and Mozilla's (webpki-roots), plus any CA the
//! application adds ([`crate::ClientBuilder::add_root_certificate`]) for
//! self-signed deployments and tests. `ws://` URLs never use it.

use std::sync::Arc;

use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use thiserror::Error;

/// Why a root certificate could not be added.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TlsError {
    /// The text holds no PEM certificate, or a malformed one.
    #[error("not a PEM certificate: {0}")]
    Pem(String),
    /// rustls refused the certificate as a trust anchor.
    #[error("not usable as a root certificate: {0}")]
    Root(String),
}

/// Parses the PEM certificates in `pem` (at least one).
pub(crate) fn parse_pem(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Pem(e.to_string()))?;
    if certs.is_empty() {
        return Err(TlsError::Pem("no certificate found".into()));
    }
    let mut probe = RootCertStore::empty();
    for cert in &certs {
        probe
            .add(cert.clone())
            .map_err(|e| TlsError::Root(e.to_string()))?;
    }
    Ok(certs)
}

/// The client configuration for `wss://`: platform and webpki roots, and `extra`.
pub(crate) fn client_config(
    extra: &[CertificateDer<'static>],
) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    // Roots the platform cannot give (a container without a CA bundle) are
    // not an error: the webpki roots and the application's remain.
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    for cert in extra {
        roots
            .add(cert.clone())
            .map_err(|e| TlsError::Root(e.to_string()))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Root(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}
