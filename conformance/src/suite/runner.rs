//! Runs scenarios, a few at a time and each with a timeout, and collects a
//! [`Report`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use chorus_protocol::Codec;
use futures_util::StreamExt;

use super::{Codecs, Context, Outcome, Report, Scenario, ScenarioResult, Status, codec_label};

/// The longest one scenario may run with one codec. Every single wait inside
/// a scenario is bounded by [`super::client::WAIT`], far below this.
pub const SCENARIO_TIMEOUT: Duration = Duration::from_secs(90);

/// Scenario runs in flight at once by default. Scenarios use their own
/// channels and users, so they do not interfere with each other.
pub const DEFAULT_PARALLEL: usize = 4;

/// How to run a catalogue.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Time limit per scenario and codec; on expiry the scenario fails.
    pub timeout: Duration,
    /// Only scenarios whose name contains one of these strings (all when empty).
    pub only: Vec<String>,
    /// Scenarios whose name contains one of these strings are reported as
    /// skipped without running.
    pub skip: Vec<String>,
    /// Scenario runs in flight at once (at least 1).
    pub parallel: usize,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            timeout: SCENARIO_TIMEOUT,
            only: Vec::new(),
            skip: Vec::new(),
            parallel: DEFAULT_PARALLEL,
        }
    }
}

impl RunOptions {
    /// Options running only the scenarios whose name contains `only`.
    pub fn only(only: impl Into<String>) -> RunOptions {
        RunOptions {
            only: vec![only.into()],
            ..RunOptions::default()
        }
    }

    /// Whether `scenario` is selected by [`RunOptions::only`].
    pub fn selects(&self, scenario: &dyn Scenario) -> bool {
        self.only.is_empty() || self.only.iter().any(|o| scenario.name().contains(o))
    }

    /// The `--skip` pattern that excludes `scenario`, if any.
    fn excluded_by(&self, scenario: &dyn Scenario) -> Option<&str> {
        self.skip
            .iter()
            .find(|s| scenario.name().contains(s.as_str()))
            .map(String::as_str)
    }
}

/// Runs every selected scenario and returns the report.
pub async fn run(ctx: &Context, scenarios: &[Arc<dyn Scenario>], options: &RunOptions) -> Report {
    run_with(ctx, scenarios, options, |_| {}).await
}

/// Like [`run`], calling `progress` with each result, in catalogue order, as
/// soon as it and every result before it are known.
pub async fn run_with(
    ctx: &Context,
    scenarios: &[Arc<dyn Scenario>],
    options: &RunOptions,
    mut progress: impl FnMut(&ScenarioResult),
) -> Report {
    let started = Instant::now();
    let shared = Arc::new(ctx.clone());
    let mut jobs = Vec::new();
    for scenario in scenarios.iter().filter(|s| options.selects(s.as_ref())) {
        let codecs: &[Option<Codec>] = match scenario.codecs() {
            Codecs::Each => &[Some(Codec::Json), Some(Codec::MessagePack)],
            Codecs::Independent => &[None],
        };
        for &codec in codecs {
            jobs.push((Arc::clone(scenario), codec));
        }
    }
    let mut results = Vec::with_capacity(jobs.len());
    let mut stream = futures_util::stream::iter(jobs)
        .map(|(scenario, codec)| {
            let ctx = Arc::clone(&shared);
            async move { run_one(&ctx, &scenario, codec, options).await }
        })
        .buffered(options.parallel.max(1));
    while let Some(result) = stream.next().await {
        progress(&result);
        results.push(result);
    }
    let mut report = Report::new(ctx.ws.clone(), results);
    report.duration_ms = millis(started.elapsed());
    report
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Runs one scenario with one codec in its own task, so that a panic or a
/// hang is reported as a failure of that scenario only.
async fn run_one(
    ctx: &Arc<Context>,
    scenario: &Arc<dyn Scenario>,
    codec: Option<Codec>,
    options: &RunOptions,
) -> ScenarioResult {
    let started = Instant::now();
    let outcome = match missing_needs(ctx, scenario.as_ref(), options) {
        Some(why) => Outcome::Skip(why),
        None => {
            let timeout = options.timeout;
            let task = {
                let ctx = Arc::clone(ctx);
                let scenario = Arc::clone(scenario);
                tokio::spawn(async move {
                    let run = scenario.run(&ctx, codec.unwrap_or(Codec::Json));
                    tokio::time::timeout(timeout, run).await
                })
            };
            match task.await {
                Ok(Ok(outcome)) => outcome,
                Ok(Err(_)) => {
                    Outcome::Fail(format!("did not finish within {} s", timeout.as_secs_f64()))
                }
                Err(e) if e.is_panic() => Outcome::Fail(format!("the scenario panicked: {e}")),
                Err(e) => Outcome::Fail(format!("the scenario did not complete: {e}")),
            }
        }
    };
    let (status, reason) = match outcome {
        Outcome::Pass => (Status::Pass, None),
        Outcome::Fail(r) => (Status::Fail, Some(r)),
        Outcome::Skip(r) => (Status::Skip, Some(r)),
    };
    ScenarioResult {
        scenario: scenario.name().into(),
        area: scenario.area().into(),
        codec: codec.map(|c| codec_label(c).to_owned()),
        status,
        reason,
        duration_ms: millis(started.elapsed()),
    }
}

/// Why `scenario` cannot run with `ctx`, if it cannot.
fn missing_needs(ctx: &Context, scenario: &dyn Scenario, options: &RunOptions) -> Option<String> {
    let needs = scenario.needs();
    if let Some(pattern) = options.excluded_by(scenario) {
        return Some(format!("excluded by --skip {pattern:?}"));
    }
    if ctx.ws.is_empty() {
        return Some("no WebSocket URL given".into());
    }
    if ctx.ws.len() < needs.nodes {
        return Some(format!(
            "needs {} nodes: pass --ws once per node ({} given)",
            needs.nodes,
            ctx.ws.len()
        ));
    }
    if needs.api && ctx.api.is_none() {
        return Some("needs the HTTP API: pass --api and --api-key".into());
    }
    if needs.tokens && !ctx.tokens.is_available() {
        return Some("needs tokens: pass --hmac-secret or --token-cmd".into());
    }
    None
}
