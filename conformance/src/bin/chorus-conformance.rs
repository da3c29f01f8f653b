//! Runs the conformance catalogue against a Chorus server.
//!
//! ```text
//! chorus-conformance --ws ws://127.0.0.1:8000/ws --hmac-secret SECRET [--report report.json]
//! ```
//!
//! Prints one line per scenario and a summary ending with
//! `N passed, M failed, K skipped`; writes the JSON report to `--report FILE`
//! (`-` for stdout, the human output then going to stderr). Exit status: 0 when
//! nothing failed, 1 when something failed, 2 on a usage error.

use std::io::Write;
use std::process::ExitCode;

use chorus_conformance::suite::{self, Api, Context, RunOptions, TokenSource};
use clap::Parser;

/// Checks a Chorus server against the protocol.
#[derive(Debug, Parser)]
#[command(name = "chorus-conformance", version, about)]
struct Args {
    /// WebSocket URL of a server node (repeat for several nodes of a cluster).
    #[arg(long = "ws", value_name = "URL", required = true)]
    ws: Vec<String>,

    /// Base URL of the server's HTTP API.
    #[arg(long, value_name = "URL")]
    api: Option<String>,

    /// Key for the HTTP API.
    #[arg(long, value_name = "KEY", requires = "api")]
    api_key: Option<String>,

    /// Mint HS256 tokens with this secret (the server's `auth.hmac_secret`).
    #[arg(long, value_name = "SECRET", conflicts_with = "token_cmd")]
    hmac_secret: Option<String>,

    /// Get tokens from this shell command, run with `sh -c` and the user id as
    /// `$1`; its standard output is the token.
    #[arg(long, value_name = "CMD")]
    token_cmd: Option<String>,

    /// Namespace for test channels; it must let authenticated users subscribe
    /// and publish.
    #[arg(long, value_name = "NS", default_value = "chat")]
    namespace: String,

    /// Write the JSON report to FILE (`-`: standard output).
    #[arg(long, value_name = "FILE")]
    report: Option<String>,

    /// Run only the scenarios whose name contains SUBSTR.
    #[arg(long, value_name = "SUBSTR")]
    only: Option<String>,

    /// List the scenarios and exit.
    #[arg(long)]
    list: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let catalogue = suite::catalogue();

    if args.list {
        for s in &catalogue {
            println!("{:<24} {}", s.name(), s.description());
        }
        return ExitCode::SUCCESS;
    }

    let probe = format!("{}:conformance-x", args.namespace);
    if let Err(e) = chorus_protocol::channel::validate(&probe) {
        eprintln!(
            "chorus-conformance: --namespace {:?} is not usable: {e}",
            args.namespace
        );
        return ExitCode::from(2);
    }

    let options = RunOptions {
        only: args.only.clone(),
        ..RunOptions::default()
    };
    if !catalogue.iter().any(|s| options.selects(s.as_ref())) {
        eprintln!(
            "chorus-conformance: no scenario matches --only {:?} (see --list)",
            args.only.unwrap_or_default()
        );
        return ExitCode::from(2);
    }

    let tokens = match (args.hmac_secret, args.token_cmd) {
        (Some(secret), _) => TokenSource::Hmac(secret),
        (None, Some(cmd)) => TokenSource::Command(cmd),
        (None, None) => TokenSource::None,
    };
    let ctx = Context {
        ws: args.ws,
        api: args.api.map(|url| Api {
            url,
            key: args.api_key,
        }),
        tokens,
        namespace: args.namespace,
    };

    // With `--report -` stdout carries the JSON alone.
    let json_to_stdout = args.report.as_deref() == Some("-");
    let human = |line: &str| {
        if json_to_stdout {
            eprintln!("{line}");
        } else {
            println!("{line}");
        }
    };

    let report = suite::run_with(&ctx, &catalogue, &options, |r| human(&r.line())).await;

    if !report.ok() {
        human("");
        human("failures:");
        for r in report.failures() {
            human(&format!("  {}", r.line()));
        }
    }
    human("");
    human(&report.totals_line());

    match args.report.as_deref() {
        None => {}
        Some("-") => println!("{}", report.to_json()),
        Some(path) => {
            let written =
                std::fs::File::create(path).and_then(|mut f| writeln!(f, "{}", report.to_json()));
            if let Err(e) = written {
                eprintln!("chorus-conformance: cannot write the report to {path}: {e}");
                return ExitCode::FAILURE;
            }
        }
    }

    if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
