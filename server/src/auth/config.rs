//! The `[auth]` config table ([`AuthConfig`]), the limits its values must
//! meet, and [`AuthConfigError`], which names the option at fault.

use std::fmt;

use serde::Deserialize;

/// Leeway applied to `exp` and `nbf` when the config does not set one.
///
/// Five seconds absorbs ordinary clock skew between the token issuer and the
/// server without noticeably extending the life of a stolen token (the
/// `jsonwebtoken` crate's own default of 60 s is generous for short-lived
/// connection tokens).
pub const DEFAULT_LEEWAY_SECS: u64 = 5;

/// The largest accepted `auth.leeway_secs`.
///
/// A bigger leeway would mostly keep expired tokens alive; it also keeps the
/// time arithmetic far away from overflow.
pub const MAX_LEEWAY_SECS: u64 = 300;

/// Minimum length of `auth.hmac_secret` in bytes.
///
/// RFC 7518 §3.2 requires an HS256 key of at least 256 bits; a shorter secret
/// can be brute-forced offline from any single token.
pub const MIN_HMAC_SECRET_LEN: usize = 32;

/// Minimum size of `auth.rsa_public_key` in bits (RFC 7518 §3.3 and current
/// NIST guidance: smaller RSA keys are considered breakable).
pub const MIN_RSA_BITS: usize = 2048;

fn default_leeway() -> u64 {
    DEFAULT_LEEWAY_SECS
}

/// Key material and checks, deserialised from the `[auth]` table of the TOML config.
///
/// Configure at least one key to accept tokens; with none, every token is refused
/// with [`AuthError::NoKey`](super::AuthError::NoKey) and only namespaces that allow anonymous access are
/// usable. Unknown options are rejected so that a misspelt key name cannot
/// silently leave authentication unconfigured.
///
/// `Debug` redacts `hmac_secret`, so the config can be logged safely.
#[derive(Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// Shared secret for HS256 tokens, used as raw UTF-8 bytes; at least
    /// [`MIN_HMAC_SECRET_LEN`] bytes (e.g. the output of `openssl rand -base64 32`).
    /// Whoever knows it can mint tokens, so prefer an asymmetric key when the
    /// issuer is a separate service.
    pub hmac_secret: Option<String>,
    /// PEM text (not a path) of the RSA public key that verifies RS256 tokens:
    /// `-----BEGIN PUBLIC KEY-----` (SPKI) or `-----BEGIN RSA PUBLIC KEY-----`
    /// (PKCS#1), at least [`MIN_RSA_BITS`] bits.
    pub rsa_public_key: Option<String>,
    /// PEM text (not a path) of the P-256 public key that verifies ES256 tokens:
    /// `-----BEGIN PUBLIC KEY-----`.
    pub ecdsa_public_key: Option<String>,
    /// When set, tokens must carry an `aud` claim equal to (or, for an array,
    /// containing) this value, so tokens minted for another service are refused.
    /// When unset, tokens that carry an `aud` claim are refused (RFC 7519 §4.1.3).
    pub audience: Option<String>,
    /// When set, tokens must carry exactly this `iss` claim, so only the expected
    /// issuer's tokens are accepted even if keys are shared.
    pub issuer: Option<String>,
    /// Clock-skew allowance in seconds for `exp` and `nbf`; defaults to
    /// [`DEFAULT_LEEWAY_SECS`], at most [`MAX_LEEWAY_SECS`].
    #[serde(default = "default_leeway")]
    pub leeway_secs: u64,
}

impl Default for AuthConfig {
    /// No keys, no audience or issuer, the default leeway: the same values an
    /// empty `[auth]` table deserialises to.
    fn default() -> Self {
        AuthConfig {
            hmac_secret: None,
            rsa_public_key: None,
            ecdsa_public_key: None,
            audience: None,
            issuer: None,
            leeway_secs: DEFAULT_LEEWAY_SECS,
        }
    }
}

impl fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthConfig")
            .field(
                "hmac_secret",
                &self.hmac_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("rsa_public_key", &self.rsa_public_key)
            .field("ecdsa_public_key", &self.ecdsa_public_key)
            .field("audience", &self.audience)
            .field("issuer", &self.issuer)
            .field("leeway_secs", &self.leeway_secs)
            .finish()
    }
}

/// Why the `[auth]` config cannot be used. Each variant names one option, and
/// the message starts with its full name (`auth.rsa_public_key: invalid PEM: ...`)
/// so that the operator knows what to fix without reading source code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthConfigError {
    /// `auth.hmac_secret` is empty or too short.
    #[error("auth.hmac_secret: {0}")]
    HmacSecret(String),
    /// `auth.rsa_public_key` is not a usable RSA public key.
    #[error("auth.rsa_public_key: {0}")]
    RsaPublicKey(String),
    /// `auth.ecdsa_public_key` is not a usable P-256 public key.
    #[error("auth.ecdsa_public_key: {0}")]
    EcdsaPublicKey(String),
    /// `auth.audience` is empty.
    #[error("auth.audience: {0}")]
    Audience(String),
    /// `auth.issuer` is empty.
    #[error("auth.issuer: {0}")]
    Issuer(String),
    /// `auth.leeway_secs` is larger than [`MAX_LEEWAY_SECS`].
    #[error("auth.leeway_secs: {0}")]
    LeewaySecs(String),
}

impl AuthConfigError {
    /// The full name of the offending option (`"auth.hmac_secret"`), for callers
    /// that map errors back to a config file line or an environment variable.
    pub fn option(&self) -> &'static str {
        match self {
            AuthConfigError::HmacSecret(_) => "auth.hmac_secret",
            AuthConfigError::RsaPublicKey(_) => "auth.rsa_public_key",
            AuthConfigError::EcdsaPublicKey(_) => "auth.ecdsa_public_key",
            AuthConfigError::Audience(_) => "auth.audience",
            AuthConfigError::Issuer(_) => "auth.issuer",
            AuthConfigError::LeewaySecs(_) => "auth.leeway_secs",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Verifier;
    use crate::auth::fixtures::{RSA_PUBLIC, SECRET, all_keys, verifier};

    #[test]
    fn config_defaults_and_unknown_fields() {
        let empty: AuthConfig = toml::from_str("").unwrap();
        assert_eq!(empty, AuthConfig::default());
        assert_eq!(empty.leeway_secs, DEFAULT_LEEWAY_SECS);
        let err = toml::from_str::<AuthConfig>("hmac_secert = \"x\"").unwrap_err();
        assert!(err.to_string().contains("hmac_secert"), "{err}");
        let full: AuthConfig = toml::from_str(&format!(
            "hmac_secret = \"{SECRET}\"\nrsa_public_key = '''\n{RSA_PUBLIC}'''\n\
             audience = \"chorus\"\nleeway_secs = 0\n"
        ))
        .unwrap();
        assert_eq!(full.leeway_secs, 0);
        assert!(Verifier::new(&full).unwrap().is_configured());
    }

    #[test]
    fn debug_never_shows_secrets() {
        let config = all_keys();
        let text = format!("{config:?} {:?}", verifier(&config));
        assert!(!text.contains(SECRET), "{text}");
        assert!(text.contains("<redacted>"));
    }
}
