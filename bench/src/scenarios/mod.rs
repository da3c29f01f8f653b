//! The scenarios, and the runner that plays each one against every target in
//! turn, with the same load, in the same run.
//!
//! Every scenario starts fresh server processes for each measurement and stops
//! them afterwards, so one measurement never inherits another's state.

pub mod cluster;
pub mod fanout;
pub mod history;
pub mod idle;
pub mod rooms;
pub mod soak;

use std::path::PathBuf;
use std::time::Duration;

use crate::cli::{Options, ScenarioName};
use crate::procstat;
use crate::report::Report;
use crate::targets::{self, Binaries, Deployment, Target};
use crate::{Result, metrics};

/// File descriptors kept for everything that is not a client connection
/// (server listeners, NATS, logs, the runtime).
const FD_RESERVE: u64 = 256;

/// What every scenario needs.
#[derive(Debug)]
pub struct Ctx {
    /// The options of this run (already reduced for `--smoke`).
    pub opts: Options,
    /// Where the servers to start are (from the command line or environment).
    pub binaries: Binaries,
    /// Most client connections this process (and a server it starts, which
    /// inherits its open-files limit) can hold.
    pub max_connections: usize,
}

impl Ctx {
    /// The length of a measured phase.
    pub fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.opts.duration.max(0.1))
    }

    /// Starts `nodes` fresh nodes of `target`.
    pub async fn deploy(
        &self,
        target: Target,
        nodes: usize,
        nats: Option<&str>,
    ) -> Result<Deployment> {
        targets::deploy(target, &self.binaries, nodes, nats, &self.opts.work_dir).await
    }

    /// `requested` connections, or fewer when the open-files limit does not
    /// allow that many (with a note saying so).
    pub fn fit(&self, requested: usize, what: &str, report: &mut Report) -> usize {
        if requested <= self.max_connections {
            return requested;
        }
        let (soft, hard) = procstat::open_files_limit().unwrap_or((0, 0));
        report.note(format!(
            "{what}: {requested} connections need about {} open files in the load generator \
             and in the server, but the open-files limit is {soft} (hard limit {hard}); \
             measured with {} connections instead",
            requested as u64 + FD_RESERVE,
            self.max_connections
        ));
        self.max_connections
    }
}

/// Runs the selected scenarios against the selected targets and prints the
/// report; returns whether the run was clean (only `--smoke` cares).
pub async fn run(opts: Options) -> Result<bool> {
    std::fs::create_dir_all(&opts.work_dir)
        .map_err(|e| format!("{}: {e}", opts.work_dir.display()))?;
    let binaries = Binaries {
        chorus: opts.chorus_bin.clone(),
        centrifugo: opts.centrifugo_bin.clone(),
        chorus_env: opts.chorus_env.clone(),
    };
    let mut report = Report::default();
    let (soft, hard) = procstat::open_files_limit()?;
    let max_connections = max_connections(soft);
    let ctx = Ctx {
        opts,
        binaries,
        max_connections,
    };
    describe_environment(&ctx, &mut report, soft, hard);

    let mut targets = Vec::new();
    for &target in &ctx.opts.targets {
        match ctx.binaries.version(target) {
            Ok(version) => {
                report
                    .environment
                    .insert(format!("{target} version"), version);
                targets.push(target);
            }
            Err(e) => report.note(format!(
                "{target} not measured: {e} (bench/run.sh builds Chorus and installs Centrifugo)"
            )),
        }
    }
    if targets.is_empty() {
        return Err("no target can run; see the notes above".into());
    }
    if ctx.opts.smoke && !targets.contains(&Target::Chorus) {
        return Err("the smoke run needs the chorus binary".into());
    }

    for scenario in ctx.opts.selected_scenarios() {
        for &target in &targets {
            println!("== {scenario:?} on {target}");
            let outcome = match scenario {
                ScenarioName::Idle => idle::run(&ctx, target, &mut report).await,
                ScenarioName::Fanout => fanout::run(&ctx, target, &mut report).await,
                ScenarioName::Rooms => rooms::run(&ctx, target, &mut report).await,
                ScenarioName::Cluster => cluster::run(&ctx, target, &mut report).await,
                ScenarioName::Soak => soak::run(&ctx, target, &mut report).await,
                ScenarioName::History => history::run(&ctx, target, &mut report).await,
            };
            if let Err(e) = outcome {
                report.problem(format!("{scenario:?} on {target} failed: {e}"));
            }
        }
    }

    let markdown = report.full_markdown(&targets);
    println!("\n{markdown}");
    // A soak keeps its own files, so it does not replace a full run's results.
    let stem = if ctx.opts.selected_scenarios() == [ScenarioName::Soak] {
        "soak-results"
    } else {
        "results"
    };
    let work: PathBuf = ctx.opts.work_dir.clone();
    let (md_path, json_path) = (
        work.join(format!("{stem}.md")),
        work.join(format!("{stem}.json")),
    );
    std::fs::write(&json_path, serde_json::to_string_pretty(&report)?)?;
    std::fs::write(&md_path, &markdown)?;
    println!("results: {} and {}", md_path.display(), json_path.display());
    Ok(!ctx.opts.smoke || report.problems.is_empty())
}

/// Client connections that fit in `soft` open files, in whole thousands
/// once there are more than a thousand.
fn max_connections(soft: u64) -> usize {
    let usable = soft.saturating_sub(FD_RESERVE);
    let rounded = if usable >= 1000 {
        usable / 1000 * 1000
    } else {
        usable
    };
    usize::try_from(rounded).unwrap_or(usize::MAX)
}

/// Checks what a finished phase saw and records problems: connections lost,
/// error replies, publications that never arrived.
pub fn check(
    report: &mut Report,
    label: &str,
    counts: metrics::Counts,
    expected_deliveries: Option<u64>,
    recorder: &metrics::Recorder,
) {
    let mut problems = Vec::new();
    if counts.disconnects > 0 {
        problems.push(format!("{} connections lost", counts.disconnects));
    }
    if counts.errors > 0 {
        problems.push(format!("{} error replies", counts.errors));
    }
    if let Some(expected) = expected_deliveries {
        if counts.deliveries < expected {
            problems.push(format!(
                "{} of {expected} deliveries arrived",
                counts.deliveries
            ));
        }
    }
    if !problems.is_empty() {
        let reasons = recorder.reasons();
        let why = if reasons.is_empty() {
            String::new()
        } else {
            format!(" (first reasons: {})", reasons.join("; "))
        };
        report.problem(format!("{label}: {}{why}", problems.join(", ")));
    }
}

fn describe_environment(ctx: &Ctx, report: &mut Report, soft: u64, hard: u64) {
    let env = &mut report.environment;
    if let Some(label) = &ctx.opts.label {
        env.insert("run".into(), label.clone());
    }
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    env.insert("cores".into(), cores.to_string());
    if let Some(model) = first_line_value("/proc/cpuinfo", "model name") {
        env.insert("cpu".into(), model);
    }
    if let Some(mem) = first_line_value("/proc/meminfo", "MemTotal") {
        env.insert("memory".into(), mem);
    }
    if let Ok(kernel) = std::fs::read_to_string("/proc/sys/kernel/osrelease") {
        env.insert("kernel".into(), kernel.trim().to_owned());
    }
    env.insert(
        "open files limit".into(),
        format!(
            "{soft} (hard {hard}); at most {} client connections",
            ctx.max_connections
        ),
    );
    env.insert(
        "load generator".into(),
        format!(
            "chorus-bench, one process, tokio with {cores} worker threads, on the same cores as the servers"
        ),
    );
    let o = &ctx.opts;
    env.insert(
        "load".into(),
        format!(
            "idle {:?}; fanout {:?} (window {}, fixed rate {} deliveries/s); rooms {} x {} at {}/s each; \
             cluster fanout {:?}; phases of {} s; payload {} bytes of padding{}",
            o.idle_sizes,
            o.fanout_sizes,
            o.fanout_window,
            o.fanout_rate,
            o.rooms,
            o.room_members,
            o.room_rate,
            o.cluster_fanout_sizes,
            o.duration,
            o.payload,
            if o.smoke { " (smoke run)" } else { "" }
        ),
    );
}

/// The value of the first `key: value` line of a `/proc` file.
fn first_line_value(path: &str, key: &str) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let line = text.lines().find(|l| l.starts_with(key))?;
    Some(line.split_once(':')?.1.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_fit_the_open_files_limit() {
        assert_eq!(max_connections(20_000), 19_000);
        assert_eq!(max_connections(1_048_576), 1_048_000);
        assert_eq!(max_connections(1_000), 744);
        assert_eq!(max_connections(100), 0);
    }
}
