//! The claims Chorus reads from a connection token, and the RFC 7519 date
//! format (`numeric_date`) its `exp` and `iat` are read in.

use serde::{Deserialize, Serialize};

use crate::permissions::grant_matches;

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
    /// Expiry, seconds since the Unix epoch. [`Verifier::verify`](super::Verifier::verify) refuses tokens
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
    /// Channel grants for subscribing: exact channel names, `*`, or a prefix
    /// ending in `*` (`chat:*`); see [`Claims::may_subscribe`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subs: Vec<String>,
    /// Channel grants for publishing, written as `subs`; see
    /// [`Claims::may_publish`].
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::auth::fixtures::{SECRET, all_keys, hs, verifier};
    use crate::auth::mint;
    use crate::clock::unix_secs;

    #[test]
    fn minimal_claims_decode_with_defaults() {
        let v = verifier(&all_keys());
        let exp = unix_secs() + 60;
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
        let exp = unix_secs() + 100;
        let token = hs(&json!({"sub": "bob", "exp": exp as f64 + 0.6}));
        assert_eq!(v.verify(&token).unwrap().exp, Some(exp + 1));
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
}
