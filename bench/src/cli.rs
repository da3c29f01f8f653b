//! Command-line options. Every size and duration can also be set through a
//! `BENCH_*` environment variable, which `bench/run.sh` passes through.

use std::path::PathBuf;

use clap::{Parser, ValueEnum};

use crate::targets::Target;

/// A scenario name on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScenarioName {
    /// N idle connections, each in 2 channels: server memory per connection.
    Idle,
    /// 1 publisher, 1 channel, N subscribers: deliveries/s and latency.
    Fanout,
    /// M channels x K members publishing at R/s: throughput, latency, CPU.
    Rooms,
    /// Fanout and rooms over 2 nodes joined by NATS.
    Cluster,
    /// Rooms at constant load for `--soak` seconds: memory over time.
    Soak,
    /// One hot history channel on 3 nodes over a NATS cluster: the highest
    /// publish rate, and the cost of recovery (Chorus only).
    History,
}

/// Load generator for Chorus, measured side by side with Centrifugo.
///
/// Starts each target's server itself, runs every selected scenario against
/// every target with the same load, and prints a table of figures with the
/// ratio Chorus/Centrifugo. See docs/benchmarks.md.
#[derive(Debug, Clone, Parser)]
#[command(name = "chorus-bench", version)]
pub struct Options {
    /// Scenarios to run, in order (`soak` runs only when named or with `--soak`).
    #[arg(
        long,
        env = "BENCH_SCENARIOS",
        value_delimiter = ',',
        default_value = "idle,fanout,rooms,cluster"
    )]
    pub scenarios: Vec<ScenarioName>,

    /// Servers to measure. A target whose binary is missing is skipped with a note.
    #[arg(
        long,
        env = "BENCH_TARGETS",
        value_delimiter = ',',
        default_value = "chorus,centrifugo"
    )]
    pub targets: Vec<Target>,

    /// Tiny sizes and sub-second phases for every scenario: checks that the
    /// tool works (exits non-zero on lost deliveries, disconnects or errors).
    #[arg(long)]
    pub smoke: bool,

    /// Run only the soak scenario, for this many seconds.
    #[arg(long, value_name = "SECS")]
    pub soak: Option<u64>,

    /// The `chorus` server binary.
    #[arg(
        long,
        env = "BENCH_CHORUS_BIN",
        default_value = "target/release/chorus"
    )]
    pub chorus_bin: PathBuf,

    /// Settings for every `chorus` node, as `CHORUS_...=VALUE` environment
    /// variables (repeatable), e.g. `CHORUS_LIMITS__WRITE_DELAY_MS=5`; the
    /// rest of the bench's own environment is kept from the server.
    #[arg(long, value_name = "VAR=VALUE", value_parser = chorus_setting)]
    pub chorus_env: Vec<(String, String)>,

    /// The `centrifugo` server binary.
    #[arg(
        long,
        env = "BENCH_CENTRIFUGO_BIN",
        default_value = "target/tools/bin/centrifugo"
    )]
    pub centrifugo_bin: PathBuf,

    /// idle: connection counts. Counts above what the open-files limit allows
    /// are lowered to the largest that fits, with a note.
    #[arg(
        long,
        env = "BENCH_IDLE_SIZES",
        value_delimiter = ',',
        default_value = "10000,50000"
    )]
    pub idle_sizes: Vec<usize>,

    /// fanout: subscriber counts.
    #[arg(
        long,
        env = "BENCH_FANOUT_SIZES",
        value_delimiter = ',',
        default_value = "1000,10000"
    )]
    pub fanout_sizes: Vec<usize>,

    /// fanout: publications in flight in the throughput phase (the publisher
    /// waits until publication k-W reached every subscriber before sending k).
    #[arg(long, env = "BENCH_FANOUT_WINDOW", default_value_t = 8)]
    pub fanout_window: u64,

    /// fanout: offered deliveries per second in the fixed-rate latency phase
    /// (the publish rate is this divided by the subscriber count).
    #[arg(long, env = "BENCH_FANOUT_RATE", default_value_t = 20_000)]
    pub fanout_rate: u64,

    /// rooms (and cluster, soak): number of channels.
    #[arg(long, env = "BENCH_ROOMS", default_value_t = 100)]
    pub rooms: usize,

    /// rooms: members per channel; each subscribes to it and publishes to it.
    #[arg(long, env = "BENCH_ROOM_MEMBERS", default_value_t = 20)]
    pub room_members: usize,

    /// rooms: publications per second of each member.
    #[arg(long, env = "BENCH_ROOM_RATE", default_value_t = 1.0)]
    pub room_rate: f64,

    /// cluster: subscriber counts of the fanout part.
    #[arg(
        long,
        env = "BENCH_CLUSTER_FANOUT_SIZES",
        value_delimiter = ',',
        default_value = "1000,10000"
    )]
    pub cluster_fanout_sizes: Vec<usize>,

    /// history: closed-loop publishers per node on the hot channel.
    #[arg(
        long,
        env = "BENCH_HISTORY_PUBLISHERS",
        value_delimiter = ',',
        default_value = "1,4,16,64"
    )]
    pub history_publishers: Vec<usize>,

    /// history: publications retained before a recovery is timed.
    #[arg(
        long,
        env = "BENCH_HISTORY_RETAINED",
        value_delimiter = ',',
        default_value = "2000,50000"
    )]
    pub history_retained: Vec<usize>,

    /// history: publications a recovering subscriber missed.
    #[arg(long, env = "BENCH_HISTORY_MISSED", default_value_t = 100)]
    pub history_missed: usize,

    /// Seconds of each measured phase.
    #[arg(long, env = "BENCH_DURATION", default_value_t = 10.0)]
    pub duration: f64,

    /// Padding bytes in each payload (the stamp adds about 40 bytes).
    #[arg(long, env = "BENCH_PAYLOAD", default_value_t = 64)]
    pub payload: usize,

    /// A line describing the run (commit, date, command) for the report.
    #[arg(long, env = "BENCH_LABEL")]
    pub label: Option<String>,

    /// Where configurations, server logs and results go.
    #[arg(long, env = "BENCH_WORK_DIR", default_value = "target/bench")]
    pub work_dir: PathBuf,
}

impl Options {
    /// Replaces every size and duration with the tiny ones of a smoke run,
    /// which runs every scenario, the soak included.
    pub fn apply_smoke(&mut self) {
        self.scenarios = vec![
            ScenarioName::Idle,
            ScenarioName::Fanout,
            ScenarioName::Rooms,
            ScenarioName::Cluster,
            ScenarioName::Soak,
            ScenarioName::History,
        ];
        self.idle_sizes = vec![50, 100];
        self.fanout_sizes = vec![20, 50];
        self.fanout_window = 2;
        self.fanout_rate = 1_000;
        self.rooms = 4;
        self.room_members = 5;
        self.room_rate = 5.0;
        self.cluster_fanout_sizes = vec![20];
        self.history_publishers = vec![1, 2];
        self.history_retained = vec![50, 200];
        self.history_missed = 10;
        self.duration = 1.0;
        self.payload = 16;
    }

    /// The scenarios this run executes.
    pub fn selected_scenarios(&self) -> Vec<ScenarioName> {
        if self.soak.is_some() {
            vec![ScenarioName::Soak]
        } else {
            self.scenarios.clone()
        }
    }

    /// Seconds of the soak run.
    pub fn soak_seconds(&self) -> u64 {
        self.soak.unwrap_or(300)
    }
}

/// One `--chorus-env` setting: a `CHORUS_` variable and its value.
fn chorus_setting(arg: &str) -> std::result::Result<(String, String), String> {
    match arg.split_once('=') {
        Some((key, value)) if key.starts_with("CHORUS_") => Ok((key.to_owned(), value.to_owned())),
        _ => Err(format!("{arg}: expected CHORUS_NAME=VALUE")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_cover_the_four_scenarios_and_both_targets() {
        let opts = Options::parse_from(["chorus-bench"]);
        assert_eq!(
            opts.selected_scenarios(),
            [
                ScenarioName::Idle,
                ScenarioName::Fanout,
                ScenarioName::Rooms,
                ScenarioName::Cluster
            ]
        );
        assert_eq!(opts.targets, [Target::Chorus, Target::Centrifugo]);
        assert_eq!(opts.idle_sizes, [10_000, 50_000]);
    }

    #[test]
    fn soak_runs_alone() {
        let opts = Options::parse_from(["chorus-bench", "--soak", "300"]);
        assert_eq!(opts.selected_scenarios(), [ScenarioName::Soak]);
        assert_eq!(opts.soak_seconds(), 300);
    }

    #[test]
    fn sizes_from_flags() {
        let opts = Options::parse_from([
            "chorus-bench",
            "--targets",
            "chorus",
            "--fanout-sizes",
            "10,20",
        ]);
        assert_eq!(opts.targets, [Target::Chorus]);
        assert_eq!(opts.fanout_sizes, [10, 20]);
    }

    /// Every `bench/run.sh` line of the benchmark docs parses (the script hands
    /// its arguments to this binary), so the docs cannot name a stale option.
    #[test]
    fn documented_invocations_parse() {
        let docs = [
            include_str!("../../docs/benchmarks.md"),
            include_str!("../README.md"),
        ];
        let mut seen = 0;
        for line in docs.iter().flat_map(|d| d.lines()) {
            let command = line.split(" #").next().unwrap_or_default();
            let Some((_, args)) = command.split_once("bench/run.sh") else {
                continue;
            };
            if command.contains('`') || command.contains('[') {
                continue; // prose or a link, not a command line
            }
            let args = args.split_whitespace().filter(|a| *a != "--smoke");
            let parsed = Options::try_parse_from(std::iter::once("chorus-bench").chain(args));
            assert!(parsed.is_ok(), "{line:?}: {parsed:?}");
            seen += 1;
        }
        assert!(seen >= 6, "only {seen} invocations found");
    }
}
