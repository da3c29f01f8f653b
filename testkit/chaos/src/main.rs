//! `chorus-chaos`: the chaos suite's command line (see the library's documentation).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

use chorus_chaos::run::{self, Load, Scenario};
use chorus_chaos::verdict;

/// The chaos suite: faults under load on a three-node cluster, every
/// acknowledged publication checked at every subscriber.
#[derive(Debug, Parser)]
#[command(name = "chorus-chaos")]
struct Cli {
    /// Scenarios to run (each `--runs` times); all of them when none is given.
    #[arg(long = "scenario", value_enum)]
    scenarios: Vec<Scenario>,
    /// Runs of each scenario.
    #[arg(long, default_value_t = 1)]
    runs: usize,
    /// Subscriber clients, spread over the nodes and channels.
    #[arg(long, default_value_t = 60)]
    subscribers: usize,
    /// Publisher clients, spread over the nodes and channels (one channel each).
    #[arg(long, default_value_t = 6)]
    publishers: usize,
    /// History channels (publishers on different nodes share each one).
    #[arg(long, default_value_t = 2)]
    channels: usize,
    /// Publications per second, all publishers together.
    #[arg(long, default_value_t = 100)]
    rate: u32,
    /// Seconds of load.
    #[arg(long, default_value_t = 30)]
    seconds: u64,
    /// Seconds into the load when the fault starts.
    #[arg(long, default_value_t = 8)]
    fault_at: u64,
    /// Seconds a killed or stopped process stays down.
    #[arg(long, default_value_t = 8)]
    down: u64,
    /// Publications kept per channel.
    #[arg(long, default_value_t = 2000)]
    history_size: usize,
    /// The `chorus` binary (default: next to this one).
    #[arg(long)]
    chorus_bin: Option<PathBuf>,
    /// Also write every run's figures to this JSON file.
    #[arg(long)]
    report: Option<PathBuf>,
    /// Keep each run's node configurations and logs under this directory
    /// (`<scenario>-<run>/`); by default they go with the run.
    #[arg(long)]
    keep: Option<PathBuf>,
}

/// All scenarios, in the order they run.
const ALL: [Scenario; 7] = [
    Scenario::Baseline,
    Scenario::KillNode,
    Scenario::TermNode,
    Scenario::StopNode,
    Scenario::KillNatsLeader,
    Scenario::KillNatsFollower,
    Scenario::RollingRestart,
];

fn chorus_bin(cli: &Cli) -> Result<PathBuf, String> {
    let bin = match &cli.chorus_bin {
        Some(bin) => bin.clone(),
        None => std::env::current_exe()
            .map_err(|e| e.to_string())?
            .with_file_name("chorus"),
    };
    if bin.is_file() {
        Ok(bin)
    } else {
        Err(format!(
            "{} not found: build it (cargo build --release -p chorus-server) or pass --chorus-bin",
            bin.display()
        ))
    }
}

/// Where a run keeps its files: a temporary directory, or one under `keep`.
enum RunDir {
    Temporary(tempfile::TempDir),
    Kept(PathBuf),
}

impl RunDir {
    fn path(&self) -> &std::path::Path {
        match self {
            RunDir::Temporary(dir) => dir.path(),
            RunDir::Kept(dir) => dir,
        }
    }
}

fn run_dir(
    keep: Option<&std::path::Path>,
    scenario: Scenario,
    n: usize,
) -> std::io::Result<RunDir> {
    match keep {
        Some(root) => {
            let dir = root.join(format!("{}-{n}", scenario.name()));
            std::fs::create_dir_all(&dir)?;
            Ok(RunDir::Kept(dir))
        }
        None => Ok(RunDir::Temporary(
            tempfile::Builder::new().prefix("chorus-chaos-").tempdir()?,
        )),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let bin = match chorus_bin(&cli) {
        Ok(bin) => bin,
        Err(e) => {
            eprintln!("chorus-chaos: {e}");
            return ExitCode::from(2);
        }
    };
    let load = Load {
        subscribers: cli.subscribers,
        publishers: cli.publishers,
        channels: cli.channels,
        rate: cli.rate,
        duration: Duration::from_secs(cli.seconds),
        fault_at: Duration::from_secs(cli.fault_at),
        down: Duration::from_secs(cli.down),
        history_size: cli.history_size,
        drain: Duration::from_secs(30),
    };
    let scenarios = if cli.scenarios.is_empty() {
        ALL.to_vec()
    } else {
        cli.scenarios.clone()
    };
    // Setup, the load, the fault's own time (a rolling restart is three
    // drains and starts), the drain: anything longer is a hang.
    let budget = load.duration + load.down * 2 + Duration::from_secs(240);
    let mut reports = Vec::new();
    let mut failed = false;
    for scenario in scenarios {
        for n in 1..=cli.runs {
            let dir = match run_dir(cli.keep.as_deref(), scenario, n) {
                Ok(dir) => dir,
                Err(e) => {
                    eprintln!("chorus-chaos: run directory: {e}");
                    return ExitCode::FAILURE;
                }
            };
            let outcome = tokio::select! {
                outcome = tokio::time::timeout(budget, run::run(&bin, scenario, n, &load, dir.path())) => outcome,
                _ = tokio::signal::ctrl_c() => {
                    eprintln!("chorus-chaos: interrupted; stopping every process");
                    return ExitCode::from(130);
                }
            };
            let report = match outcome {
                Ok(Ok(report)) => report,
                Ok(Err(e)) => verdict::Report {
                    scenario: scenario.name().to_owned(),
                    run: n,
                    failures: vec![format!("the run could not be carried out: {e}")],
                    ..Default::default()
                },
                Err(_) => verdict::Report {
                    scenario: scenario.name().to_owned(),
                    run: n,
                    failures: vec![format!("the run exceeded its budget of {budget:?}")],
                    ..Default::default()
                },
            };
            println!("{}", report.line());
            failed |= !report.passed();
            reports.push(report);
        }
    }
    if let Some(path) = &cli.report {
        let json = serde_json::to_string_pretty(&reports).unwrap_or_default();
        if let Err(e) = std::fs::write(path, json) {
            eprintln!("chorus-chaos: {}: {e}", path.display());
        }
    }
    let passed = reports.iter().filter(|r| r.passed()).count();
    println!("chorus-chaos: {passed} of {} runs passed", reports.len());
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_invocations_parse() {
        let mut seen = 0;
        for line in include_str!("../../../docs/reliability.md").lines() {
            let command = line.split(" #").next().unwrap_or_default();
            let Some((_, args)) = command.split_once("scripts/chaos") else {
                continue;
            };
            if command.contains('`') {
                continue; // prose
            }
            let args = args.split_whitespace().filter(|a| *a != "--short");
            let parsed = Cli::try_parse_from(std::iter::once("chorus-chaos").chain(args));
            assert!(parsed.is_ok(), "{line:?}: {parsed:?}");
            seen += 1;
        }
        assert!(seen >= 3, "only {seen} invocations found");
    }

    #[test]
    fn every_scenario_has_a_name_of_its_own() {
        let names: std::collections::BTreeSet<&str> = ALL.iter().map(|s| s.name()).collect();
        assert_eq!(names.len(), ALL.len());
        for s in ALL {
            let parsed = Cli::try_parse_from(["chorus-chaos", "--scenario", s.name()])
                .unwrap_or_else(|e| panic!("{}: {e}", s.name()));
            assert_eq!(parsed.scenarios, [s]);
        }
    }
}
