//! Tokens for the server under test: the claims a scenario asks for, and the
//! two ways of turning them into a JWT (HS256 with the server's secret, or an
//! external command).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use thiserror::Error;

/// How long a `--token-cmd` command may take to print a token.
pub const TOKEN_CMD_TIMEOUT: Duration = Duration::from_secs(10);

/// How long tokens stay valid unless a scenario asks otherwise.
pub const TOKEN_TTL_SECS: u64 = 3600;

/// Why no token could be obtained.
#[derive(Debug, Error)]
pub enum TokenError {
    /// Neither `--hmac-secret` nor `--token-cmd` was given.
    #[error("no token source: pass --hmac-secret or --token-cmd")]
    NoSource,
    /// HS256 signing with the `--hmac-secret` failed; holds the library's message.
    #[error("cannot sign a token: {0}")]
    Sign(String),
    /// The claims could not be serialised for the command.
    #[error("cannot serialise the claims: {0}")]
    Claims(#[from] serde_json::Error),
    /// The command could not be started.
    #[error("cannot run --token-cmd: {0}")]
    Spawn(#[from] std::io::Error),
    /// The command ran too long.
    #[error("--token-cmd did not finish within {} s", TOKEN_CMD_TIMEOUT.as_secs())]
    Timeout,
    /// The command exited with a failure status.
    #[error("--token-cmd failed ({status}): {stderr}")]
    Failed {
        /// The status as the OS reports it (`exit status: 1`, or the signal).
        status: String,
        /// What it printed on standard error (trimmed).
        stderr: String,
    },
    /// The command printed nothing usable.
    #[error("--token-cmd printed {0}")]
    BadOutput(&'static str),
}

/// The claims of a token, in the format the reference server reads
/// (docs/configuration.md, "Tokens: the claims the server reads").
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Claims {
    /// The user id the connection gets; the server refuses a token without one.
    pub sub: String,
    /// Expiry, seconds since the Unix epoch.
    pub exp: u64,
    /// Issue time, seconds since the Unix epoch.
    pub iat: u64,
    /// Channels the connection may subscribe to beyond the namespace's rules.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub subs: Vec<String>,
    /// Channels the connection may publish to beyond the namespace's rules.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pubs: Vec<String>,
    /// Whether the connection may use `broadcast`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub broadcast: bool,
    /// The token's id, by which one token can be revoked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
}

impl Claims {
    /// Claims for `user`, valid for [`TOKEN_TTL_SECS`].
    pub fn new(user: &str) -> Claims {
        let now = unix_now();
        Claims {
            sub: user.to_owned(),
            exp: now + TOKEN_TTL_SECS,
            iat: now,
            ..Claims::default()
        }
    }

    /// The same claims expiring `secs` seconds from now (negative: in the past).
    pub fn expiring_in(mut self, secs: i64) -> Claims {
        self.exp = unix_now().saturating_add_signed(secs);
        self
    }

    /// The same claims with a `subs` grant.
    pub fn granting_subscribe(mut self, grant: impl Into<String>) -> Claims {
        self.subs.push(grant.into());
        self
    }

    /// The same claims with a `pubs` grant.
    pub fn granting_publish(mut self, grant: impl Into<String>) -> Claims {
        self.pubs.push(grant.into());
        self
    }

    /// The same claims with the token id `jti`.
    pub fn with_jti(mut self, jti: impl Into<String>) -> Claims {
        self.jti = Some(jti.into());
        self
    }

    /// The same claims allowing `broadcast`.
    pub fn granting_broadcast(mut self) -> Claims {
        self.broadcast = true;
        self
    }
}

/// Seconds since the Unix epoch (0 if the clock is before it).
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Signs `claims` as an HS256 token with `secret`.
pub fn hs256(secret: &[u8], claims: &Claims) -> Result<String, TokenError> {
    // jsonwebtoken 11 needs a crypto provider; installing is idempotent and
    // keeps one installed earlier (by an embedding program, for example).
    let _already_installed = jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.install_default();
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(secret),
    )
    .map_err(|e| TokenError::Sign(e.to_string()))
}

/// Where tokens come from.
#[derive(Clone, Default)]
pub enum TokenSource {
    /// No way to obtain tokens: scenarios that need one are skipped.
    #[default]
    None,
    /// HS256 tokens signed with this secret (the server's HMAC secret).
    Hmac(String),
    /// A shell command run as `sh -c CMD chorus-conformance USER CLAIMS`:
    /// `$1` is the user id and `$2` the complete claims as a JSON object; its
    /// standard output (trimmed) is the token.
    Command(String),
}

impl std::fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TokenSource::None => f.write_str("None"),
            TokenSource::Hmac(_) => f.write_str("Hmac(<secret>)"),
            TokenSource::Command(cmd) => f.debug_tuple("Command").field(cmd).finish(),
        }
    }
}

impl TokenSource {
    /// Whether tokens can be obtained at all.
    pub fn is_available(&self) -> bool {
        !matches!(self, TokenSource::None)
    }

    /// Whether the tokens are known to carry `sub` = the user asked for (true
    /// for tokens this suite signs; a command may map users to other subjects).
    pub fn subject_is_user(&self) -> bool {
        matches!(self, TokenSource::Hmac(_))
    }

    /// A token carrying `claims`.
    pub async fn token(&self, claims: &Claims) -> Result<String, TokenError> {
        match self {
            TokenSource::None => Err(TokenError::NoSource),
            TokenSource::Hmac(secret) => hs256(secret.as_bytes(), claims),
            TokenSource::Command(cmd) => run_token_cmd(cmd, claims).await,
        }
    }
}

/// Runs `sh -c CMD chorus-conformance USER CLAIMS` and returns its trimmed stdout.
async fn run_token_cmd(cmd: &str, claims: &Claims) -> Result<String, TokenError> {
    let json = serde_json::to_string(claims)?;
    let child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .arg("chorus-conformance")
        .arg(&claims.sub)
        .arg(json)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(TOKEN_CMD_TIMEOUT, child)
        .await
        .map_err(|_| TokenError::Timeout)??;
    if !output.status.success() {
        return Err(TokenError::Failed {
            status: output.status.to_string(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        });
    }
    let token =
        String::from_utf8(output.stdout).map_err(|_| TokenError::BadOutput("non-UTF-8 text"))?;
    let token = token.trim();
    if token.is_empty() {
        return Err(TokenError::BadOutput("an empty token"));
    }
    Ok(token.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_serialise_without_empty_grants() {
        let c = Claims {
            sub: "u".into(),
            exp: 2,
            iat: 1,
            ..Claims::default()
        };
        assert_eq!(
            serde_json::to_string(&c).unwrap(),
            r#"{"sub":"u","exp":2,"iat":1}"#
        );
        let c = c
            .granting_subscribe("a:*")
            .granting_publish("b")
            .granting_broadcast();
        assert_eq!(
            serde_json::to_string(&c).unwrap(),
            r#"{"sub":"u","exp":2,"iat":1,"subs":["a:*"],"pubs":["b"],"broadcast":true}"#
        );
    }

    #[test]
    fn expiry_can_lie_in_the_past() {
        let c = Claims::new("u").expiring_in(-600);
        assert!(c.exp + 590 < unix_now() + 1);
    }
}
