//! Runs scenarios, each with a timeout, and collects a [`Report`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use chorus_protocol::Codec;

use super::{Codecs, Context, Outcome, Report, Scenario, ScenarioResult, Status, codec_label};

/// The longest one scenario may run with one codec.
pub const SCENARIO_TIMEOUT: Duration = Duration::from_secs(30);

/// How to run a catalogue.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Time limit per scenario and codec; on expiry the scenario fails.
    pub timeout: Duration,
    /// Only scenarios whose name contains this string.
    pub only: Option<String>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            timeout: SCENARIO_TIMEOUT,
            only: None,
        }
    }
}

impl RunOptions {
    /// Whether `scenario` is selected by [`RunOptions::only`].
    pub fn selects(&self, scenario: &dyn Scenario) -> bool {
        self.only
            .as_deref()
            .is_none_or(|only| scenario.name().contains(only))
    }
}

/// Runs every selected scenario (one at a time) and returns the report.
pub async fn run(ctx: &Context, scenarios: &[Arc<dyn Scenario>], options: &RunOptions) -> Report {
    run_with(ctx, scenarios, options, |_| {}).await
}

/// Like [`run`], calling `progress` with each result as soon as it is known.
pub async fn run_with(
    ctx: &Context,
    scenarios: &[Arc<dyn Scenario>],
    options: &RunOptions,
    mut progress: impl FnMut(&ScenarioResult),
) -> Report {
    let shared = Arc::new(ctx.clone());
    let mut results = Vec::new();
    for scenario in scenarios.iter().filter(|s| options.selects(s.as_ref())) {
        let codecs: &[Option<Codec>] = match scenario.codecs() {
            Codecs::Each => &[Some(Codec::Json), Some(Codec::MessagePack)],
            Codecs::Independent => &[None],
        };
        for &codec in codecs {
            let result = run_one(&shared, scenario, codec, options.timeout).await;
            progress(&result);
            results.push(result);
        }
    }
    Report::new(ctx.ws.clone(), results)
}

/// Runs one scenario with one codec in its own task, so that a panic or a
/// hang is reported as a failure of that scenario only.
async fn run_one(
    ctx: &Arc<Context>,
    scenario: &Arc<dyn Scenario>,
    codec: Option<Codec>,
    timeout: Duration,
) -> ScenarioResult {
    let started = Instant::now();
    let outcome = match missing_needs(ctx, scenario.as_ref()) {
        Some(why) => Outcome::Skip(why),
        None => {
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
        codec: codec.map(|c| codec_label(c).to_owned()),
        status,
        reason,
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    }
}

/// Why `scenario` cannot run with `ctx`, if it cannot.
fn missing_needs(ctx: &Context, scenario: &dyn Scenario) -> Option<String> {
    let needs = scenario.needs();
    if ctx.ws.is_empty() {
        return Some("no WebSocket URL given".into());
    }
    if needs.api && ctx.api.is_none() {
        return Some("needs the HTTP API: pass --api (and --api-key)".into());
    }
    if needs.tokens && !ctx.tokens.is_available() {
        return Some("needs tokens: pass --hmac-secret or --token-cmd".into());
    }
    None
}
