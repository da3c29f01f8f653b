//! soak: the rooms load, kept constant for `--soak` seconds, with the
//! server's resident memory sampled every 10 seconds.
//!
//! After a warm-up (a tenth of the run, at most 30 s), the first sample is the
//! baseline; the figures are the growth from it to the last sample, the spread
//! of all samples, and the slope of a least-squares line through them. Memory
//! that is flat at constant load has a growth and slope within the noise.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::fanout::record_latency;
use super::rooms::{self, Shape};
use super::{Ctx, check};
use crate::Result;
use crate::metrics::Recorder;
use crate::pace;
use crate::report::{Better, Report};
use crate::targets::Target;

const SCENARIO: &str = "soak";

/// Runs the soak against one node.
pub async fn run(ctx: &Ctx, target: Target, report: &mut Report) -> Result<()> {
    let total = if ctx.opts.smoke {
        Duration::from_secs(3)
    } else {
        Duration::from_secs(ctx.opts.soak_seconds())
    };
    let every = if ctx.opts.smoke {
        Duration::from_secs(1)
    } else {
        Duration::from_secs(10)
    };
    let warm_up = (total / 10).min(Duration::from_secs(30));
    let shape = Shape::from_options(ctx);
    let recorder = Arc::new(Recorder::new());
    let (deployment, fleet) = rooms::open(ctx, target, shape, 1, None, &recorder).await?;
    let label = format!("{SCENARIO} {} on {target}", shape.label());

    // The load runs in its own task; this one samples.
    let publishers = fleet.publishers.clone();
    let rate = shape.publish_rate();
    let pad = ctx.opts.payload;
    let load = tokio::spawn(async move {
        let mut seq = 0;
        pace::fixed_rate(&publishers, rate, warm_up + total, pad, &mut seq).await
    });
    tokio::time::sleep(warm_up).await;
    recorder.reset_latency();
    let before = recorder.counts();
    let started = Instant::now();
    let mut samples = Vec::new();
    loop {
        let at = started.elapsed().as_secs_f64();
        samples.push((at, deployment.rss_kib()? as f64 / 1024.0));
        if started.elapsed() + every > total + Duration::from_millis(500) {
            break;
        }
        tokio::time::sleep_until(started + every * samples.len() as u32).await;
    }
    let sent = load.await.map_err(|e| format!("load task: {e}"))?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let counts = recorder.counts().since(before);
    let latency = recorder.latency();
    fleet.shutdown().await;
    drop(deployment);

    let first = samples[0].1;
    let last = samples[samples.len() - 1].1;
    let min = samples.iter().map(|s| s.1).fold(f64::INFINITY, f64::min);
    let max = samples
        .iter()
        .map(|s| s.1)
        .fold(f64::NEG_INFINITY, f64::max);
    let minutes = total.as_secs_f64() / 60.0;
    let load_label = format!("{} for {:.0} s", shape.label(), total.as_secs_f64());
    let name = |what: &str| format!("{what}, {load_label}");
    report.record(
        SCENARIO,
        &name("server RSS at start"),
        "MiB",
        Better::Lower,
        target,
        first,
    );
    report.record(
        SCENARIO,
        &name("server RSS at end"),
        "MiB",
        Better::Lower,
        target,
        last,
    );
    report.record(
        SCENARIO,
        &name("RSS growth, end - start"),
        "MiB",
        Better::Lower,
        target,
        last - first,
    );
    report.record(
        SCENARIO,
        &name("RSS spread, max - min"),
        "MiB",
        Better::Lower,
        target,
        max - min,
    );
    report.record(
        SCENARIO,
        &name("RSS trend (least squares)"),
        "MiB/min",
        Better::Lower,
        target,
        slope(&samples) * 60.0,
    );
    record_latency(report, SCENARIO, &load_label, target, latency);
    report.note(format!(
        "{label}: RSS samples every {} s over {minutes:.1} min (MiB): {}",
        every.as_secs(),
        samples
            .iter()
            .map(|s| format!("{:.1}", s.1))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    if sent.missed > 0 {
        report.problem(format!(
            "{label}: {} publications could not be queued (publishers behind)",
            sent.missed
        ));
    }
    check(report, &label, counts, None, &recorder);
    Ok(())
}

/// Slope of the least-squares line through `(x, y)` points (0 for fewer than 2).
fn slope(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    if points.len() < 2 {
        return 0.0;
    }
    let mean_x = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / n;
    let covariance: f64 = points.iter().map(|p| (p.0 - mean_x) * (p.1 - mean_y)).sum();
    let variance: f64 = points.iter().map(|p| (p.0 - mean_x).powi(2)).sum();
    if variance == 0.0 {
        0.0
    } else {
        covariance / variance
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slope_of_a_line() {
        let points = [(0.0, 1.0), (10.0, 2.0), (20.0, 3.0)];
        assert!((slope(&points) - 0.1).abs() < 1e-9);
        assert_eq!(slope(&[(0.0, 5.0)]), 0.0);
        assert_eq!(slope(&[(0.0, 5.0), (10.0, 5.0)]), 0.0);
    }
}
