//! `chorus token`: a signed connection token from the node's own
//! configuration, so that trying Chorus, scripting against it or testing an
//! app needs no token code. It signs HS256 with `auth.hmac_secret` (from the
//! configuration file or `CHORUS_AUTH__HMAC_SECRET`), or, for a development
//! node, with the secret in its credentials file ([`crate::dev`]); it adds
//! `iss` and `aud` when the node requires them. A node that verifies RS256 or
//! ES256 holds only a public key: such tokens come from the issuer that has
//! the private key.

use std::time::Duration;

use serde::Serialize;
use thiserror::Error;

use crate::auth::{AuthError, Claims};
use crate::config::Config;

/// What the token says.
#[derive(Debug, Clone, Default)]
pub struct TokenRequest {
    /// The user id (`sub`).
    pub user: String,
    /// How long the token is valid.
    pub ttl: Duration,
    /// Channel grants for subscribing (`subs`).
    pub subscribe: Vec<String>,
    /// Channel grants for publishing (`pubs`).
    pub publish: Vec<String>,
    /// Allows the `broadcast` command (the `broadcast` claim), which reaches every connection.
    pub broadcast: bool,
    /// Connection info shown to others (`info`), as JSON.
    pub info: Option<serde_json::Value>,
    /// A token id (`jti`), so that this token can be revoked on its own.
    pub jti: Option<String>,
}

/// Why no token could be made.
#[derive(Debug, Error)]
pub enum TokenError {
    /// The node has no HMAC secret to sign with.
    #[error(
        "the node has no HMAC secret: set auth.hmac_secret (or CHORUS_AUTH__HMAC_SECRET), or pass --dev while a development node runs on this port"
    )]
    NoSecret,
    /// The node verifies with a public key only.
    #[error(
        "the node verifies RS256/ES256 tokens with a public key only; sign them with your issuer's private key"
    )]
    PublicKeyOnly,
    /// The user id is empty.
    #[error("the user id must not be empty")]
    EmptyUser,
    /// The JWT library could not sign the claims (reported as [`AuthError::Invalid`]).
    #[error(transparent)]
    Sign(#[from] AuthError),
}

/// The claims and, when the node requires them, `iss` and `aud`.
#[derive(Serialize)]
struct Signed<'a> {
    #[serde(flatten)]
    claims: &'a Claims,
    #[serde(skip_serializing_if = "Option::is_none")]
    iss: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    aud: Option<&'a str>,
}

/// Mints a token for `request` that a node with `config` accepts; `dev_secret`
/// is a development node's generated secret, used when `config` has none.
pub fn mint(
    config: &Config,
    dev_secret: Option<&str>,
    request: &TokenRequest,
    now_unix_secs: u64,
) -> Result<String, TokenError> {
    if request.user.is_empty() {
        return Err(TokenError::EmptyUser);
    }
    let auth = &config.auth;
    let secret = match (auth.hmac_secret.as_deref(), dev_secret) {
        (Some(secret), _) => secret,
        (None, _) if auth.rsa_public_key.is_some() || auth.ecdsa_public_key.is_some() => {
            return Err(TokenError::PublicKeyOnly);
        }
        (None, Some(secret)) => secret,
        (None, None) => return Err(TokenError::NoSecret),
    };
    let claims = Claims {
        sub: request.user.clone(),
        exp: Some(now_unix_secs + request.ttl.as_secs().max(1)),
        iat: Some(now_unix_secs),
        jti: request.jti.clone(),
        info: request.info.clone(),
        subs: request.subscribe.clone(),
        pubs: request.publish.clone(),
        broadcast: request.broadcast,
    };
    let signed = Signed {
        claims: &claims,
        iss: auth.issuer.as_deref(),
        aud: auth.audience.as_deref(),
    };
    Ok(crate::auth::mint::hs256(secret, &signed)?)
}

/// Reads a duration written as seconds (`3600`) or with a unit (`90s`, `15m`,
/// `24h`, `7d`).
pub fn parse_ttl(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => text.split_at(i),
        None => (text, "s"),
    };
    let n: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration (e.g. 3600, 90s, 15m, 24h, 7d)"))?;
    let unit_secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("`{text}`: the unit is one of s, m, h, d")),
    };
    if n == 0 {
        return Err("the token must be valid for at least a second".to_owned());
    }
    Ok(Duration::from_secs(n.saturating_mul(unit_secs)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Verifier;

    const SECRET: &str = "0123456789abcdef0123456789abcdef-test-only";

    fn now() -> u64 {
        crate::clock::unix_secs()
    }

    fn request() -> TokenRequest {
        TokenRequest {
            user: "alice".into(),
            ttl: Duration::from_secs(600),
            subscribe: vec!["chat:*".into()],
            publish: vec!["chat:lobby".into()],
            broadcast: true,
            info: Some(serde_json::json!({"name": "Alice"})),
            jti: Some("t-1".into()),
        }
    }

    #[test]
    fn the_node_accepts_what_it_mints_with_issuer_and_audience() {
        let mut config = Config::default();
        config.auth.hmac_secret = Some(SECRET.into());
        config.auth.issuer = Some("https://issuer.example".into());
        config.auth.audience = Some("chorus".into());
        let token = mint(&config, None, &request(), now()).unwrap();
        let claims = Verifier::new(&config.auth).unwrap().verify(&token).unwrap();
        assert_eq!(claims.sub, "alice");
        assert_eq!(claims.subs, ["chat:*"]);
        assert_eq!(claims.pubs, ["chat:lobby"]);
        assert!(claims.broadcast);
        assert_eq!(claims.jti.as_deref(), Some("t-1"));
        assert_eq!(claims.info, Some(serde_json::json!({"name": "Alice"})));
        let left = claims.exp.unwrap() - now();
        assert!((590..=600).contains(&left), "{left}");
        // Another node's audience refuses it.
        config.auth.audience = Some("another".into());
        assert!(Verifier::new(&config.auth).unwrap().verify(&token).is_err());
    }

    #[test]
    fn a_development_secret_serves_when_the_configuration_has_none() {
        let config = Config::default();
        assert!(matches!(
            mint(&config, None, &request(), now()),
            Err(TokenError::NoSecret)
        ));
        let token = mint(&config, Some(SECRET), &request(), now()).unwrap();
        let mut verifying = config.clone();
        verifying.auth.hmac_secret = Some(SECRET.into());
        assert!(
            Verifier::new(&verifying.auth)
                .unwrap()
                .verify(&token)
                .is_ok()
        );
    }

    #[test]
    fn a_public_key_only_node_and_an_empty_user_are_refused() {
        let mut config = Config::default();
        config.auth.ecdsa_public_key = Some("-----BEGIN PUBLIC KEY-----".into());
        assert!(matches!(
            mint(&config, Some(SECRET), &request(), now()),
            Err(TokenError::PublicKeyOnly)
        ));
        let mut config = Config::default();
        config.auth.hmac_secret = Some(SECRET.into());
        let empty = TokenRequest {
            user: String::new(),
            ..request()
        };
        assert!(matches!(
            mint(&config, None, &empty, now()),
            Err(TokenError::EmptyUser)
        ));
    }

    #[test]
    fn durations_read_with_and_without_units() {
        assert_eq!(parse_ttl("3600"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_ttl("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_ttl("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_ttl("24h"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_ttl("7d"), Ok(Duration::from_secs(604_800)));
        assert!(parse_ttl("0").is_err());
        assert!(parse_ttl("1w").is_err());
        assert!(parse_ttl("soon").is_err());
    }
}
