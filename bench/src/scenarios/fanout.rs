//! fanout: 1 publisher, 1 channel, N subscribers.
//!
//! Two phases on the same connections, after a short warm-up:
//!
//! 1. **Throughput** (closed loop): the publisher keeps `--fanout-window`
//!    publications on their way and sends the next as soon as the oldest has
//!    reached every subscriber. Deliveries per second is what the server (and
//!    this process, on the same cores) sustains; the latency of this phase is
//!    latency at saturation.
//! 2. **Latency** (open loop): the publisher sends at a fixed rate, the same
//!    for every target (`--fanout-rate` deliveries per second divided by N),
//!    and latency is measured at that load.
//!
//! Latency is from the publisher handing a publication to its socket to a
//! subscriber decoding it. The publisher is not subscribed.

use std::sync::Arc;

use super::{Ctx, check};
use crate::fleet::{Fleet, Spec};
use crate::metrics::{Latency, Recorder};
use crate::report::{Better, Report};
use crate::targets::Target;
use crate::{Result, pace, procstat};

const CHANNEL: &str = "bench:fanout";

/// Measures fanout at each of `--fanout-sizes` on one node.
pub async fn run(ctx: &Ctx, target: Target, report: &mut Report) -> Result<()> {
    for &requested in &ctx.opts.fanout_sizes {
        let n = ctx.fit(requested, &format!("fanout N={requested}"), report);
        measure(ctx, target, report, "fanout", n, 1, None).await?;
    }
    Ok(())
}

/// Measures fanout to `n` subscribers spread evenly over `nodes` nodes (the
/// publisher on the first), recording figures under `scenario`.
pub async fn measure(
    ctx: &Ctx,
    target: Target,
    report: &mut Report,
    scenario: &str,
    n: usize,
    nodes: usize,
    nats: Option<&str>,
) -> Result<()> {
    let deployment = ctx.deploy(target, nodes, nats).await?;
    let recorder = Arc::new(Recorder::new());
    let mut specs = vec![Spec {
        node: 0,
        channels: Vec::new(),
        publisher: true,
    }];
    specs.extend((0..n).map(|i| Spec {
        node: i % nodes,
        channels: vec![CHANNEL.to_owned()],
        publisher: false,
    }));
    let fleet = Fleet::open(&deployment, specs, CHANNEL, &recorder).await?;
    let publisher = fleet.publishers[0].clone();
    let subscribers = n as u64;
    let duration = ctx.duration();
    let pad = ctx.opts.payload;
    let mut seq = 0;
    let label = format!("{scenario} N={n} on {target}");

    // Warm-up, then the throughput phase.
    let warm_up = duration / 5;
    let window = ctx.opts.fanout_window;
    pace::windowed(
        &publisher,
        &recorder,
        subscribers,
        window,
        warm_up,
        pad,
        &mut seq,
    )
    .await?;
    recorder.reset_latency();
    let before = recorder.counts();
    let cpu_before = deployment.cpu_seconds()?;
    let own_before = procstat::cpu_seconds(std::process::id())?;
    let started = tokio::time::Instant::now();
    let throughput = pace::windowed(
        &publisher,
        &recorder,
        subscribers,
        window,
        duration,
        pad,
        &mut seq,
    )
    .await;
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = deployment.cpu_seconds()? - cpu_before;
    let own_cpu = procstat::cpu_seconds(std::process::id())? - own_before;
    let counts = recorder.counts().since(before);
    let saturated = recorder.latency();
    if let Err(e) = throughput {
        check(
            report,
            &format!("{label}, throughput"),
            counts,
            None,
            &recorder,
        );
        fleet.shutdown().await;
        return Err(e);
    }
    let name = |what: &str| format!("{what}, N={n}");
    report.record(
        scenario,
        &name("deliveries/s (closed loop)"),
        "1/s",
        Better::Higher,
        target,
        counts.deliveries as f64 / elapsed,
    );
    record_latency(report, scenario, &name("at saturation"), target, saturated);
    if counts.deliveries > 0 {
        report.record(
            scenario,
            &name("server CPU per million deliveries (closed loop)"),
            "s",
            Better::Lower,
            target,
            cpu / (counts.deliveries as f64 / 1e6),
        );
        report.record(
            scenario,
            &name("load generator CPU per million deliveries (closed loop)"),
            "s",
            Better::Lower,
            target,
            own_cpu / (counts.deliveries as f64 / 1e6),
        );
    }

    // The fixed-rate phase.
    let rate = (ctx.opts.fanout_rate as f64 / n as f64).max(1.0);
    recorder.reset_latency();
    let before = recorder.counts();
    let sent = pace::fixed_rate(&[publisher], rate, duration, pad, &mut seq).await;
    let expected = sent.sent * subscribers;
    recorder
        .wait_deliveries(
            before.deliveries + expected,
            duration.max(std::time::Duration::from_secs(5)),
        )
        .await;
    let counts = recorder.counts().since(before);
    let paced = recorder.latency();
    record_latency(
        report,
        scenario,
        &name(&format!(
            "at {} publications/s",
            super::rooms::rate_label(rate)
        )),
        target,
        paced,
    );
    if sent.missed > 0 {
        report.problem(format!(
            "{label}: {} publications could not be queued (publisher behind)",
            sent.missed
        ));
    }
    fleet.shutdown().await;
    check(report, &label, counts, Some(expected), &recorder);
    Ok(())
}

/// Records p50, p99 and p99.9 as three figures.
pub fn record_latency(
    report: &mut Report,
    scenario: &str,
    what: &str,
    target: Target,
    latency: Latency,
) {
    for (quantile, value) in [
        ("p50", latency.p50),
        ("p99", latency.p99),
        ("p99.9", latency.p999),
    ] {
        report.record(
            scenario,
            &format!("latency {quantile} {what}"),
            "ms",
            Better::Lower,
            target,
            value,
        );
    }
}
