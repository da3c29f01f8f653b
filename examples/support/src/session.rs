//! Signing a user in: what an app's backend does before its page connects.
//!
//! A real app checks a password or a session cookie first; these examples
//! trust the name the user types, which is fine on a development server and
//! nowhere else. The token is what Chorus checks: `sub` is the user, `info`
//! is shown to others in presence and join/leave, `exp` bounds its life and
//! `jti`/`iat` make it revocable (docs/users.md).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chorus_server::auth::{Claims, mint};
use serde::Serialize;

/// How long a token lives; the browser SDK asks for a new one before it expires.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(3600);

/// Why a sign-in was refused.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The name is not 1 to 32 letters, digits, `_` or `-`.
    #[error("a user name is 1 to 32 letters, digits, '_' or '-'")]
    BadName,
    /// Signing failed (a server key problem, not the user's).
    #[error("cannot sign the token: {0}")]
    Sign(String),
}

/// What the page gets back: where to connect, as whom, with which token.
#[derive(Debug, Clone, Serialize)]
pub struct Session {
    /// The WebSocket endpoint.
    pub ws: String,
    /// The signed-in user.
    pub user: String,
    /// The token (HS256).
    pub token: String,
}

/// Whether `name` is a user name the examples accept. Names end up in channel
/// names (`demo:dm#alice,bob`), so the grammar is kept narrow.
pub fn valid_name(name: &str) -> bool {
    (1..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Signs `user` in: a token signed with `secret`, for the server at `ws`.
pub fn sign_in(ws: &str, secret: &str, user: &str) -> Result<Session, SessionError> {
    if !valid_name(user) {
        return Err(SessionError::BadName);
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let claims = Claims {
        sub: user.to_owned(),
        iat: Some(now),
        exp: Some(now + TOKEN_LIFETIME.as_secs()),
        jti: Some(format!("{user}-{now}-{}", mint::random_jti())),
        info: Some(serde_json::json!({ "name": user })),
        ..Claims::default()
    };
    let token = mint::hs256(secret, &claims).map_err(|e| SessionError::Sign(e.to_string()))?;
    Ok(Session {
        ws: ws.to_owned(),
        user: user.to_owned(),
        token,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["alice", "Bob_2", "x", "a-b", &"n".repeat(32)] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in ["", "a b", "a,b", "a#b", "ünï", &"n".repeat(33), "a:b"] {
            assert!(!valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn tokens_verify_with_the_server() {
        let secret = "a-test-secret-of-more-than-thirty-two-bytes";
        let session = sign_in("ws://h/ws", secret, "alice").unwrap();
        let auth = chorus_server::auth::AuthConfig {
            hmac_secret: Some(secret.into()),
            ..Default::default()
        };
        let verifier = chorus_server::auth::Verifier::new(&auth).unwrap();
        let claims = verifier.verify(&session.token).unwrap();
        assert_eq!(claims.sub, "alice");
        assert!(matches!(
            sign_in("ws://h/ws", secret, "a b"),
            Err(SessionError::BadName)
        ));
    }
}
