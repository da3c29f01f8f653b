//! JWT verification for connections, secure by default.
//!
//! A client proves who it is with a JSON Web Token in its `connect` command (and
//! later in `refresh`). [`Verifier`] checks the token against the keys of the
//! `[auth]` config table and returns its [`Claims`]: the user id (`sub`), the
//! expiry (`exp`) and the channel grants the connection layer enforces.
//!
//! What "secure by default" means here:
//!
//! * Only HS256, RS256 and ES256 are accepted, and each algorithm is verified
//!   only with the one key configured for it. The `alg` header merely selects
//!   that key; it can never make the server verify an RS256 token with the HMAC
//!   secret (the classic algorithm-confusion attack) or accept `alg: none`.
//!   Keys are never taken from the token (`jwk`, `jku`, `x5u` headers are ignored).
//! * `exp` and a non-empty `sub` are required; `nbf` is checked when present;
//!   `aud` and `iss` must match when configured (and are then required).
//! * Weak or misplaced key material is refused at startup, naming the option:
//!   HMAC secrets shorter than [`MIN_HMAC_SECRET_LEN`] bytes, RSA keys under
//!   [`MIN_RSA_BITS`] bits, private keys pasted where a public key belongs, and
//!   curves other than P-256 for ES256.
//! * A forged token is never reported as expired: the signature is checked
//!   before any claim, so only genuine tokens can trigger a client's refresh.

use std::fmt;

use chorus_protocol::{CloseCode, ErrorCode};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};

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
/// with [`AuthError::NoKey`] and only namespaces that allow anonymous access are
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
    /// `auth.leeway_secs` is out of range.
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

/// The claims Chorus reads from a connection token.
///
/// Other claims (`aud`, `iss`, `nbf`, application-specific ones) may be present;
/// they are checked where configured and otherwise ignored. Serialising skips
/// absent and empty fields, so minted tokens stay short.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, Default)]
pub struct Claims {
    /// The user id. Required and non-empty: it keys presence, per-user
    /// connection limits, user-limited channels and send-to-user.
    pub sub: String,
    /// Expiry, seconds since the Unix epoch. [`Verifier::verify`] refuses tokens
    /// without it, so a leaked token cannot stay valid forever; it is an
    /// `Option` only so that tokens can be minted without it (e.g. to test that
    /// refusal). Fractional values are accepted (RFC 7519 NumericDate) and rounded.
    #[serde(
        default,
        deserialize_with = "numeric_date::deserialize",
        skip_serializing_if = "Option::is_none"
    )]
    pub exp: Option<u64>,
    /// Issued-at, seconds since the Unix epoch; informational (not checked).
    #[serde(
        default,
        deserialize_with = "numeric_date::deserialize",
        skip_serializing_if = "Option::is_none"
    )]
    pub iat: Option<u64>,
    /// Token id, kept so that single tokens can be revoked later.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// Connection info chosen by the token issuer (display name, avatar...),
    /// shown to others in presence and attached to publications. Because it
    /// comes from a signed token, clients cannot forge it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub info: Option<serde_json::Value>,
    /// Channel grants for subscribing; see [`grant_matches`] for the syntax.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subs: Vec<String>,
    /// Channel grants for publishing; see [`grant_matches`] for the syntax.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pubs: Vec<String>,
    /// Whether the connection may use the `broadcast` command, which reaches
    /// many channels at once and is therefore never granted implicitly.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub broadcast: bool,
}

impl Claims {
    /// True when one of the `subs` grants matches `channel`.
    ///
    /// This is only what the token grants: namespace options (which may allow
    /// subscribing without a grant) and the user list of a user-limited channel
    /// (`dm:x#alice,bob`, which a grant never overrides) are checked by the caller.
    pub fn may_subscribe(&self, channel: &str) -> bool {
        self.subs.iter().any(|grant| grant_matches(grant, channel))
    }

    /// True when one of the `pubs` grants matches `channel`. As for
    /// [`Claims::may_subscribe`], namespace options are the caller's business.
    pub fn may_publish(&self, channel: &str) -> bool {
        self.pubs.iter().any(|grant| grant_matches(grant, channel))
    }

    /// Milliseconds until `exp`, so the connection layer can schedule the
    /// refresh deadline: `None` without `exp` (never the case for a verified
    /// token), `Some(0)` when `exp` has already passed, which happens for a token
    /// accepted within the leeway and means "refresh now".
    pub fn expires_in_ms(&self, now_unix_ms: u64) -> Option<u64> {
        self.exp
            .map(|exp| exp.saturating_mul(1000).saturating_sub(now_unix_ms))
    }
}

/// Whether a channel grant from a token admits `channel`.
///
/// A grant is an exact channel name, `*` (every channel), or a prefix ending in
/// `*` (e.g. `chat:*`, `chat:room-*`). Nothing else is a wildcard.
///
/// * The trailing `*` matches any suffix, so `chat:*` admits every channel that
///   starts with `chat:` (the whole `chat` namespace) but not `chat` or
///   `chatter:x`. The prefix is a plain string prefix: `chat*` also admits
///   `chatter:x`, so end a namespace grant with `:*`.
/// * Only the last character can be a wildcard: `a*b` and `a.b` are literal
///   names, as are `.`, `>` and any other character (no regex, no NATS syntax),
///   because channel names may legitimately contain them.
/// * Matching is byte-exact (case-sensitive); an empty grant admits nothing.
pub fn grant_matches(grant: &str, channel: &str) -> bool {
    if grant.is_empty() {
        return false;
    }
    match grant.strip_suffix('*') {
        Some(prefix) => channel.starts_with(prefix),
        None => grant == channel,
    }
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

/// Makes sure `jsonwebtoken` has a crypto backend. With only its `rust_crypto`
/// feature it would pick that by itself, but if feature unification ever also
/// enabled `aws_lc_rs` the automatic choice would panic at the first token.
/// Installing is first-come-first-served and idempotent: a provider installed
/// earlier (by us or by the embedding application) stays.
fn ensure_crypto_provider() {
    let _already_installed = jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.install_default();
}

impl Verifier {
    /// Checks the `[auth]` config and prepares one key per configured algorithm.
    ///
    /// Fails, naming the option, on an empty or short HMAC secret, a PEM that
    /// does not hold a public key of the right type (private keys included: they
    /// must not sit in server config), an RSA key under [`MIN_RSA_BITS`], an EC
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

/// The label of the first PEM block (`PUBLIC KEY` for `-----BEGIN PUBLIC KEY-----`).
fn pem_label(text: &str) -> Option<&str> {
    const BEGIN: &str = "-----BEGIN ";
    let start = text.find(BEGIN)? + BEGIN.len();
    let rest = &text[start..];
    rest.find("-----").map(|end| &rest[..end])
}

/// Refuses anything but a public-key PEM with one of the `accepted` labels,
/// with a message that never echoes the (possibly private) key text.
fn check_public_pem(text: &str, accepted: &[&str]) -> Result<(), String> {
    match pem_label(text) {
        None => Err("invalid PEM: no `-----BEGIN PUBLIC KEY-----` block found \
                     (the option holds the PEM text itself, not a file path)"
            .to_owned()),
        Some(label) if label.contains("PRIVATE") => Err(format!(
            "invalid PEM: this is a private key (`{label}`); configure only the public \
             half (`openssl pkey -in key.pem -pubout`) and keep the private key with the token issuer"
        )),
        Some(label) if !accepted.contains(&label) => Err(format!(
            "invalid PEM: expected `-----BEGIN PUBLIC KEY-----`, found `-----BEGIN {label}-----`"
        )),
        Some(_) => Ok(()),
    }
}

/// Parses and checks an RSA public key (type and size) at startup, since
/// `jsonwebtoken` would otherwise only parse the key material at the first token.
fn rsa_key(pem: &str) -> Result<DecodingKey, String> {
    check_public_pem(pem, &["PUBLIC KEY", "RSA PUBLIC KEY"])?;
    let key = DecodingKey::from_rsa_pem(pem.as_bytes())
        .map_err(|e| format!("invalid PEM: not an RSA public key ({e})"))?;
    let der = key
        .try_get_as_bytes()
        .map_err(|e| format!("invalid PEM: {e}"))?;
    let components = jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER
        .key_utils
        .rsa_pub_components_from_public_key;
    let (modulus, _exponent) =
        components(der).map_err(|e| format!("invalid PEM: not an RSA public key ({e})"))?;
    let bits = bit_len(&modulus);
    if bits < MIN_RSA_BITS {
        return Err(format!(
            "the RSA key has {bits} bits; at least {MIN_RSA_BITS} are required"
        ));
    }
    Ok(key)
}

/// Parses and checks a P-256 public key at startup.
fn ec_key(pem: &str) -> Result<DecodingKey, String> {
    check_public_pem(pem, &["PUBLIC KEY"])?;
    let key = DecodingKey::from_ec_pem(pem.as_bytes())
        .map_err(|e| format!("invalid PEM: not an EC public key ({e})"))?;
    // An uncompressed SEC1 point: 0x04, then x and y of 32 bytes each on P-256.
    match key.try_get_as_bytes().map(<[u8]>::len) {
        Ok(65) => {}
        Ok(97) => {
            return Err("the key is on P-384; ES256 needs a P-256 key".to_owned());
        }
        Ok(_) | Err(_) => {
            return Err("invalid PEM: not an uncompressed P-256 public key".to_owned());
        }
    }
    // Building a verifier parses the point; an empty signature then merely fails
    // to verify (`Ok(false)`), while a point off the curve is an `Err`.
    jsonwebtoken::crypto::verify("", b"", &key, Algorithm::ES256)
        .map_err(|e| format!("invalid PEM: not a valid P-256 public key ({e})"))?;
    Ok(key)
}

/// Number of significant bits in a big-endian unsigned integer.
fn bit_len(be: &[u8]) -> usize {
    let mut bytes = be.iter().skip_while(|b| **b == 0);
    match bytes.next() {
        None => 0,
        Some(first) => (8 - first.leading_zeros() as usize) + 8 * bytes.count(),
    }
}

/// RFC 7519 NumericDate: an integer or a non-integer JSON number of seconds.
mod numeric_date {
    use std::fmt;

    use serde::Deserializer;
    use serde::de::{self, Visitor};

    struct NumericDate;

    impl<'de> Visitor<'de> for NumericDate {
        type Value = Option<u64>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a non-negative number of seconds since the Unix epoch")
        }

        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(NumericDate)
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v))
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            u64::try_from(v)
                .map(Some)
                .map_err(|_| E::custom("a date before 1970"))
        }

        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            // Rounded like `jsonwebtoken` does when it validates `exp`, so the
            // stored value matches the one that was checked.
            if v.is_finite() && v >= 0.0 && v < u64::MAX as f64 {
                Ok(Some(v.round() as u64))
            } else {
                Err(E::custom("a date out of range"))
            }
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        d.deserialize_option(NumericDate)
    }
}

/// Token minting, for tests, the conformance suite and the server's dev-mode
/// demo tokens. Signing needs only what verification already links in, and
/// keeping it next to [`Verifier`] guarantees both agree on the claim format.
pub mod mint {
    use jsonwebtoken::{Algorithm, EncodingKey, Header};

    use super::{AuthError, ensure_crypto_provider};

    /// Signs `claims` as an HS256 token with `secret` (its UTF-8 bytes, as
    /// `auth.hmac_secret` is read). No claim is checked or added: set `exp`
    /// yourself, or the token will be refused by [`super::Verifier::verify`].
    /// Fails only if signing itself fails, reported as [`AuthError::Invalid`].
    pub fn hs256<C: serde::Serialize>(secret: &str, claims: &C) -> Result<String, AuthError> {
        ensure_crypto_provider();
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            claims,
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .map_err(|e| AuthError::Invalid(format!("cannot sign token: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{EncodingKey, Header};
    use serde_json::json;

    use super::*;

    const SECRET: &str = "0123456789abcdef0123456789abcdef-test-only";
    const RSA_PRIVATE: &str = include_str!("../tests/auth_keys/rsa_private.pem");
    const RSA_PUBLIC: &str = include_str!("../tests/auth_keys/rsa_public.pem");
    const RSA_OTHER_PUBLIC: &str = include_str!("../tests/auth_keys/rsa_other_public.pem");
    const RSA_1024_PUBLIC: &str = include_str!("../tests/auth_keys/rsa_1024_public.pem");
    const EC_PRIVATE: &str = include_str!("../tests/auth_keys/ec_private.pem");
    const EC_PUBLIC: &str = include_str!("../tests/auth_keys/ec_public.pem");
    const EC_P384_PUBLIC: &str = include_str!("../tests/auth_keys/ec_p384_public.pem");

    fn now() -> u64 {
        crate::clock::unix_secs()
    }

    fn all_keys() -> AuthConfig {
        AuthConfig {
            hmac_secret: Some(SECRET.into()),
            rsa_public_key: Some(RSA_PUBLIC.into()),
            ecdsa_public_key: Some(EC_PUBLIC.into()),
            ..AuthConfig::default()
        }
    }

    fn verifier(config: &AuthConfig) -> Verifier {
        Verifier::new(config).unwrap()
    }

    fn claims() -> Claims {
        Claims {
            sub: "alice".into(),
            exp: Some(now() + 600),
            iat: Some(now()),
            jti: Some("t-1".into()),
            info: Some(json!({"name": "Alice"})),
            subs: vec!["chat:*".into()],
            pubs: vec!["chat:lobby".into()],
            broadcast: true,
        }
    }

    /// Signs arbitrary JSON claims with any algorithm and key.
    fn sign(alg: Algorithm, key: &EncodingKey, claims: &serde_json::Value) -> String {
        jsonwebtoken::encode(&Header::new(alg), claims, key).unwrap()
    }

    fn rsa_signer() -> EncodingKey {
        EncodingKey::from_rsa_pem(RSA_PRIVATE.as_bytes()).unwrap()
    }

    fn ec_signer() -> EncodingKey {
        EncodingKey::from_ec_pem(EC_PRIVATE.as_bytes()).unwrap()
    }

    fn hs(claims: &serde_json::Value) -> String {
        sign(
            Algorithm::HS256,
            &EncodingKey::from_secret(SECRET.as_bytes()),
            claims,
        )
    }

    fn is_invalid(r: Result<Claims, AuthError>) -> bool {
        matches!(r, Err(AuthError::Invalid(_)))
    }

    #[test]
    fn a_sub_that_breaks_the_user_id_grammar_is_refused() {
        let v = verifier(&all_keys());
        let exp = now() + 60;
        for sub in ["", "carol ", "carol\u{0}", "a,b", "a#b"] {
            assert!(
                is_invalid(v.verify(&hs(&json!({"sub": sub, "exp": exp})))),
                "{sub:?}"
            );
        }
        assert!(v.verify(&hs(&json!({"sub": "carol", "exp": exp}))).is_ok());
    }

    #[test]
    fn accepts_hs256_rs256_es256_and_decodes_claims() {
        let v = verifier(&all_keys());
        assert!(v.is_configured());
        let c = claims();
        let value = serde_json::to_value(&c).unwrap();
        let tokens = [
            mint::hs256(SECRET, &c).unwrap(),
            sign(Algorithm::RS256, &rsa_signer(), &value),
            sign(Algorithm::ES256, &ec_signer(), &value),
        ];
        for token in tokens {
            assert_eq!(v.verify(&token), Ok(c.clone()), "{token}");
        }
    }

    #[test]
    fn each_key_alone_accepts_its_algorithm() {
        let c = serde_json::to_value(claims()).unwrap();
        let hs_only = verifier(&AuthConfig {
            hmac_secret: Some(SECRET.into()),
            ..AuthConfig::default()
        });
        let rs_only = verifier(&AuthConfig {
            rsa_public_key: Some(RSA_PUBLIC.into()),
            ..AuthConfig::default()
        });
        let es_only = verifier(&AuthConfig {
            ecdsa_public_key: Some(EC_PUBLIC.into()),
            ..AuthConfig::default()
        });
        let hs_token = hs(&c);
        let rs_token = sign(Algorithm::RS256, &rsa_signer(), &c);
        let es_token = sign(Algorithm::ES256, &ec_signer(), &c);
        assert!(hs_only.verify(&hs_token).is_ok());
        assert!(rs_only.verify(&rs_token).is_ok());
        assert!(es_only.verify(&es_token).is_ok());
        assert_eq!(
            hs_only.verify(&rs_token),
            Err(AuthError::NoKey("RS256".into()))
        );
        assert_eq!(
            rs_only.verify(&es_token),
            Err(AuthError::NoKey("ES256".into()))
        );
        assert_eq!(
            es_only.verify(&hs_token),
            Err(AuthError::NoKey("HS256".into()))
        );
    }

    #[test]
    fn minimal_claims_decode_with_defaults() {
        let v = verifier(&all_keys());
        let exp = now() + 60;
        let token = hs(&json!({"sub": "bob", "exp": exp, "custom": [1, 2]}));
        let c = v.verify(&token).unwrap();
        assert_eq!(
            c,
            Claims {
                sub: "bob".into(),
                exp: Some(exp),
                ..Claims::default()
            }
        );
        assert!(!c.broadcast && c.subs.is_empty() && c.pubs.is_empty());
    }

    #[test]
    fn fractional_exp_is_accepted_and_rounded() {
        let v = verifier(&all_keys());
        let exp = now() + 100;
        let token = hs(&json!({"sub": "bob", "exp": exp as f64 + 0.6}));
        assert_eq!(v.verify(&token).unwrap().exp, Some(exp + 1));
    }

    #[test]
    fn expired_token_is_expired() {
        let v = verifier(&all_keys());
        let mut c = claims();
        c.exp = Some(now() - 3600);
        let value = serde_json::to_value(&c).unwrap();
        assert_eq!(
            v.verify(&mint::hs256(SECRET, &c).unwrap()),
            Err(AuthError::Expired)
        );
        assert_eq!(
            v.verify(&sign(Algorithm::RS256, &rsa_signer(), &value)),
            Err(AuthError::Expired)
        );
        assert_eq!(
            v.verify(&sign(Algorithm::ES256, &ec_signer(), &value)),
            Err(AuthError::Expired)
        );
    }

    #[test]
    fn leeway_forgives_small_skew_only() {
        let v = verifier(&all_keys()); // default leeway: 5 s
        assert!(
            v.verify(&hs(&json!({"sub": "a", "exp": now() - 2})))
                .is_ok()
        );
        assert_eq!(
            v.verify(&hs(&json!({"sub": "a", "exp": now() - 30}))),
            Err(AuthError::Expired)
        );
        let strict = verifier(&AuthConfig {
            leeway_secs: 0,
            ..all_keys()
        });
        assert_eq!(
            strict.verify(&hs(&json!({"sub": "a", "exp": now() - 2}))),
            Err(AuthError::Expired)
        );
    }

    #[test]
    fn forged_expired_token_is_invalid_not_expired() {
        let v = verifier(&all_keys());
        let mut c = claims();
        c.exp = Some(now() - 3600);
        let token = mint::hs256("another-secret-of-sufficient-length!", &c).unwrap();
        assert!(is_invalid(v.verify(&token)));
    }

    #[test]
    fn forged_signatures_are_invalid() {
        let v = verifier(&all_keys());
        let c = claims();
        // Wrong secret.
        let wrong = mint::hs256("not-the-server-secret-but-just-as-long", &c).unwrap();
        assert!(is_invalid(v.verify(&wrong)));

        // Tampered payload: another payload under the original signature.
        let good = mint::hs256(SECRET, &c).unwrap();
        let mut admin = c.clone();
        admin.sub = "admin".into();
        let other = mint::hs256("whatever-secret-the-attacker-chose!!", &admin).unwrap();
        let parts: Vec<&str> = good.split('.').collect();
        let other_parts: Vec<&str> = other.split('.').collect();
        let tampered = format!("{}.{}.{}", parts[0], other_parts[1], parts[2]);
        assert_eq!(
            v.verify(&tampered),
            Err(AuthError::Invalid("signature does not match".into()))
        );

        // Flipped signature character.
        let mut bytes = good.clone().into_bytes();
        let last = bytes.len() - 2;
        bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
        assert!(is_invalid(v.verify(&String::from_utf8(bytes).unwrap())));

        // Signature stripped.
        let stripped = format!("{}.{}.", parts[0], parts[1]);
        assert!(is_invalid(v.verify(&stripped)));
    }

    #[test]
    fn rs256_signed_by_another_key_is_invalid() {
        let v = verifier(&AuthConfig {
            rsa_public_key: Some(RSA_OTHER_PUBLIC.into()),
            ..AuthConfig::default()
        });
        let token = sign(
            Algorithm::RS256,
            &rsa_signer(),
            &serde_json::to_value(claims()).unwrap(),
        );
        assert!(is_invalid(v.verify(&token)));
    }

    #[test]
    fn alg_none_is_invalid() {
        let v = verifier(&all_keys());
        let good = mint::hs256(SECRET, &claims()).unwrap();
        let payload = good.split('.').nth(1).unwrap();
        // {"alg":"none","typ":"JWT"} and {"alg":"None"}, base64url.
        for header in ["eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0", "eyJhbGciOiJOb25lIn0"] {
            for token in [
                format!("{header}.{payload}."),
                format!("{header}.{payload}"),
            ] {
                assert!(is_invalid(v.verify(&token)), "{token}");
            }
        }
    }

    #[test]
    fn other_algorithms_are_invalid_even_with_a_matching_key() {
        let v = verifier(&all_keys());
        let c = serde_json::to_value(claims()).unwrap();
        let secret = EncodingKey::from_secret(SECRET.as_bytes());
        for token in [
            sign(Algorithm::HS384, &secret, &c),
            sign(Algorithm::HS512, &secret, &c),
            sign(Algorithm::RS512, &rsa_signer(), &c),
            sign(Algorithm::PS256, &rsa_signer(), &c),
        ] {
            let err = v.verify(&token).unwrap_err();
            assert!(
                matches!(&err, AuthError::Invalid(m) if m.contains("not accepted")),
                "{err}"
            );
        }
    }

    #[test]
    fn no_algorithm_confusion() {
        let c = claims();
        // The classic attack: HS256 "signed" with the server's public RSA key.
        let confused = mint::hs256(RSA_PUBLIC, &c).unwrap();
        let rs_only = verifier(&AuthConfig {
            rsa_public_key: Some(RSA_PUBLIC.into()),
            ..AuthConfig::default()
        });
        assert_eq!(
            rs_only.verify(&confused),
            Err(AuthError::NoKey("HS256".into()))
        );
        // With an HMAC secret too, the HS256 token meets only the secret.
        assert!(is_invalid(verifier(&all_keys()).verify(&confused)));

        // An HMAC token relabelled RS256 meets only the RSA key.
        let hs_token = mint::hs256(SECRET, &c).unwrap();
        let parts: Vec<&str> = hs_token.split('.').collect();
        // {"typ":"JWT","alg":"RS256"}
        let relabelled = format!(
            "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.{}.{}",
            parts[1], parts[2]
        );
        assert!(is_invalid(verifier(&all_keys()).verify(&relabelled)));
        let hs_only = verifier(&AuthConfig {
            hmac_secret: Some(SECRET.into()),
            ..AuthConfig::default()
        });
        assert_eq!(
            hs_only.verify(&relabelled),
            Err(AuthError::NoKey("RS256".into()))
        );
    }

    #[test]
    fn unconfigured_verifier_refuses_everything() {
        let v = verifier(&AuthConfig::default());
        assert!(!v.is_configured());
        let token = mint::hs256(SECRET, &claims()).unwrap();
        assert_eq!(v.verify(&token), Err(AuthError::NoKey("HS256".into())));
    }

    #[test]
    fn missing_exp_is_invalid() {
        let v = verifier(&all_keys());
        let mut c = claims();
        c.exp = None;
        let err = v.verify(&mint::hs256(SECRET, &c).unwrap()).unwrap_err();
        assert_eq!(
            err,
            AuthError::Invalid("missing required claim `exp`".into())
        );
        assert!(is_invalid(v.verify(&hs(&json!({"sub": "a", "exp": null})))));
        assert!(is_invalid(
            v.verify(&hs(&json!({"sub": "a", "exp": "tomorrow"})))
        ));
        assert!(is_invalid(v.verify(&hs(&json!({"sub": "a", "exp": -5})))));
    }

    #[test]
    fn sub_must_be_present_non_empty_string() {
        let v = verifier(&all_keys());
        let mut c = claims();
        c.sub = String::new();
        assert_eq!(
            v.verify(&mint::hs256(SECRET, &c).unwrap()),
            Err(AuthError::Invalid(
                "claim `sub` is not a user id: user id is empty".into()
            ))
        );
        let exp = now() + 60;
        assert!(is_invalid(v.verify(&hs(&json!({"exp": exp})))));
        assert!(is_invalid(v.verify(&hs(&json!({"sub": 42, "exp": exp})))));
        assert!(is_invalid(v.verify(&hs(&json!({"sub": null, "exp": exp})))));
    }

    #[test]
    fn nbf_in_the_future_is_invalid() {
        let v = verifier(&all_keys());
        let exp = now() + 600;
        let token = hs(&json!({"sub": "a", "exp": exp, "nbf": now() + 300}));
        assert_eq!(
            v.verify(&token),
            Err(AuthError::Invalid("token is not valid yet (`nbf`)".into()))
        );
        let token = hs(&json!({"sub": "a", "exp": exp, "nbf": now() - 10}));
        assert!(v.verify(&token).is_ok());
    }

    #[test]
    fn audience_and_issuer() {
        let exp = now() + 600;
        let v = verifier(&AuthConfig {
            audience: Some("chorus".into()),
            issuer: Some("https://auth.example".into()),
            ..all_keys()
        });
        let ok = json!({"sub": "a", "exp": exp, "aud": "chorus", "iss": "https://auth.example"});
        assert!(v.verify(&hs(&ok)).is_ok());
        let ok_list = json!({"sub": "a", "exp": exp, "aud": ["other", "chorus"], "iss": "https://auth.example"});
        assert!(v.verify(&hs(&ok_list)).is_ok());

        for bad in [
            json!({"sub": "a", "exp": exp, "aud": "other", "iss": "https://auth.example"}),
            json!({"sub": "a", "exp": exp, "aud": ["other"], "iss": "https://auth.example"}),
            json!({"sub": "a", "exp": exp, "aud": "chorus", "iss": "https://evil.example"}),
            json!({"sub": "a", "exp": exp, "iss": "https://auth.example"}),
            json!({"sub": "a", "exp": exp, "aud": "chorus"}),
        ] {
            assert!(is_invalid(v.verify(&hs(&bad))), "{bad}");
        }

        // Without a configured audience, a token addressed to someone is refused.
        let plain = verifier(&all_keys());
        let err = plain
            .verify(&hs(&json!({"sub": "a", "exp": exp, "aud": "chorus"})))
            .unwrap_err();
        assert!(matches!(err, AuthError::Invalid(m) if m.contains("accepts no audience")));
        // Without a configured issuer, any `iss` is fine.
        assert!(
            plain
                .verify(&hs(&json!({"sub": "a", "exp": exp, "iss": "anyone"})))
                .is_ok()
        );
    }

    #[test]
    fn crit_header_is_refused() {
        let v = verifier(&all_keys());
        let mut header = Header::new(Algorithm::HS256);
        header.crit = Some(vec!["exp-ext".into()]);
        let token = jsonwebtoken::encode(
            &header,
            &claims(),
            &EncodingKey::from_secret(SECRET.as_bytes()),
        )
        .unwrap();
        assert!(is_invalid(v.verify(&token)));
    }

    #[test]
    fn garbage_is_invalid_without_panicking() {
        let v = verifier(&all_keys());
        let good = mint::hs256(SECRET, &claims()).unwrap();
        let long = "a".repeat(100_000);
        let inputs = [
            "",
            ".",
            "..",
            "...",
            "a.b.c",
            "a.b",
            "not a token",
            "eyJ.eyJ.eyJ",
            "eyJhbGciOiJIUzI1NiJ9..",
            "eyJhbGciOiJIUzI1NiJ9.e30.",
            "eyJhbGciOiJIUzI1NiJ9.bm90IGpzb24.AAAA",
            "\u{0}\u{1}\u{2}",
            "ünïcödé.ü.ü",
            &long,
            &good[..good.len() / 2],
            &format!("{good}.extra"),
            &format!(" {good}"),
        ];
        for input in inputs {
            let result = v.verify(input);
            assert!(is_invalid(result.clone()), "{input:?} -> {result:?}");
        }
    }

    #[test]
    fn error_and_close_codes() {
        assert_eq!(AuthError::Expired.error_code(), ErrorCode::TOKEN_EXPIRED);
        assert_eq!(AuthError::Expired.close_code(), CloseCode::TOKEN_EXPIRED);
        for e in [
            AuthError::Invalid("x".into()),
            AuthError::NoKey("HS256".into()),
        ] {
            assert_eq!(e.error_code(), ErrorCode::UNAUTHORIZED);
            assert_eq!(e.close_code(), CloseCode::UNAUTHORIZED);
            assert_eq!(CloseCode::for_connect_error(e.error_code()), e.close_code());
        }
        assert_eq!(
            CloseCode::for_connect_error(AuthError::Expired.error_code()),
            AuthError::Expired.close_code()
        );
        assert_eq!(CloseCode::UNAUTHORIZED.0, 4500);
        assert_eq!(CloseCode::TOKEN_EXPIRED.0, 4501);
        assert_eq!(
            AuthError::NoKey("RS256".into()).to_string(),
            "no verification key configured for RS256"
        );
    }

    #[test]
    fn grant_matching_table() {
        let table: &[(&str, &str, bool)] = &[
            // Exact names.
            ("chat:lobby", "chat:lobby", true),
            ("chat:lobby", "chat:lobby2", false),
            ("chat:lobby", "chat:Lobby", false),
            ("lobby", "lobby", true),
            // Everything.
            ("*", "chat:lobby", true),
            ("*", "lobby", true),
            ("*", "dm:x#alice,bob", true),
            // Namespace prefix.
            ("chat:*", "chat:lobby", true),
            ("chat:*", "chat:a:b", true),
            ("chat:*", "chat", false),
            ("chat:*", "chatter:x", false),
            ("chat:*", "news:chat:x", false),
            // Name prefix.
            ("chat:room-*", "chat:room-1", true),
            ("chat:room-*", "chat:room-", true),
            ("chat:room-*", "chat:room", false),
            ("chat:room-*", "chat:lobby", false),
            // A bare prefix does not respect namespace boundaries.
            ("chat*", "chatter:x", true),
            // Only a trailing `*` is a wildcard; everything else is literal.
            ("a.b", "a.b", true),
            ("a.b", "axb", false),
            ("a*b", "axb", false),
            ("a*b", "a*b", true),
            ("chat:>", "chat:x", false),
            ("chat:>", "chat:>", true),
            ("chat:.*", "chat:x", false),
            ("chat:.*", "chat:.x", true),
            ("**", "*x", true),
            ("**", "x", false),
            ("chat:?", "chat:x", false),
            // The empty grant admits nothing.
            ("", "", false),
            ("", "x", false),
        ];
        for &(grant, channel, expected) in table {
            assert_eq!(
                grant_matches(grant, channel),
                expected,
                "grant {grant:?} vs channel {channel:?}"
            );
        }
    }

    #[test]
    fn may_subscribe_and_publish_use_their_own_grants() {
        let c = Claims {
            sub: "alice".into(),
            subs: vec!["chat:*".into(), "news".into()],
            pubs: vec!["chat:lobby".into()],
            ..Claims::default()
        };
        assert!(
            c.may_subscribe("chat:lobby") && c.may_subscribe("chat:x") && c.may_subscribe("news")
        );
        assert!(!c.may_subscribe("news:x") && !c.may_subscribe("dm:x"));
        assert!(c.may_publish("chat:lobby"));
        assert!(!c.may_publish("chat:x") && !c.may_publish("news"));
        assert!(!Claims::default().may_subscribe("x") && !Claims::default().may_publish("x"));
    }

    #[test]
    fn expires_in_ms() {
        let c = Claims {
            exp: Some(1_000),
            ..Claims::default()
        };
        assert_eq!(c.expires_in_ms(990_500), Some(9_500));
        assert_eq!(c.expires_in_ms(1_000_000), Some(0));
        assert_eq!(c.expires_in_ms(2_000_000), Some(0));
        assert_eq!(Claims::default().expires_in_ms(0), None);
        let far = Claims {
            exp: Some(u64::MAX),
            ..Claims::default()
        };
        assert_eq!(far.expires_in_ms(0), Some(u64::MAX));
    }

    #[test]
    fn minted_tokens_omit_absent_fields() {
        let token = mint::hs256(
            SECRET,
            &Claims {
                sub: "a".into(),
                exp: Some(5),
                ..Claims::default()
            },
        )
        .unwrap();
        let c: serde_json::Value = jsonwebtoken::dangerous::insecure_decode_claims(&token).unwrap();
        assert_eq!(c, json!({"sub": "a", "exp": 5}));
    }

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

    fn config_error(config: AuthConfig) -> AuthConfigError {
        Verifier::new(&config).unwrap_err()
    }

    #[test]
    fn bad_pem_names_the_option() {
        let garbage = "-----BEGIN PUBLIC KEY-----\nbm90IGEga2V5\n-----END PUBLIC KEY-----\n";
        for (pem, fragment) in [
            ("not a pem", "not a file path"),
            ("server/keys/rsa.pem", "not a file path"),
            (garbage, "invalid PEM"),
            (RSA_PRIVATE, "private key"),
            (EC_PUBLIC, "not an RSA public key"),
            (RSA_1024_PUBLIC, "1024 bits"),
        ] {
            let err = config_error(AuthConfig {
                rsa_public_key: Some(pem.into()),
                ..AuthConfig::default()
            });
            let text = err.to_string();
            assert!(matches!(err, AuthConfigError::RsaPublicKey(_)), "{text}");
            assert_eq!(err.option(), "auth.rsa_public_key");
            assert!(text.starts_with("auth.rsa_public_key: "), "{text}");
            assert!(text.contains(fragment), "{text}");
            assert!(!text.contains("MII"), "key material leaked: {text}");
        }
        for (pem, fragment) in [
            ("", "not a file path"),
            (garbage, "invalid PEM"),
            (EC_PRIVATE, "private key"),
            (RSA_PUBLIC, "not an EC public key"),
            (EC_P384_PUBLIC, "P-384"),
        ] {
            let err = config_error(AuthConfig {
                ecdsa_public_key: Some(pem.into()),
                ..AuthConfig::default()
            });
            let text = err.to_string();
            assert!(matches!(err, AuthConfigError::EcdsaPublicKey(_)), "{text}");
            assert!(text.starts_with("auth.ecdsa_public_key: "), "{text}");
            assert!(text.contains(fragment), "{text}");
        }
    }

    #[test]
    fn weak_or_empty_settings_are_refused() {
        let err = config_error(AuthConfig {
            hmac_secret: Some("secret".into()),
            ..AuthConfig::default()
        });
        assert!(
            err.to_string()
                .starts_with("auth.hmac_secret: is 6 bytes long"),
            "{err}"
        );
        assert!(!err.to_string().contains("\"secret\""));
        assert!(matches!(
            config_error(AuthConfig {
                hmac_secret: Some(String::new()),
                ..AuthConfig::default()
            }),
            AuthConfigError::HmacSecret(_)
        ));
        assert_eq!(
            config_error(AuthConfig {
                audience: Some(String::new()),
                ..all_keys()
            })
            .option(),
            "auth.audience"
        );
        assert_eq!(
            config_error(AuthConfig {
                issuer: Some(String::new()),
                ..all_keys()
            })
            .option(),
            "auth.issuer"
        );
        let err = config_error(AuthConfig {
            leeway_secs: MAX_LEEWAY_SECS + 1,
            ..all_keys()
        });
        assert_eq!(err.option(), "auth.leeway_secs");
        assert!(
            Verifier::new(&AuthConfig {
                leeway_secs: MAX_LEEWAY_SECS,
                ..all_keys()
            })
            .is_ok()
        );
    }

    #[test]
    fn pkcs1_rsa_public_key_is_accepted() {
        // The same key as rsa_public.pem in PKCS#1 form (`RSA PUBLIC KEY`),
        // converted here rather than stored as another fixture.
        let key = DecodingKey::from_rsa_pem(RSA_PUBLIC.as_bytes()).unwrap();
        let der = key.try_get_as_bytes().unwrap();
        let pem = pem_encode("RSA PUBLIC KEY", der);
        let v = verifier(&AuthConfig {
            rsa_public_key: Some(pem),
            ..AuthConfig::default()
        });
        let token = sign(
            Algorithm::RS256,
            &rsa_signer(),
            &serde_json::to_value(claims()).unwrap(),
        );
        assert!(v.verify(&token).is_ok());
    }

    /// Minimal PEM writer (standard base64, 64-column lines) for the test above.
    fn pem_encode(label: &str, der: &[u8]) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut b64 = String::new();
        for chunk in der.chunks(3) {
            let n = chunk
                .iter()
                .enumerate()
                .fold(0u32, |acc, (i, b)| acc | u32::from(*b) << (16 - 8 * i));
            for i in 0..4 {
                if i <= chunk.len() {
                    b64.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
                } else {
                    b64.push('=');
                }
            }
        }
        let lines: Vec<&str> = b64
            .as_bytes()
            .chunks(64)
            .map(|l| std::str::from_utf8(l).unwrap())
            .collect();
        format!(
            "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
            lines.join("\n")
        )
    }

    #[test]
    fn bit_len_counts_significant_bits() {
        assert_eq!(bit_len(&[]), 0);
        assert_eq!(bit_len(&[0, 0]), 0);
        assert_eq!(bit_len(&[1]), 1);
        assert_eq!(bit_len(&[0, 0x80, 0]), 16);
        assert_eq!(bit_len(&[0xff; 256]), 2048);
    }
}
