//! [`Verifier`] checks a connection token against the configured keys;
//! [`AuthError`] says why a token was refused.

use std::fmt;

use chorus_protocol::{CloseCode, ErrorCode};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};

use super::keys::{ec_key, ensure_crypto_provider, rsa_key};
use super::{AuthConfig, AuthConfigError, Claims, MAX_LEEWAY_SECS, MIN_HMAC_SECRET_LEN};

/// Why a token was refused.
///
/// Messages are safe to send to the client: they describe the token, never the
/// server's keys.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// The token is genuine but its `exp` has passed (beyond the leeway). Only
    /// reported after the signature checked out, so a client may react by
    /// fetching a fresh token.
    #[error("token expired")]
    Expired,
    /// The token is malformed, forged, uses a refused algorithm, or fails a
    /// claim check (`sub`, `exp` missing, `nbf`, `aud`, `iss`).
    #[error("invalid token: {0}")]
    Invalid(String),
    /// The token's algorithm (`HS256`, `RS256` or `ES256`) has no key configured,
    /// so it cannot be verified and is refused.
    #[error("no verification key configured for {0}")]
    NoKey(String),
}

impl AuthError {
    /// The error code for a reply to `connect` or `refresh`.
    ///
    /// Expiry maps to `TOKEN_EXPIRED`, which is temporary: the client should get
    /// a fresh token and retry. Everything else is `UNAUTHORIZED` (terminal),
    /// because retrying the same token cannot help.
    pub fn error_code(&self) -> ErrorCode {
        match self {
            AuthError::Expired => ErrorCode::TOKEN_EXPIRED,
            AuthError::Invalid(_) | AuthError::NoKey(_) => ErrorCode::UNAUTHORIZED,
        }
    }

    /// The close code when the connection ends because of this error:
    /// `TOKEN_EXPIRED` (4501) for expiry, `UNAUTHORIZED` (4500) otherwise.
    /// Consistent with [`CloseCode::for_connect_error`] applied to
    /// [`AuthError::error_code`].
    pub fn close_code(&self) -> CloseCode {
        match self {
            AuthError::Expired => CloseCode::TOKEN_EXPIRED,
            AuthError::Invalid(_) | AuthError::NoKey(_) => CloseCode::UNAUTHORIZED,
        }
    }
}

fn invalid(reason: impl Into<String>) -> AuthError {
    AuthError::Invalid(reason.into())
}

/// One configured key with the validation rules for its single algorithm.
#[derive(Clone)]
struct Slot {
    key: DecodingKey,
    validation: Validation,
}

/// Verifies connection tokens against the configured keys.
///
/// Built once at startup with [`Verifier::new`], which refuses bad key material
/// early (a typo must not surface as every client being rejected later). It is
/// immutable, `Send + Sync`, and verification takes `&self`, so share it behind
/// an `Arc` across connections and threads.
#[derive(Clone)]
pub struct Verifier {
    hmac: Option<Slot>,
    rsa: Option<Slot>,
    ecdsa: Option<Slot>,
    audience_configured: bool,
}

// `Verifier` is shared across tokio tasks; keep that a compile-time guarantee.
const _: fn() = || {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Verifier>();
};

impl fmt::Debug for Verifier {
    /// Lists the accepted algorithms, never key material.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("hs256", &self.hmac.is_some())
            .field("rs256", &self.rsa.is_some())
            .field("es256", &self.ecdsa.is_some())
            .field("audience_configured", &self.audience_configured)
            .finish()
    }
}

impl Verifier {
    /// Checks the `[auth]` config and prepares one key per configured algorithm.
    ///
    /// Fails, naming the option, on an empty or short HMAC secret, a PEM that
    /// does not hold a public key of the right type (private keys included: they
    /// must not sit in server config), an RSA key under [`MIN_RSA_BITS`](super::MIN_RSA_BITS), an EC
    /// key not on P-256, an empty `audience`/`issuer`, or a leeway above
    /// [`MAX_LEEWAY_SECS`]. No key at all is not an error: see
    /// [`Verifier::is_configured`].
    pub fn new(config: &AuthConfig) -> Result<Verifier, AuthConfigError> {
        ensure_crypto_provider();

        if config.leeway_secs > MAX_LEEWAY_SECS {
            return Err(AuthConfigError::LeewaySecs(format!(
                "{} is too large; at most {MAX_LEEWAY_SECS} seconds are allowed",
                config.leeway_secs
            )));
        }
        if config.audience.as_deref() == Some("") {
            return Err(AuthConfigError::Audience(
                "must not be empty; remove the option to accept tokens without `aud`".into(),
            ));
        }
        if config.issuer.as_deref() == Some("") {
            return Err(AuthConfigError::Issuer(
                "must not be empty; remove the option to accept any `iss`".into(),
            ));
        }

        let hmac = match &config.hmac_secret {
            None => None,
            Some(secret) => {
                if secret.len() < MIN_HMAC_SECRET_LEN {
                    return Err(AuthConfigError::HmacSecret(format!(
                        "is {} bytes long; HS256 needs at least {MIN_HMAC_SECRET_LEN} \
                         (generate one with `openssl rand -base64 32`)",
                        secret.len()
                    )));
                }
                Some(DecodingKey::from_secret(secret.as_bytes()))
            }
        };
        let rsa = match &config.rsa_public_key {
            None => None,
            Some(pem) => Some(rsa_key(pem).map_err(AuthConfigError::RsaPublicKey)?),
        };
        let ecdsa = match &config.ecdsa_public_key {
            None => None,
            Some(pem) => Some(ec_key(pem).map_err(AuthConfigError::EcdsaPublicKey)?),
        };

        let slot = |key: DecodingKey, alg: Algorithm| Slot {
            key,
            validation: validation(config, alg),
        };
        Ok(Verifier {
            hmac: hmac.map(|k| slot(k, Algorithm::HS256)),
            rsa: rsa.map(|k| slot(k, Algorithm::RS256)),
            ecdsa: ecdsa.map(|k| slot(k, Algorithm::ES256)),
            audience_configured: config.audience.is_some(),
        })
    }

    /// True when at least one key is configured, i.e. some token can be
    /// accepted. When false the server can still serve namespaces that allow
    /// anonymous access, and should say so at startup.
    pub fn is_configured(&self) -> bool {
        self.hmac.is_some() || self.rsa.is_some() || self.ecdsa.is_some()
    }

    /// Verifies `token` (the compact `header.payload.signature` form) against
    /// the current system time and returns its claims.
    ///
    /// The `alg` header selects the key: `HS256` the HMAC secret, `RS256` the RSA
    /// key, `ES256` the EC key; any other algorithm (`none`, `HS384`, `PS256`...)
    /// is [`AuthError::Invalid`], and a listed algorithm without its key is
    /// [`AuthError::NoKey`]. Then the signature, `exp` (required), `nbf` (if
    /// present), `aud`/`iss` (if configured) and `sub` (required, non-empty) are
    /// checked. Never panics, whatever the input.
    pub fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|e| invalid(format!("malformed token header: {}", describe(&e))))?;
        // RFC 7515 §4.1.11: extensions listed in `crit` must be understood; we
        // understand none, so honouring the header means refusing the token.
        if header.crit.as_ref().is_some_and(|crit| !crit.is_empty()) {
            return Err(invalid("unsupported critical header parameters (`crit`)"));
        }
        let (slot, name) = match header.alg {
            Algorithm::HS256 => (&self.hmac, "HS256"),
            Algorithm::RS256 => (&self.rsa, "RS256"),
            Algorithm::ES256 => (&self.ecdsa, "ES256"),
            other => {
                return Err(invalid(format!(
                    "algorithm {other:?} is not accepted (only HS256, RS256 and ES256)"
                )));
            }
        };
        let slot = slot
            .as_ref()
            .ok_or_else(|| AuthError::NoKey(name.to_owned()))?;
        let claims = jsonwebtoken::decode::<Claims>(token, &slot.key, &slot.validation)
            .map_err(|e| self.decode_error(&e))?
            .claims;
        if let Err(e) = chorus_protocol::check_user_id(&claims.sub) {
            return Err(invalid(format!("claim `sub` is not a user id: {e}")));
        }
        Ok(claims)
    }

    fn decode_error(&self, error: &jsonwebtoken::errors::Error) -> AuthError {
        match error.kind() {
            ErrorKind::ExpiredSignature => AuthError::Expired,
            ErrorKind::InvalidSignature => invalid("signature does not match"),
            ErrorKind::MissingRequiredClaim(claim) => {
                invalid(format!("missing required claim `{claim}`"))
            }
            ErrorKind::InvalidClaimFormat(claim) => {
                invalid(format!("claim `{claim}` is not a valid date"))
            }
            ErrorKind::ImmatureSignature => invalid("token is not valid yet (`nbf`)"),
            ErrorKind::InvalidIssuer => invalid("claim `iss` does not match"),
            ErrorKind::InvalidAudience if self.audience_configured => {
                invalid("claim `aud` does not match")
            }
            ErrorKind::InvalidAudience => {
                invalid("token has an `aud` claim but the server accepts no audience")
            }
            _ => invalid(describe(error)),
        }
    }
}

/// A short description of a `jsonwebtoken` error for token problems.
fn describe(error: &jsonwebtoken::errors::Error) -> String {
    match error.kind() {
        ErrorKind::InvalidToken => "not a JWT (expected header.payload.signature)".to_owned(),
        ErrorKind::Base64(_) | ErrorKind::Utf8(_) => "bad base64url or UTF-8".to_owned(),
        ErrorKind::Json(e) => format!("bad JSON: {e}"),
        _ => error.to_string(),
    }
}

/// The validation rules for one algorithm: that algorithm only, `exp` and
/// `sub` required, `nbf` checked, `aud`/`iss` required and matched when set.
fn validation(config: &AuthConfig, alg: Algorithm) -> Validation {
    let mut v = Validation::new(alg);
    v.leeway = config.leeway_secs;
    v.validate_exp = true;
    v.validate_nbf = true;
    v.validate_aud = true;
    let mut required = vec!["exp", "sub"];
    if let Some(aud) = &config.audience {
        v.set_audience(&[aud]);
        required.push("aud");
    }
    if let Some(iss) = &config.issuer {
        v.set_issuer(&[iss]);
        required.push("iss");
    }
    v.set_required_spec_claims(&required);
    v
}

#[cfg(test)]
mod tests;
