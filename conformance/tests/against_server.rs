//! Runs the whole catalogue against an in-process reference server.

use chorus_conformance::suite::{self, Context, RunOptions, Status, TokenSource};
use chorus_server::config::NamespaceConfig;
use chorus_server::{Config, ServerBuilder};
use tokio::sync::oneshot;

const SECRET: &str = "conformance-test-secret-with-enough-length-for-hs256";

/// The config of server/tests/common: an HMAC secret and a `chat` namespace
/// with history, presence and join/leave events.
fn config() -> Config {
    let mut c = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..Default::default()
    };
    c.auth.hmac_secret = Some(SECRET.to_owned());
    c.namespaces.insert(
        "chat".into(),
        NamespaceConfig {
            history_size: 100,
            history_ttl_ms: 600_000,
            presence: true,
            join_leave: true,
            ..Default::default()
        },
    );
    c
}

/// A running server; stops when dropped.
struct Server {
    url: String,
    stop: Option<oneshot::Sender<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn start() -> Server {
    let server = ServerBuilder::new(config())
        .bind()
        .await
        .expect("server starts");
    let url = format!("ws://{}/ws", server.local_addr());
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(server.run_until(async {
        let _ = stopped.await;
    }));
    Server {
        url,
        stop: Some(stop),
    }
}

/// Asserts nothing failed and only scenarios needing the HTTP API were skipped.
fn assert_clean(report: &suite::Report) {
    let needs_api: Vec<&str> = suite::catalogue()
        .iter()
        .filter(|s| s.needs().api)
        .map(|s| s.name())
        .collect();
    let bad: Vec<String> = report
        .results
        .iter()
        .filter(|r| match r.status {
            Status::Pass => false,
            Status::Fail => true,
            Status::Skip => !needs_api.contains(&r.scenario.as_str()),
        })
        .map(|r| r.line())
        .collect();
    assert!(bad.is_empty(), "{}\n{}", bad.join("\n"), report.human());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_catalogue_passes_with_hmac_tokens() {
    let server = start().await;
    let mut ctx = Context::new(server.url.clone());
    ctx.tokens = TokenSource::Hmac(SECRET.into());
    let report = suite::run(&ctx, &suite::catalogue(), &RunOptions::default()).await;
    assert_clean(&report);
    // Every scenario ran: one result per codec, or one for codec-independent ones.
    let expected: usize = suite::catalogue()
        .iter()
        .map(|s| match s.codecs() {
            suite::Codecs::Each => 2,
            suite::Codecs::Independent => 1,
        })
        .sum();
    assert_eq!(report.results.len(), expected, "{}", report.human());
    assert!(report.human().ends_with(&format!(
        "{} passed, 0 failed, {} skipped\n",
        report.summary.passed, report.summary.skipped
    )));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_from_a_command_work_too() {
    let server = start().await;
    // The command checks that it got a user id as `$1`, then prints a token
    // (minted here in advance, for a fixed user).
    let token = suite::context::hs256(SECRET.as_bytes(), "from-cmd").unwrap();
    let mut ctx = Context::new(server.url.clone());
    ctx.tokens = TokenSource::Command(format!(
        "test -n \"$1\" || exit 3; printf '%s\\n' '{token}'"
    ));
    let options = RunOptions {
        only: Some("ping".into()),
        ..RunOptions::default()
    };
    let report = suite::run(&ctx, &suite::catalogue(), &options).await;
    assert_eq!(report.results.len(), 2, "{}", report.human());
    assert_clean(&report);
}

#[tokio::test]
async fn a_failing_token_command_is_reported() {
    let ctx = Context {
        tokens: TokenSource::Command("echo nope >&2; exit 7".into()),
        ..Context::new("ws://127.0.0.1:9/ws")
    };
    let err = ctx.tokens.token("someone").await.unwrap_err();
    assert!(err.contains("nope"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_tokens_token_scenarios_are_skipped() {
    let server = start().await;
    let ctx = Context::new(server.url.clone());
    let report = suite::run(&ctx, &suite::catalogue(), &RunOptions::default()).await;
    assert!(report.ok(), "{}", report.human());
    for r in &report.results {
        let needs_tokens = suite::catalogue()
            .iter()
            .any(|s| s.name() == r.scenario && s.needs().tokens);
        let expected = if needs_tokens {
            Status::Skip
        } else {
            Status::Pass
        };
        assert_eq!(r.status, expected, "{}", r.line());
    }
}

#[tokio::test]
async fn an_unreachable_server_fails_and_does_not_hang() {
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut ctx = Context::new(format!("ws://127.0.0.1:{port}/ws"));
    ctx.tokens = TokenSource::Hmac(SECRET.into());
    let options = RunOptions {
        only: Some("handshake".into()),
        ..RunOptions::default()
    };
    let report = suite::run(&ctx, &suite::catalogue(), &options).await;
    assert_eq!(report.summary.failed, 2, "{}", report.human());
    assert!(!report.ok());
}
