//! The token path of `connect` and `refresh`: whatever the token, verifying it
//! never panics, a token not signed with a configured key is never accepted,
//! and an accepted token always has the claims the server relies on (a valid
//! user id and an expiry not in the past). The grants of
//! an accepted token are then checked against fuzzed channel names, as the
//! session does for every subscribe and publish.
//!
//! Random bytes almost never form a signed token, so most inputs are signed
//! here with the configured HMAC secret: the fuzzer then explores the header
//! and claims that reach the claim checks. The first byte picks the shape:
//!
//! * `0`: the rest, as text, is the whole token (forgeries, `alg: none`, junk);
//! * `1`: one of a few headers (some of which must be refused whatever the
//!   signature) over the rest as the claims, signed with the secret;
//! * `2`: the rest split at its first `\n`: header and claims, both fuzzed,
//!   signed with the secret.
#![no_main]

use std::sync::LazyLock;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chorus_protocol::{Channel, check_user_id};
use chorus_server::auth::{AuthConfig, Claims, Verifier};
use chorus_server::config::{NamespaceConfig, PublishPolicy, SubscribePolicy};
use chorus_server::testing::{Principal, may_publish, may_subscribe};
use jsonwebtoken::{Algorithm, EncodingKey};
use libfuzzer_sys::fuzz_target;

const SECRET: &str = "fuzzing-only-secret-0123456789abcdef";
const AUDIENCE: &str = "chorus-fuzz";
const LEEWAY_SECS: u64 = 5;

static VERIFIER: LazyLock<Verifier> = LazyLock::new(|| {
    let config = AuthConfig {
        hmac_secret: Some(SECRET.to_owned()),
        rsa_public_key: Some(include_str!("../../server/tests/auth_keys/rsa_public.pem").into()),
        ecdsa_public_key: Some(include_str!("../../server/tests/auth_keys/ec_public.pem").into()),
        audience: Some(AUDIENCE.to_owned()),
        leeway_secs: LEEWAY_SECS,
        ..AuthConfig::default()
    };
    Verifier::new(&config).expect("the fuzzing config is valid")
});

/// Headers for shape `1`, with whether a correct HMAC signature makes them
/// acceptable: only a plain HS256 header is.
const HEADERS: &[(&str, bool)] = &[
    (r#"{"alg":"HS256","typ":"JWT"}"#, true),
    (r#"{"alg":"HS256"}"#, true),
    // The HMAC secret must never verify an RS256 or ES256 token (algorithm confusion).
    (r#"{"alg":"RS256","typ":"JWT"}"#, false),
    (r#"{"alg":"ES256","typ":"JWT"}"#, false),
    (r#"{"alg":"none","typ":"JWT"}"#, false),
    (r#"{"alg":"HS384","typ":"JWT"}"#, false),
    (r#"{"alg":"HS256","crit":["exp"]}"#, false),
    // Keys are never taken from the token.
    (
        r#"{"alg":"HS256","jwk":{"kty":"oct","k":"QUFBQQ"},"jku":"http://x"}"#,
        true,
    ),
];

fn signed(header: &[u8], claims: &[u8]) -> String {
    let message = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims)
    );
    let key = EncodingKey::from_secret(SECRET.as_bytes());
    let signature =
        jsonwebtoken::crypto::sign(message.as_bytes(), &key, Algorithm::HS256).expect("HMAC signs");
    format!("{message}.{signature}")
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// What the server relies on in every accepted token.
fn check_accepted(claims: &Claims, probe: &str) {
    assert!(check_user_id(&claims.sub).is_ok(), "sub {:?}", claims.sub);
    let exp = claims.exp.expect("exp is required");
    assert!(exp + LEEWAY_SECS >= now_secs(), "expired token accepted");
    let _ = claims.expires_in_ms(now_secs().saturating_mul(1000));

    // The session's checks for every channel the token names, and the probe.
    let strict = NamespaceConfig {
        subscribe: SubscribePolicy::Grants,
        publish: PublishPolicy::Subscribers,
        ..NamespaceConfig::default()
    };
    let who = Principal {
        user: &claims.sub,
        claims: Some(claims),
    };
    let names = claims.subs.iter().chain(&claims.pubs).map(String::as_str);
    for name in names.chain([probe]) {
        if let Ok(channel) = Channel::parse(name) {
            let sub = may_subscribe(&strict, who, &channel);
            let _ = may_publish(&strict, who, &channel, sub.is_ok());
            if !channel.admits_user(&claims.sub) {
                assert!(sub.is_err(), "a grant overrode the user list of {name}");
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&shape, rest)) = data.split_first() else {
        return;
    };
    match shape % 3 {
        0 => {
            let token = String::from_utf8_lossy(rest);
            assert!(VERIFIER.verify(&token).is_err(), "unsigned token accepted");
        }
        1 => {
            let Some((&pick, claims)) = rest.split_first() else {
                return;
            };
            let (header, acceptable) = HEADERS[usize::from(pick) % HEADERS.len()];
            let result = VERIFIER.verify(&signed(header.as_bytes(), claims));
            match result {
                Ok(accepted) => {
                    assert!(acceptable, "header {header} accepted");
                    let probe = String::from_utf8_lossy(claims);
                    check_accepted(&accepted, &probe);
                }
                Err(error) => {
                    let _ = (error.error_code(), error.close_code(), error.to_string());
                }
            }
        }
        _ => {
            let split = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
            let (header, claims) = rest.split_at(split);
            let claims = claims.get(1..).unwrap_or_default();
            let token = signed(header, claims);
            if let Ok(accepted) = VERIFIER.verify(&token) {
                let parsed =
                    jsonwebtoken::decode_header(&token).expect("an accepted token has a header");
                assert_eq!(parsed.alg, Algorithm::HS256, "header {header:?}");
                check_accepted(&accepted, "");
            }
        }
    }
});
