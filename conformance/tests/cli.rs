//! The `chorus-conformance` binary as a user runs it: against a live node it
//! passes and writes its JSON report; against a dead address it fails with
//! exit status 1; a usage error is exit status 2.

mod common;

use std::process::Output;

use common::{API_KEY, Node, SECRET, needing_more_nodes, profile_config};

/// Runs the binary with `args` on a blocking thread (the node under test runs
/// on this test's runtime meanwhile).
async fn conformance(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_chorus-conformance"))
            .args(args)
            .output()
            .expect("the binary runs")
    })
    .await
    .expect("the blocking task finishes")
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| (*a).to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_passes_against_a_memory_node_and_writes_its_report() {
    let node = Node::start(profile_config()).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let report_path = dir.path().join("report.json");
    let out = conformance(strings(&[
        "--ws",
        &node.ws,
        "--api",
        &node.http,
        "--api-key",
        API_KEY,
        "--hmac-secret",
        SECRET,
        "--report",
        report_path.to_str().expect("utf-8 path"),
    ]))
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "exit {:?}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );

    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report_path).expect("report written"))
            .expect("the report is JSON");
    let results = report["results"].as_array().expect("results");
    let skipped: Vec<&str> = results
        .iter()
        .filter(|r| r["status"] == "skip")
        .filter_map(|r| r["scenario"].as_str())
        .collect();
    let expected = needing_more_nodes(1);
    assert!(!skipped.is_empty(), "one node: multi-node scenarios skip");
    for name in &skipped {
        assert!(expected.contains(name), "{name} skipped: {stdout}");
    }
    assert!(results.iter().all(|r| r["status"] != "fail"), "{stdout}");
    let totals = stdout.lines().last().expect("a summary line");
    let passed = results.iter().filter(|r| r["status"] == "pass").count();
    assert_eq!(
        totals,
        format!("{passed} passed, 0 failed, {} skipped", skipped.len())
    );
}

#[tokio::test]
async fn a_dead_target_fails_with_status_1_and_usage_errors_are_status_2() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    // Nothing listens there any more.
    let out = conformance(strings(&[
        "--ws",
        &format!("ws://127.0.0.1:{port}/ws"),
        "--only",
        "handshake",
    ]))
    .await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");

    let out = conformance(strings(&[
        "--ws",
        "ws://127.0.0.1:1/ws",
        "--only",
        "no-such",
    ]))
    .await;
    assert_eq!(out.status.code(), Some(2), "{out:?}");

    let out = conformance(strings(&["--print-profile"])).await;
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        chorus_conformance::suite::Profile::default().server_toml()
    );
}
