//! Token minting, for app backends, tests, the conformance suite and the
//! server's dev-mode demo tokens. Signing needs only what verification already links in, and
//! keeping it next to [`Verifier`](super::Verifier) guarantees both agree on
//! the claim format.

use jsonwebtoken::{Algorithm, EncodingKey, Header};

use super::AuthError;
use super::keys::ensure_crypto_provider;

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

/// A fresh random token id for the `jti` claim (16 hex digits from the
/// operating system's generator): a token that has one can be revoked on its
/// own, without the user's other tokens.
pub fn random_jti() -> String {
    crate::ids::random_hex(8)
}
