//! Runs the conformance catalogue against a Chorus server.
//!
//! ```text
//! chorus-conformance --ws ws://127.0.0.1:8000/ws [--ws URL ...] --hmac-secret SECRET \
//!     [--api http://127.0.0.1:8000 --api-key KEY] [--report report.json]
//! ```
//!
//! Prints one line per scenario and a summary ending with
//! `N passed, M failed, K skipped`; writes the JSON report to `--report FILE`
//! (`-` for stdout, the human output then going to stderr). Exit status: 0 when
//! nothing failed, 1 when something failed, 2 on a usage error.

use std::io::Write;
use std::process::ExitCode;

use chorus_conformance::suite::{self, Api, Context, Needs, Profile, RunOptions, TokenSource};
use clap::Parser;

/// Checks a Chorus server against the protocol (see docs/conformance.md).
#[derive(Debug, Parser)]
#[command(name = "chorus-conformance", version, about)]
struct Args {
    /// WebSocket URL of a server node (repeat for several nodes of a cluster).
    #[arg(long = "ws", value_name = "URL", required_unless_present_any = ["list", "print_profile"])]
    ws: Vec<String>,

    /// Base URL of the server's HTTP API (for example http://127.0.0.1:8000).
    #[arg(long, value_name = "URL")]
    api: Option<String>,

    /// Key for the HTTP API.
    #[arg(long, value_name = "KEY", requires = "api")]
    api_key: Option<String>,

    /// Mint HS256 tokens with this secret (the server's `auth.hmac_secret`).
    #[arg(long, value_name = "SECRET", conflicts_with = "token_cmd")]
    hmac_secret: Option<String>,

    /// Get tokens from this shell command, run with `sh -c`, the user id as
    /// `$1` and the claims as a JSON object as `$2`; its standard output is
    /// the token.
    #[arg(long, value_name = "CMD")]
    token_cmd: Option<String>,

    /// Write the JSON report to FILE (`-`: standard output).
    #[arg(long, value_name = "FILE")]
    report: Option<String>,

    /// Run only the scenarios whose name contains SUBSTR (repeatable).
    #[arg(long, value_name = "SUBSTR")]
    only: Vec<String>,

    /// Report the scenarios whose name contains SUBSTR as skipped, without
    /// running them (repeatable).
    #[arg(long, value_name = "SUBSTR")]
    skip: Vec<String>,

    /// Scenario runs in flight at once.
    #[arg(long, value_name = "N", default_value_t = suite::runner::DEFAULT_PARALLEL)]
    parallel: usize,

    /// List the scenarios and exit.
    #[arg(long)]
    list: bool,

    /// Print the conformance profile (the namespaces and limits the
    /// scenarios expect) as reference-server configuration, and exit.
    #[arg(long)]
    print_profile: bool,
}

/// What a scenario needs, for `--list`.
fn needs_label(needs: Needs) -> String {
    let mut parts = Vec::new();
    if needs.tokens {
        parts.push("tokens".to_owned());
    }
    if needs.api {
        parts.push("api".to_owned());
    }
    if needs.nodes > 1 {
        parts.push(format!("{}+ nodes", needs.nodes));
    }
    if parts.is_empty() {
        "-".to_owned()
    } else {
        parts.join(", ")
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let catalogue = suite::catalogue();

    if args.print_profile {
        print!("{}", Profile::default().server_toml());
        return ExitCode::SUCCESS;
    }

    if args.list {
        for s in &catalogue {
            let codecs = match s.codecs() {
                suite::Codecs::Each => "json+msgpack",
                suite::Codecs::Independent => "once",
            };
            println!(
                "{:<30} {:<12} {:<13} {:<18} {}",
                s.name(),
                s.area(),
                codecs,
                needs_label(s.needs()),
                s.description()
            );
        }
        return ExitCode::SUCCESS;
    }

    let options = RunOptions {
        only: args.only.clone(),
        skip: args.skip.clone(),
        parallel: args.parallel.max(1),
        ..RunOptions::default()
    };
    if !catalogue.iter().any(|s| options.selects(s.as_ref())) {
        eprintln!(
            "chorus-conformance: no scenario matches --only {:?} (see --list)",
            args.only
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
        profile: Profile::default(),
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
    human(&format!(
        "finished in {:.1} s",
        report.duration_ms as f64 / 1000.0
    ));
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
