//! The verdict of one run: every acknowledged publication checked against
//! every subscriber of its channel.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use serde::Serialize;

use crate::load::{PubId, PublishLog, SubscriberLog};

/// The figures of one run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// The scenario's name, as on the command line.
    pub scenario: String,
    /// Run number within the scenario (from 1).
    pub run: usize,
    /// What the fault did, with times.
    pub fault: String,
    /// Wall-clock seconds of the run.
    pub seconds: f64,
    /// How many subscribers were checked.
    pub subscribers: usize,
    /// Publish calls that returned: `acknowledged` plus `failed`.
    pub published: usize,
    /// Publishes acknowledged with a position.
    pub acknowledged: usize,
    /// Publishes that failed (the client got an error).
    pub failed: usize,
    /// Failed publishes by error name.
    pub errors: BTreeMap<String, usize>,
    /// Failed publishes that subscribers received all the same.
    pub failed_but_delivered: usize,
    /// (subscriber, acknowledged publication) pairs never delivered.
    pub lost: usize,
    /// Deliveries of a publication a subscriber had received already.
    pub duplicated: usize,
    /// Deliveries whose offset did not follow the previous one's.
    pub out_of_order: usize,
    /// Deliveries at another offset than the publish acknowledged, and
    /// acknowledgements that share an offset.
    pub misplaced: usize,
    /// The longest a subscriber went without a delivery, in ms, between its
    /// first and its last one.
    pub longest_gap_ms: u64,
    /// Resubscribes after a lost connection.
    pub reconnects: usize,
    /// Time from losing a subscription to having it back, p50 (ms).
    pub reconnect_p50_ms: Option<u64>,
    /// The same, p99 (ms).
    pub reconnect_p99_ms: Option<u64>,
    /// Resubscribes that reported `unrecoverable`.
    pub unrecoverable: usize,
    /// Gaps in live delivery the client repaired from history.
    pub gaps_repaired: usize,
    /// Gaps in live delivery history could not fill.
    pub gaps_lost: usize,
    /// Subscribers not subscribed at the end.
    pub stuck: usize,
    /// Time from a publish call to its acknowledgement, p50 (ms); `None`
    /// when nothing was acknowledged.
    pub ack_p50_ms: Option<u64>,
    /// The same, p99 (ms).
    pub ack_p99_ms: Option<u64>,
    /// Why the run failed; empty when it passed.
    pub failures: Vec<String>,
}

fn percentile(sorted: &[Duration], p: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    Some(sorted[i].as_millis() as u64)
}

/// Judges a run. `strict` (the no-fault baseline) also fails on any failed
/// publish, any unrecoverable resubscribe and any gap history could not fill.
pub fn judge(publishes: &[PublishLog], subscribers: &[SubscriberLog], strict: bool) -> Report {
    let mut r = Report {
        subscribers: subscribers.len(),
        published: publishes.len(),
        ..Default::default()
    };
    // The truth: what was acknowledged, where.
    let mut acked: BTreeMap<&str, BTreeMap<u64, PubId>> = BTreeMap::new();
    let mut acked_at: HashMap<PubId, u64> = HashMap::new();
    let mut failed_ids = Vec::new();
    let mut latencies = Vec::new();
    for p in publishes {
        match &p.outcome {
            Ok((offset, _)) => {
                r.acknowledged += 1;
                latencies.push(p.latency);
                acked_at.insert(p.id, *offset);
                if acked
                    .entry(&p.channel)
                    .or_default()
                    .insert(*offset, p.id)
                    .is_some()
                {
                    r.misplaced += 1;
                }
            }
            Err(name) => {
                r.failed += 1;
                *r.errors.entry(name.clone()).or_default() += 1;
                failed_ids.push(p.id);
            }
        }
    }
    latencies.sort_unstable();
    r.ack_p50_ms = percentile(&latencies, 0.5);
    r.ack_p99_ms = percentile(&latencies, 0.99);

    let mut reconnects = Vec::new();
    let mut delivered_anywhere = std::collections::HashSet::new();
    for s in subscribers {
        let mut seen = std::collections::HashSet::new();
        let mut previous: Option<(u64, &str)> = None;
        for d in &s.deliveries {
            delivered_anywhere.insert(d.id);
            if !seen.insert(d.id) {
                r.duplicated += 1;
            }
            if let Some((offset, epoch)) = previous {
                if epoch == d.epoch && d.offset <= offset {
                    r.out_of_order += 1;
                }
            }
            previous = Some((d.offset, &d.epoch));
            if acked_at.get(&d.id).is_some_and(|o| *o != d.offset) {
                r.misplaced += 1;
            }
        }
        for pair in s.deliveries.windows(2) {
            let gap = pair[1].at.saturating_duration_since(pair[0].at);
            r.longest_gap_ms = r.longest_gap_ms.max(gap.as_millis() as u64);
        }
        if let Some(channel) = acked.get(s.channel.as_str()) {
            r.lost += channel.values().filter(|id| !seen.contains(id)).count();
        }
        reconnects.extend(&s.reconnects);
        r.unrecoverable += s
            .recoveries
            .iter()
            .filter(|x| **x == chorus_client::Recovery::Unrecoverable)
            .count();
        r.gaps_repaired += s.gaps.iter().filter(|g| g.2).count();
        r.gaps_lost += s.gaps.iter().filter(|g| !g.2).count();
        if !s.subscribed {
            r.stuck += 1;
        }
    }
    r.failed_but_delivered = failed_ids
        .iter()
        .filter(|id| delivered_anywhere.contains(id))
        .count();
    reconnects.sort_unstable();
    r.reconnects = reconnects.len();
    r.reconnect_p50_ms = percentile(&reconnects, 0.5);
    r.reconnect_p99_ms = percentile(&reconnects, 0.99);

    let mut failures = Vec::new();
    for (count, what) in [
        (r.lost, "acknowledged publications lost"),
        (r.duplicated, "duplicates"),
        (r.out_of_order, "out of order"),
        (r.misplaced, "misplaced offsets"),
        (r.stuck, "stuck subscribers"),
    ] {
        if count > 0 {
            failures.push(format!("{count} {what}"));
        }
    }
    if r.acknowledged == 0 {
        failures.push("nothing was acknowledged".to_owned());
    }
    if strict {
        for (count, what) in [
            (r.failed, "failed publishes without a fault"),
            (
                r.unrecoverable,
                "unrecoverable resubscribes without a fault",
            ),
            (r.gaps_lost, "unfilled gaps without a fault"),
        ] {
            if count > 0 {
                failures.push(format!("{count} {what}"));
            }
        }
    }
    r.failures = failures;
    r
}

impl Report {
    /// True when no check failed (`failures` is empty).
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }

    /// One line for the terminal.
    pub fn line(&self) -> String {
        let ms = |v: Option<u64>| v.map_or_else(|| "-".to_owned(), |v| v.to_string());
        format!(
            "{:<19} run {:>2}: {} | {} | acked {} failed {} {:?} | lost {} dup {} order {} misplaced {} | longest gap {} ms | reconnects {} p50 {} p99 {} ms | gaps {}+{} unrecoverable {} stuck {} | ack p50 {} p99 {} ms | {:.0} s{}",
            self.scenario,
            self.run,
            if self.passed() { "PASS" } else { "FAIL" },
            self.fault,
            self.acknowledged,
            self.failed,
            self.errors,
            self.lost,
            self.duplicated,
            self.out_of_order,
            self.misplaced,
            self.longest_gap_ms,
            self.reconnects,
            ms(self.reconnect_p50_ms),
            ms(self.reconnect_p99_ms),
            self.gaps_repaired,
            self.gaps_lost,
            self.unrecoverable,
            self.stuck,
            ms(self.ack_p50_ms),
            ms(self.ack_p99_ms),
            self.seconds,
            if self.failures.is_empty() {
                String::new()
            } else {
                format!(" | {}", self.failures.join("; "))
            }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::Delivery;
    use tokio::time::Instant;

    fn ack(p: u32, n: u64, offset: u64) -> PublishLog {
        PublishLog {
            id: PubId { publisher: p, n },
            channel: "c".into(),
            outcome: Ok((offset, "e".into())),
            latency: Duration::from_millis(3),
        }
    }

    fn sub(offsets: &[(u32, u64, u64)]) -> SubscriberLog {
        let at = Instant::now();
        SubscriberLog {
            channel: "c".into(),
            deliveries: offsets
                .iter()
                .map(|&(p, n, offset)| Delivery {
                    id: PubId { publisher: p, n },
                    offset,
                    epoch: "e".into(),
                    at,
                })
                .collect(),
            subscribed: true,
            ..Default::default()
        }
    }

    #[test]
    fn a_clean_run_passes() {
        let pubs = [ack(0, 0, 1), ack(1, 0, 2), ack(0, 1, 3)];
        let subs = [sub(&[(0, 0, 1), (1, 0, 2), (0, 1, 3)])];
        let r = judge(&pubs, &subs, true);
        assert!(r.passed(), "{:?}", r.failures);
        assert_eq!((r.acknowledged, r.lost, r.duplicated), (3, 0, 0));
    }

    #[test]
    fn loss_duplicates_order_and_misplacement_fail_a_run() {
        let pubs = [ack(0, 0, 1), ack(1, 0, 2), ack(0, 1, 3)];
        let r = judge(&pubs, &[sub(&[(0, 0, 1), (0, 1, 3)])], false);
        assert_eq!(r.lost, 1);
        assert!(!r.passed());
        let r = judge(
            &pubs,
            &[sub(&[(0, 0, 1), (1, 0, 2), (1, 0, 2), (0, 1, 3)])],
            false,
        );
        assert_eq!((r.duplicated, r.out_of_order), (1, 1));
        let r = judge(&pubs, &[sub(&[(0, 0, 1), (0, 1, 3), (1, 0, 2)])], false);
        assert_eq!(r.out_of_order, 1);
        let r = judge(&pubs, &[sub(&[(0, 0, 1), (1, 0, 3), (0, 1, 2)])], false);
        assert_eq!(r.misplaced, 2);
    }

    #[test]
    fn failed_publishes_fail_only_the_baseline() {
        let mut failed = ack(2, 0, 0);
        failed.outcome = Err("timeout".into());
        let pubs = [ack(0, 0, 1), failed];
        let subs = [sub(&[(0, 0, 1)])];
        assert!(judge(&pubs, &subs, false).passed());
        let strict = judge(&pubs, &subs, true);
        assert!(!strict.passed());
        assert_eq!(strict.errors.get("timeout"), Some(&1));
    }
}
