//! Reference servers configured with the conformance profile, in this
//! process, and the checks every run of the catalogue must pass.
#![allow(dead_code)]

use std::collections::BTreeSet;

use chorus_conformance::suite::{self, Api, Context, Profile, Report, Status, TokenSource};
use chorus_server::{Config, ServerBuilder};
use tokio::sync::oneshot;

/// The HMAC secret of the test servers.
pub const SECRET: &str = "conformance-test-secret-with-enough-length-for-hs256";
/// The API key of the test servers.
pub const API_KEY: &str = "conformance-api-key-0123456789";

/// A scenario that fails against the reference server because of a server
/// bug reported to its maintainers. The run stays green while it fails the
/// way described, and turns red once it passes, so the entry gets removed.
pub struct KnownFailure {
    /// `memory` or `cluster`.
    pub run: &'static str,
    /// The scenario's name.
    pub scenario: &'static str,
    /// The bug, in a few words.
    pub bug: &'static str,
}

/// Known failures of the reference server. Keep this list empty: each entry
/// is a server bug that has been reported and not fixed yet.
pub const KNOWN_FAILURES: &[KnownFailure] = &[];

/// The conformance profile as reference-server configuration, listening on a
/// free loopback port, with the test secret and API key.
pub fn profile_config() -> Config {
    let mut config =
        Config::from_toml(&Profile::default().server_toml()).expect("the profile is valid config");
    config.listen = "127.0.0.1:0".parse().expect("address");
    config.api_key = Some(API_KEY.to_owned());
    config.auth.hmac_secret = Some(SECRET.to_owned());
    config
}

/// A running node; stops when dropped.
pub struct Node {
    /// Its WebSocket URL.
    pub ws: String,
    /// Its HTTP base URL.
    pub http: String,
    stop: Option<oneshot::Sender<()>>,
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl Node {
    /// Starts a node with `config`.
    pub async fn start(config: Config) -> Node {
        let server = ServerBuilder::new(config)
            .bind()
            .await
            .expect("node starts");
        let addr = server.local_addr();
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(server.run_until(async {
            let _ = stopped.await;
        }));
        Node {
            ws: format!("ws://{addr}/ws"),
            http: format!("http://{addr}"),
            stop: Some(stop),
        }
    }
}

/// A context for `nodes`, with HMAC tokens and the API of the first node.
pub fn context(nodes: &[Node]) -> Context {
    Context {
        ws: nodes.iter().map(|n| n.ws.clone()).collect(),
        api: nodes.first().map(|n| Api {
            url: n.http.clone(),
            key: Some(API_KEY.to_owned()),
        }),
        tokens: TokenSource::Hmac(SECRET.to_owned()),
        profile: Profile::default(),
    }
}

/// Scenarios that need more nodes than `nodes`.
pub fn needing_more_nodes(nodes: usize) -> BTreeSet<&'static str> {
    suite::catalogue()
        .iter()
        .filter(|s| s.needs().nodes > nodes)
        .map(|s| s.name())
        .collect()
}

/// Asserts that every scenario ran, that exactly `expected_skips` were
/// skipped, and that nothing failed except the known failures of `run`.
pub fn assert_clean(run: &str, report: &Report, expected_skips: &BTreeSet<&str>) {
    eprintln!("{}", report.human());
    let expected_results: usize = suite::catalogue()
        .iter()
        .map(|s| match s.codecs() {
            suite::Codecs::Each => 2,
            suite::Codecs::Independent => 1,
        })
        .sum();
    assert_eq!(report.results.len(), expected_results, "every scenario ran");
    let known: BTreeSet<&str> = KNOWN_FAILURES
        .iter()
        .filter(|k| k.run == run)
        .map(|k| k.scenario)
        .collect();
    let mut problems = Vec::new();
    for r in &report.results {
        let name = r.scenario.as_str();
        match r.status {
            Status::Pass if known.contains(name) => problems.push(format!(
                "{} passes now: remove it from KNOWN_FAILURES",
                r.label()
            )),
            Status::Fail if !known.contains(name) => problems.push(r.line()),
            Status::Skip if !expected_skips.contains(name) => problems.push(r.line()),
            Status::Pass | Status::Fail | Status::Skip => {}
        }
        if r.status != Status::Skip && expected_skips.contains(name) {
            problems.push(format!("{} was expected to be skipped", r.label()));
        }
    }
    assert!(
        problems.is_empty(),
        "{run} run:\n{}\n\n{}",
        problems.join("\n"),
        report.human()
    );
}
