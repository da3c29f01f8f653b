//! Certificates for TLS in tests: a CA and a server certificate it signed.

use std::path::Path;

/// Writes a CA and a certificate it signed for 127.0.0.1 and localhost, as
/// `ca.pem`, `cert.pem` and `key.pem` in `dir`: for TLS servers in tests.
///
/// # Panics
///
/// If a key cannot be made or a file cannot be written.
pub fn write_certificates(dir: &Path) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().expect("a CA key");
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    // Names of their own: a leaf whose issuer reads like its subject looks
    // self-signed to OpenSSL and browsers.
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "Chorus test CA");
    let ca_cert = ca.self_signed(&ca_key).expect("a CA certificate");
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().expect("a server key");
    let mut params = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
        .expect("server certificate parameters");
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "localhost");
    let cert = params
        .signed_by(&key, &issuer)
        .expect("a server certificate");
    for (file, pem) in [
        ("ca.pem", ca_cert.pem()),
        ("cert.pem", cert.pem()),
        ("key.pem", key.serialize_pem()),
    ] {
        std::fs::write(dir.join(file), pem).expect("writing a certificate");
    }
}
