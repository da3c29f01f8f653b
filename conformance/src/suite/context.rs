//! What the scenarios know about the server under test: where to reach it and
//! how to obtain tokens for it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

/// How long a `--token-cmd` command may take to print a token.
pub const TOKEN_CMD_TIMEOUT: Duration = Duration::from_secs(10);

/// How long minted HS256 tokens stay valid.
pub const TOKEN_TTL_SECS: u64 = 3600;

/// The server's HTTP API.
#[derive(Debug, Clone)]
pub struct Api {
    /// Base URL, for example `http://127.0.0.1:8000`.
    pub url: String,
    /// The API key sent with every API request.
    pub key: Option<String>,
}

/// Where tokens come from.
#[derive(Clone, Default)]
pub enum TokenSource {
    /// No way to obtain tokens: scenarios that need one are skipped.
    #[default]
    None,
    /// HS256 tokens signed with this secret (the server's HMAC secret).
    Hmac(String),
    /// A shell command run through `sh -c`, with the user id as `$1`; its
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

/// The claims of a minted token: a user, an expiry and the issue time.
#[derive(Serialize)]
struct Claims<'a> {
    sub: &'a str,
    exp: u64,
    iat: u64,
}

/// Seconds since the Unix epoch (0 if the clock is before it).
fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Signs an HS256 token for `user` with `secret`, valid for [`TOKEN_TTL_SECS`].
pub fn hs256(secret: &[u8], user: &str) -> Result<String, String> {
    // jsonwebtoken 11 needs a crypto provider; installing is idempotent and
    // keeps one installed earlier (by an embedding program, for example).
    let _already_installed = jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.install_default();
    let now = unix_now();
    let claims = Claims {
        sub: user,
        exp: now + TOKEN_TTL_SECS,
        iat: now,
    };
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret),
    )
    .map_err(|e| format!("cannot sign a token: {e}"))
}

impl TokenSource {
    /// Whether tokens can be obtained at all.
    pub fn is_available(&self) -> bool {
        !matches!(self, TokenSource::None)
    }

    /// A valid token for `user`.
    pub async fn token(&self, user: &str) -> Result<String, String> {
        match self {
            TokenSource::None => Err("no token source: pass --hmac-secret or --token-cmd".into()),
            TokenSource::Hmac(secret) => hs256(secret.as_bytes(), user),
            TokenSource::Command(cmd) => run_token_cmd(cmd, user).await,
        }
    }
}

/// Runs `sh -c CMD chorus-conformance USER` and returns its trimmed stdout.
async fn run_token_cmd(cmd: &str, user: &str) -> Result<String, String> {
    let child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .arg("chorus-conformance")
        .arg(user)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(TOKEN_CMD_TIMEOUT, child)
        .await
        .map_err(|_| {
            format!(
                "--token-cmd did not finish within {} s",
                TOKEN_CMD_TIMEOUT.as_secs()
            )
        })?
        .map_err(|e| format!("cannot run --token-cmd: {e}"))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(format!(
            "--token-cmd failed ({}): {}",
            output.status,
            stderr.trim()
        ));
    }
    let token = String::from_utf8(output.stdout)
        .map_err(|_| "--token-cmd printed something that is not UTF-8".to_owned())?;
    let token = token.trim();
    if token.is_empty() {
        return Err("--token-cmd printed an empty token".into());
    }
    Ok(token.to_owned())
}

/// Everything a scenario may use: the server's addresses and a token source.
#[derive(Debug, Clone)]
pub struct Context {
    /// WebSocket URLs of the server's nodes (at least one). Scenarios with
    /// several connections spread them over these URLs, so that with two nodes
    /// of a cluster messages cross between nodes.
    pub ws: Vec<String>,
    /// The HTTP API, when given.
    pub api: Option<Api>,
    /// How to obtain tokens.
    pub tokens: TokenSource,
    /// The namespace used for test channels (`<namespace>:conformance-<random>`).
    /// It must allow authenticated users to subscribe and publish.
    pub namespace: String,
}

impl Context {
    /// A context for one WebSocket URL, without API or tokens, using the
    /// `chat` namespace.
    pub fn new(ws: impl Into<String>) -> Context {
        Context {
            ws: vec![ws.into()],
            api: None,
            tokens: TokenSource::None,
            namespace: "chat".into(),
        }
    }

    /// The URL for the `n`-th connection of a scenario (cycling through them).
    pub fn ws_url(&self, n: usize) -> &str {
        if self.ws.is_empty() {
            return "";
        }
        &self.ws[n % self.ws.len()]
    }

    /// A fresh channel name in the test namespace.
    pub fn channel(&self) -> String {
        format!("{}:conformance-{}", self.namespace, random_hex(8))
    }
}

/// `bytes` random bytes as lower-case hex (from the OS; falls back to the clock).
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    if getrandom::fill(&mut buf).is_err() {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        for (i, b) in buf.iter_mut().enumerate() {
            *b = (nanos >> ((i % 16) * 8)) as u8;
        }
    }
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// A user id unique to this run, with a readable prefix.
pub fn user_id(prefix: &str) -> String {
    format!("conformance-{prefix}-{}", random_hex(4))
}
