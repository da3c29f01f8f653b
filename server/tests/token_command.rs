//! The development node as a newcomer uses it. `chorus token`: against a
//! development node started by the binary, the printed token (and the one in
//! the node's start-up lines) connects; without a secret to sign with, a clear
//! error. Its keys: kept across restarts (so clients stay signed in) until
//! `--reset-dev-keys`, and a secret from the environment is the one in the
//! credentials file.

mod common;

use chorus_protocol::{Codec, ErrorCode, ReplyBody};
use chorus_server::auth::mint;
use chorus_server::dev::{CredentialsFile, credentials_dir};
use common::*;

fn chorus_token(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_chorus"))
        .arg("token")
        .args(args)
        .env_remove("CHORUS_AUTH__HMAC_SECRET")
        .env_remove("CHORUS_CONFIG")
        .output()
        .unwrap()
}

#[tokio::test]
async fn tokens_of_chorus_token_and_of_the_start_up_lines_connect_to_a_development_node() {
    let node = NodeProcess::start("dev = true\n").await;
    let listen = node.addr.to_string();

    let out = chorus_token(&[
        "--dev",
        "--listen",
        &listen,
        "alice",
        "--subscribe",
        "chat:*",
        "--ttl",
        "15m",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert_eq!(token.split('.').count(), 3, "one JWT on stdout: {token}");
    let mut alice = Client::open(&node.url(), Codec::Json).await;
    let ReplyBody::Connect(result) = expect_ok(alice.connect(Some(token)).await) else {
        panic!("a connect reply");
    };
    assert_eq!(result.user, "alice");

    let log = node.log();
    let demo = log
        .split("valid 24 h: ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("a demo token in the start-up lines: {log}"));
    let mut demo_user = Client::open(&node.url(), Codec::MessagePack).await;
    let ReplyBody::Connect(result) = expect_ok(demo_user.connect(Some(demo.to_owned())).await)
    else {
        panic!("a connect reply");
    };
    assert_eq!(result.user, "demo-user");
}

#[test]
fn without_a_secret_it_says_where_one_comes_from() {
    // No configuration and no development node on this port.
    let out = chorus_token(&["--listen", "127.0.0.1:9", "alice"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("auth.hmac_secret") && err.contains("--dev"),
        "{err}"
    );
}

/// The credentials file of a development node process.
fn credentials(node: &NodeProcess) -> CredentialsFile {
    CredentialsFile::read(&credentials_dir(), node.addr.port()).expect("a credentials file")
}

/// Connects with a token of `user` signed with `secret`.
async fn connect_signed(
    node: &NodeProcess,
    secret: &str,
    user: &str,
) -> Result<ReplyBody, chorus_protocol::message::Error> {
    let token = mint::hs256(secret, &claims(user)).unwrap();
    Client::open(&node.url(), Codec::Json)
        .await
        .connect(Some(token))
        .await
}

#[tokio::test]
async fn a_restarted_development_node_keeps_its_keys_until_reset() {
    let state = tempfile::tempdir().unwrap();
    let first = NodeProcess::start_with("dev = true\n", &[], &[], Some(state.path())).await;
    let keys = credentials(&first);
    let secret = keys.hmac_secret.clone().expect("a generated secret");
    assert!(keys.api_key.is_some());
    expect_ok(connect_signed(&first, &secret, "alice").await);
    drop(first);

    let second = NodeProcess::start_with("dev = true\n", &[], &[], Some(state.path())).await;
    let again = credentials(&second);
    assert_eq!(
        (&again.api_key, &again.hmac_secret),
        (&keys.api_key, &keys.hmac_secret)
    );
    expect_ok(connect_signed(&second, &secret, "alice").await);
    assert!(
        second.log().contains("kept across restarts"),
        "{}",
        second.log()
    );
    drop(second);

    let third = NodeProcess::start_with(
        "dev = true\n",
        &["--reset-dev-keys"],
        &[],
        Some(state.path()),
    )
    .await;
    let fresh = credentials(&third);
    assert_ne!(fresh.hmac_secret, keys.hmac_secret);
    assert_ne!(fresh.api_key, keys.api_key);
    let refused = connect_signed(&third, &secret, "alice").await.unwrap_err();
    assert_eq!(refused.code, ErrorCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_secret_from_the_environment_is_the_one_in_the_credentials_file() {
    let node = NodeProcess::start_with(
        "dev = true\n",
        &[],
        &[("CHORUS_AUTH__HMAC_SECRET", SECRET)],
        None,
    )
    .await;
    assert_eq!(credentials(&node).hmac_secret.as_deref(), Some(SECRET));
    expect_ok(connect_signed(&node, SECRET, "alice").await);
}

// ---- How a Rust backend signs a token: docs/configuration.md shows this. ----

use jsonwebtoken::{EncodingKey, Header, encode};
use serde::Serialize;

/// The claims this backend sets (docs/configuration.md lists them all).
#[derive(Serialize)]
struct TokenClaims<'a> {
    sub: &'a str,
    exp: u64,
    /// Channels the user may subscribe to, beyond what the namespace allows.
    subs: &'a [&'a str],
}

/// An HS256 token for `user`, valid for `ttl`, that may subscribe to `subs`.
fn sign_token(
    secret: &str,
    user: &str,
    ttl: std::time::Duration,
    subs: &[&str],
) -> jsonwebtoken::errors::Result<String> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let claims = TokenClaims {
        sub: user,
        exp: (now + ttl).as_secs(),
        subs,
    };
    encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
}

// ---- end of the snippet ----

#[tokio::test]
async fn the_documented_rust_signer_makes_tokens_the_node_accepts_with_their_grants() {
    // `secret:*` is open to holders of a grant only.
    let node = NodeProcess::start_with(
        "[namespaces.secret]\nsubscribe = \"grants\"\n",
        &[],
        &[("CHORUS_AUTH__HMAC_SECRET", SECRET)],
        None,
    )
    .await;
    let hour = std::time::Duration::from_secs(3600);
    let granted = sign_token(SECRET, "alice", hour, &["secret:*"]).unwrap();
    let mut alice = Client::open(&node.url(), Codec::Json).await;
    expect_ok(alice.connect(Some(granted)).await);
    expect_ok(alice.request(subscribe_req("secret:plans")).await);

    let plain = sign_token(SECRET, "bob", hour, &[]).unwrap();
    let mut bob = Client::open(&node.url(), Codec::Json).await;
    expect_ok(bob.connect(Some(plain)).await);
    let refused = bob
        .request(subscribe_req("secret:plans"))
        .await
        .unwrap_err();
    assert_eq!(refused.code, ErrorCode::PERMISSION_DENIED);
}
