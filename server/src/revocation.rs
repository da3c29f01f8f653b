//! Token revocation: one token (by its `jti`), or every token of a user issued
//! before a time. A revocation closes the matching connections on every node
//! (close 4505 `token_revoked`) and refuses new connects and refreshes with a
//! matching token; it is kept until the tokens it covers would have expired.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// What a revocation covers: one token, or a user's tokens up to a time (the `jti` and `user`
/// forms of `POST /api/revoke`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Revoked {
    /// The token with this `jti`.
    Token {
        /// The `jti` claim to match exactly; a token without `jti` is never covered.
        jti: String,
    },
    /// Every token of `user` issued before `before` (Unix seconds; tokens
    /// without `iat` count as issued before).
    User {
        /// The user id (`sub`); anonymous connections are never covered.
        user: String,
        /// Tokens issued earlier are revoked.
        before: u64,
    },
}

/// A revocation and how long it is kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revocation {
    /// What it covers: a token by `jti`, or a user's tokens by `iat`.
    #[serde(flatten)]
    pub revoked: Revoked,
    /// Unix seconds after which the covered tokens have expired anyway, and the
    /// revocation is forgotten.
    pub until: u64,
}

/// The identity of the token a connection holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct TokenId {
    /// The token's `jti`, if any: without one it cannot be revoked on its own.
    pub jti: Option<String>,
    /// The token's `iat`, if any: without one, every revocation of its user covers it.
    pub iat: Option<u64>,
}

impl Revocation {
    /// Whether a token of `user` with identity `token` is revoked by this.
    pub(crate) fn covers(&self, user: &str, token: &TokenId) -> bool {
        match &self.revoked {
            Revoked::Token { jti } => token.jti.as_deref() == Some(jti.as_str()),
            Revoked::User { user: u, before } => {
                u == user && token.iat.is_none_or(|iat| iat < *before)
            }
        }
    }
}

/// Revocations kept in memory (the memory broker; NATS keeps them in a bucket).
#[derive(Debug, Default)]
pub(crate) struct RevocationList {
    tokens: HashMap<String, u64>,
    users: HashMap<String, (u64, u64)>,
}

impl RevocationList {
    /// Records a revocation (a later `before` for a user replaces an earlier one).
    pub(crate) fn add(&mut self, r: &Revocation, now: u64) {
        self.tokens.retain(|_, until| *until > now);
        self.users.retain(|_, (_, until)| *until > now);
        match &r.revoked {
            Revoked::Token { jti } => {
                let until = self.tokens.entry(jti.clone()).or_default();
                *until = (*until).max(r.until);
            }
            Revoked::User { user, before } => {
                let entry = self.users.entry(user.clone()).or_default();
                *entry = ((*before).max(entry.0), r.until.max(entry.1));
            }
        }
    }

    /// Whether a token of `user` is revoked at `now`.
    pub(crate) fn is_revoked(&self, user: &str, token: &TokenId, now: u64) -> bool {
        let by_jti = token
            .jti
            .as_ref()
            .and_then(|j| self.tokens.get(j))
            .is_some_and(|until| *until > now);
        let by_user = self.users.get(user).is_some_and(|(before, until)| {
            *until > now && token.iat.is_none_or(|iat| iat < *before)
        });
        by_jti || by_user
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(jti: Option<&str>, iat: Option<u64>) -> TokenId {
        TokenId {
            jti: jti.map(Into::into),
            iat,
        }
    }

    #[test]
    fn revokes_by_jti_and_by_user_until_expiry() {
        let mut list = RevocationList::default();
        list.add(
            &Revocation {
                revoked: Revoked::Token { jti: "t1".into() },
                until: 100,
            },
            10,
        );
        list.add(
            &Revocation {
                revoked: Revoked::User {
                    user: "bob".into(),
                    before: 50,
                },
                until: 200,
            },
            10,
        );
        assert!(list.is_revoked("alice", &token(Some("t1"), Some(1)), 20));
        assert!(!list.is_revoked("alice", &token(Some("t2"), Some(1)), 20));
        assert!(
            !list.is_revoked("alice", &token(Some("t1"), Some(1)), 100),
            "expired"
        );
        assert!(list.is_revoked("bob", &token(None, Some(49)), 20));
        assert!(
            list.is_revoked("bob", &token(None, None), 20),
            "no iat: revoked"
        );
        assert!(
            !list.is_revoked("bob", &token(None, Some(50)), 20),
            "issued after"
        );
        let r = Revocation {
            revoked: Revoked::User {
                user: "bob".into(),
                before: 50,
            },
            until: 200,
        };
        assert!(r.covers("bob", &token(None, Some(10))));
        assert!(!r.covers("carol", &token(None, Some(10))));
    }
}
