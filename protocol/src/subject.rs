//! Injective encoding of channel names and user ids into NATS subject tokens.
//!
//! A NATS subject is a `.`-separated list of tokens; `*` and `>` are wildcards and
//! whitespace ends the subject. A client-chosen name must never widen or redirect a
//! subscription, so every name becomes exactly one token over the alphabet
//! `A-Z a-z 0-9 -` plus `_` as an escape: each byte outside `A-Z a-z 0-9 -`
//! (including `_` itself) is written `_XX` with two upper-case hex digits. The empty
//! string is written `_` alone, which no other input produces.
//!
//! The encoding is a bijection onto its image, so two different names never share
//! a subject (property-tested below), and [`decode_token`] reverses it.

/// Encodes any string as one NATS-safe subject token.
pub fn encode_token(s: &str) -> String {
    if s.is_empty() {
        return "_".to_owned();
    }
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' {
            out.push(b as char);
        } else {
            const HEX: &[u8; 16] = b"0123456789ABCDEF";
            out.push('_');
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 0xf)] as char);
        }
    }
    out
}

/// Reverses [`encode_token`]; `None` for a token it cannot have produced.
pub fn decode_token(token: &str) -> Option<String> {
    if token == "_" {
        return Some(String::new());
    }
    let bytes = token.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'_' {
            let hex = |c: u8| match c {
                b'0'..=b'9' => Some(c - b'0'),
                b'A'..=b'F' => Some(c - b'A' + 10),
                _ => None,
            };
            let hi = hex(*bytes.get(i + 1)?)?;
            let lo = hex(*bytes.get(i + 2)?)?;
            let decoded = hi << 4 | lo;
            if decoded.is_ascii_alphanumeric() || decoded == b'-' {
                return None; // not canonical: encode_token writes these literally
            }
            out.push(decoded);
            i += 3;
        } else if b.is_ascii_alphanumeric() || b == b'-' {
            out.push(b);
            i += 1;
        } else {
            return None;
        }
    }
    if out.is_empty() {
        return None;
    }
    String::from_utf8(out).ok()
}

/// Subject of a channel: `<prefix>.ch.<token>`.
pub fn channel_subject(prefix: &str, channel: &str) -> String {
    format!("{prefix}.ch.{}", encode_token(channel))
}

/// Subject of a user's personal messages: `<prefix>.user.<token>`.
pub fn user_subject(prefix: &str, user: &str) -> String {
    format!("{prefix}.user.{}", encode_token(user))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn is_safe(token: &str) -> bool {
        !token.is_empty()
            && token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    }

    #[test]
    fn examples() {
        assert_eq!(encode_token("chat:lobby"), "chat_3Alobby");
        assert_eq!(encode_token("a.b"), "a_2Eb");
        assert_eq!(encode_token("*"), "_2A");
        assert_eq!(encode_token(">"), "_3E");
        assert_eq!(encode_token("a b"), "a_20b");
        assert_eq!(encode_token("a_b"), "a_5Fb");
        assert_eq!(encode_token(""), "_");
        assert_eq!(
            channel_subject("chorus", "chat:a.>"),
            "chorus.ch.chat_3Aa_2E_3E"
        );
    }

    #[test]
    fn non_canonical_tokens_are_rejected() {
        assert_eq!(decode_token("_41"), None); // 'A' must be literal
        assert_eq!(decode_token("_4"), None);
        assert_eq!(decode_token("a.b"), None);
        assert_eq!(decode_token(""), None);
    }

    proptest! {
        #[test]
        fn tokens_are_safe_and_reversible(s in any::<String>()) {
            let token = encode_token(&s);
            prop_assert!(is_safe(&token), "{token:?}");
            prop_assert_eq!(decode_token(&token), Some(s));
        }

        #[test]
        fn different_names_never_share_a_subject(a in any::<String>(), b in any::<String>()) {
            prop_assume!(a != b);
            prop_assert_ne!(channel_subject("p", &a), channel_subject("p", &b));
        }

        #[test]
        fn near_collisions_stay_apart(s in "[a-z_.*> ]{0,8}", t in "[a-z_.*> ]{0,8}") {
            prop_assume!(s != t);
            prop_assert_ne!(encode_token(&s), encode_token(&t));
        }
    }
}
