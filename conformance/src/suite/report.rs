//! The results of a run: a JSON report and a human summary.

use serde::{Deserialize, Serialize};

use super::Outcome;

/// Whether a scenario passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The server behaved as the protocol requires.
    Pass,
    /// It did not; `reason` says how.
    Fail,
    /// The scenario could not run (for example no token source); `reason` says why.
    Skip,
}

/// The result of one scenario with one codec.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScenarioResult {
    /// The scenario's name.
    pub scenario: String,
    /// The scenario's area (`handshake`, `auth`, `commands`, ...).
    #[serde(default)]
    pub area: String,
    /// `json` or `msgpack`; absent for codec-independent scenarios.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codec: Option<String>,
    /// Pass, fail or skip; [`Self::reason`] says why for the last two.
    pub status: Status,
    /// Why it failed or was skipped; absent on a pass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// How long it took, in milliseconds.
    pub duration_ms: u64,
}

impl ScenarioResult {
    /// `name (codec)`, or just the name for codec-independent scenarios.
    pub fn label(&self) -> String {
        match &self.codec {
            Some(c) => format!("{} ({c})", self.scenario),
            None => self.scenario.clone(),
        }
    }

    /// The result as an [`Outcome`].
    pub fn outcome(&self) -> Outcome {
        let reason = self.reason.clone().unwrap_or_default();
        match self.status {
            Status::Pass => Outcome::Pass,
            Status::Fail => Outcome::Fail(reason),
            Status::Skip => Outcome::Skip(reason),
        }
    }

    /// One line: `PASS  name (codec)`, with the reason on failures and skips.
    pub fn line(&self) -> String {
        let tag = match self.status {
            Status::Pass => "PASS",
            Status::Fail => "FAIL",
            Status::Skip => "SKIP",
        };
        match &self.reason {
            Some(r) => format!("{tag}  {}: {r}", self.label()),
            None => format!("{tag}  {}", self.label()),
        }
    }
}

/// Counts of each status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Scenarios that passed.
    pub passed: usize,
    /// Scenarios that failed.
    pub failed: usize,
    /// Scenarios that were skipped.
    pub skipped: usize,
}

/// The JSON report of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// The version of chorus-conformance that produced it.
    pub version: String,
    /// The WebSocket URLs tested.
    pub ws: Vec<String>,
    /// Counts of each status.
    pub summary: Summary,
    /// Wall-clock time of the whole run, in milliseconds.
    #[serde(default)]
    pub duration_ms: u64,
    /// Every scenario run, in order.
    pub results: Vec<ScenarioResult>,
}

impl Report {
    /// A report of `results` for the servers at `ws`.
    pub fn new(ws: Vec<String>, results: Vec<ScenarioResult>) -> Report {
        let mut summary = Summary::default();
        for r in &results {
            match r.status {
                Status::Pass => summary.passed += 1,
                Status::Fail => summary.failed += 1,
                Status::Skip => summary.skipped += 1,
            }
        }
        Report {
            version: env!("CARGO_PKG_VERSION").into(),
            ws,
            summary,
            duration_ms: 0,
            results,
        }
    }

    /// Whether nothing failed (skips do not count as failures).
    pub fn ok(&self) -> bool {
        self.summary.failed == 0
    }

    /// The results that failed.
    pub fn failures(&self) -> impl Iterator<Item = &ScenarioResult> {
        self.results.iter().filter(|r| r.status == Status::Fail)
    }

    /// The results that were skipped.
    pub fn skips(&self) -> impl Iterator<Item = &ScenarioResult> {
        self.results.iter().filter(|r| r.status == Status::Skip)
    }

    /// `N passed, M failed, K skipped`.
    pub fn totals_line(&self) -> String {
        let Summary {
            passed,
            failed,
            skipped,
        } = self.summary;
        format!("{passed} passed, {failed} failed, {skipped} skipped")
    }

    /// The human summary: one line per result, the failures repeated, then
    /// the totals line.
    pub fn human(&self) -> String {
        let mut out = String::new();
        for r in &self.results {
            out.push_str(&r.line());
            out.push('\n');
        }
        if !self.ok() {
            out.push_str("\nfailures:\n");
            for r in self.failures() {
                out.push_str("  ");
                out.push_str(&r.line());
                out.push('\n');
            }
        }
        out.push('\n');
        out.push_str(&self.totals_line());
        out.push('\n');
        out
    }

    /// The report as pretty-printed JSON.
    pub fn to_json(&self) -> String {
        // Serialising these plain structs cannot fail; fall back to an empty
        // object rather than panicking.
        serde_json::to_string_pretty(self).unwrap_or_else(|_| "{}".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Report {
        Report::new(
            vec!["ws://127.0.0.1:8000/ws".into()],
            vec![
                ScenarioResult {
                    scenario: "handshake".into(),
                    area: "handshake".into(),
                    codec: Some("json".into()),
                    status: Status::Pass,
                    reason: None,
                    duration_ms: 3,
                },
                ScenarioResult {
                    scenario: "unknown-subprotocol".into(),
                    area: "handshake".into(),
                    codec: None,
                    status: Status::Fail,
                    reason: Some("expected HTTP 400, got 101".into()),
                    duration_ms: 5,
                },
                ScenarioResult {
                    scenario: "connect".into(),
                    area: "auth".into(),
                    codec: Some("msgpack".into()),
                    status: Status::Skip,
                    reason: Some("no token source".into()),
                    duration_ms: 0,
                },
            ],
        )
    }

    #[test]
    fn report_round_trips_through_json() {
        let report = sample();
        let json = report.to_json();
        let back: Report = serde_json::from_str(&json).unwrap();
        assert_eq!(back, report);
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["summary"]["passed"], 1);
        assert_eq!(value["results"][0]["status"], "pass");
        assert!(value["results"][0].get("reason").is_none());
        assert!(value["results"][1].get("codec").is_none());
        assert_eq!(value["results"][2]["status"], "skip");
    }

    #[test]
    fn human_summary_ends_with_totals() {
        let report = sample();
        assert!(!report.ok());
        let text = report.human();
        assert!(text.ends_with("1 passed, 1 failed, 1 skipped\n"), "{text}");
        assert!(text.contains("FAIL  unknown-subprotocol: expected HTTP 400, got 101"));
        assert!(text.contains("SKIP  connect (msgpack): no token source"));
    }
}
