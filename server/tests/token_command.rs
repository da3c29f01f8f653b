//! `chorus token` as a newcomer runs it: against a development node started
//! by the binary, the printed token (and the one in the node's start-up
//! lines) connects; without a secret to sign with, a clear error.

mod common;

use chorus_protocol::{Codec, ReplyBody};
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
