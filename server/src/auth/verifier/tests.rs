//! The verifier against genuine, expired, forged and malformed tokens, and the
//! config checks of [`Verifier::new`].

use jsonwebtoken::{EncodingKey, Header};
use serde_json::json;

use super::*;
use crate::auth::fixtures::{
    EC_PUBLIC, RSA_OTHER_PUBLIC, RSA_PUBLIC, SECRET, all_keys, claims, config_error, ec_signer, hs,
    is_invalid, rsa_signer, sign, verifier,
};
use crate::auth::mint;
use crate::clock::unix_secs;

#[test]
fn a_sub_that_breaks_the_user_id_grammar_is_refused() {
    let v = verifier(&all_keys());
    let exp = unix_secs() + 60;
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
fn expired_token_is_expired() {
    let v = verifier(&all_keys());
    let mut c = claims();
    c.exp = Some(unix_secs() - 3600);
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
        v.verify(&hs(&json!({"sub": "a", "exp": unix_secs() - 2})))
            .is_ok()
    );
    assert_eq!(
        v.verify(&hs(&json!({"sub": "a", "exp": unix_secs() - 30}))),
        Err(AuthError::Expired)
    );
    let strict = verifier(&AuthConfig {
        leeway_secs: 0,
        ..all_keys()
    });
    assert_eq!(
        strict.verify(&hs(&json!({"sub": "a", "exp": unix_secs() - 2}))),
        Err(AuthError::Expired)
    );
}

#[test]
fn forged_expired_token_is_invalid_not_expired() {
    let v = verifier(&all_keys());
    let mut c = claims();
    c.exp = Some(unix_secs() - 3600);
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
    let exp = unix_secs() + 60;
    assert!(is_invalid(v.verify(&hs(&json!({"exp": exp})))));
    assert!(is_invalid(v.verify(&hs(&json!({"sub": 42, "exp": exp})))));
    assert!(is_invalid(v.verify(&hs(&json!({"sub": null, "exp": exp})))));
}

#[test]
fn nbf_in_the_future_is_invalid() {
    let v = verifier(&all_keys());
    let exp = unix_secs() + 600;
    let token = hs(&json!({"sub": "a", "exp": exp, "nbf": unix_secs() + 300}));
    assert_eq!(
        v.verify(&token),
        Err(AuthError::Invalid("token is not valid yet (`nbf`)".into()))
    );
    let token = hs(&json!({"sub": "a", "exp": exp, "nbf": unix_secs() - 10}));
    assert!(v.verify(&token).is_ok());
}

#[test]
fn audience_and_issuer() {
    let exp = unix_secs() + 600;
    let v = verifier(&AuthConfig {
        audience: Some("chorus".into()),
        issuer: Some("https://auth.example".into()),
        ..all_keys()
    });
    let ok = json!({"sub": "a", "exp": exp, "aud": "chorus", "iss": "https://auth.example"});
    assert!(v.verify(&hs(&ok)).is_ok());
    let ok_list =
        json!({"sub": "a", "exp": exp, "aud": ["other", "chorus"], "iss": "https://auth.example"});
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
