//! Keys, claims and signing helpers shared by the auth unit tests. The PEM
//! files are the test-only key pairs of `server/tests/auth_keys`.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

use super::{AuthConfig, AuthConfigError, AuthError, Claims, Verifier};
use crate::clock::unix_secs;

pub(super) const SECRET: &str = "0123456789abcdef0123456789abcdef-test-only";
pub(super) const RSA_PRIVATE: &str = include_str!("../../tests/auth_keys/rsa_private.pem");
pub(super) const RSA_PUBLIC: &str = include_str!("../../tests/auth_keys/rsa_public.pem");
pub(super) const RSA_OTHER_PUBLIC: &str =
    include_str!("../../tests/auth_keys/rsa_other_public.pem");
pub(super) const RSA_1024_PUBLIC: &str = include_str!("../../tests/auth_keys/rsa_1024_public.pem");
pub(super) const EC_PRIVATE: &str = include_str!("../../tests/auth_keys/ec_private.pem");
pub(super) const EC_PUBLIC: &str = include_str!("../../tests/auth_keys/ec_public.pem");
pub(super) const EC_P384_PUBLIC: &str = include_str!("../../tests/auth_keys/ec_p384_public.pem");

pub(super) fn all_keys() -> AuthConfig {
    AuthConfig {
        hmac_secret: Some(SECRET.into()),
        rsa_public_key: Some(RSA_PUBLIC.into()),
        ecdsa_public_key: Some(EC_PUBLIC.into()),
        ..AuthConfig::default()
    }
}

pub(super) fn verifier(config: &AuthConfig) -> Verifier {
    Verifier::new(config).unwrap()
}

pub(super) fn claims() -> Claims {
    Claims {
        sub: "alice".into(),
        exp: Some(unix_secs() + 600),
        iat: Some(unix_secs()),
        jti: Some("t-1".into()),
        info: Some(json!({"name": "Alice"})),
        subs: vec!["chat:*".into()],
        pubs: vec!["chat:lobby".into()],
        broadcast: true,
    }
}

/// Signs arbitrary JSON claims with any algorithm and key.
pub(super) fn sign(alg: Algorithm, key: &EncodingKey, claims: &serde_json::Value) -> String {
    jsonwebtoken::encode(&Header::new(alg), claims, key).unwrap()
}

pub(super) fn rsa_signer() -> EncodingKey {
    EncodingKey::from_rsa_pem(RSA_PRIVATE.as_bytes()).unwrap()
}

pub(super) fn ec_signer() -> EncodingKey {
    EncodingKey::from_ec_pem(EC_PRIVATE.as_bytes()).unwrap()
}

pub(super) fn hs(claims: &serde_json::Value) -> String {
    sign(
        Algorithm::HS256,
        &EncodingKey::from_secret(SECRET.as_bytes()),
        claims,
    )
}

pub(super) fn is_invalid(r: Result<Claims, AuthError>) -> bool {
    matches!(r, Err(AuthError::Invalid(_)))
}

pub(super) fn config_error(config: AuthConfig) -> AuthConfigError {
    Verifier::new(&config).unwrap_err()
}
