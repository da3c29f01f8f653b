//! idle: N connected clients that do nothing, each subscribed to 2 channels.
//!
//! Client i subscribes to a channel of its own, `bench:idle-<i>`, and to a
//! shared one, `bench:idle-room-<i / 100>` (rooms of 100), so the server holds
//! N + N/100 channels. The figure is the server's resident memory after the
//! clients are set up minus before they came, divided by N: what one more
//! idle connection costs. Pings keep flowing (every 25 s by default on both
//! servers) and are answered.

use std::sync::Arc;
use std::time::Duration;

use super::{Ctx, check};
use crate::Result;
use crate::fleet::{Fleet, Spec};
use crate::metrics::Recorder;
use crate::report::{Better, Report};
use crate::targets::Target;

const SCENARIO: &str = "idle";
/// Connections per shared channel.
const ROOM_SIZE: usize = 100;
/// Samples of the server's memory once the clients are set up; the median counts.
const SAMPLES: usize = 3;

/// Measures memory per idle connection at each of `--idle-sizes`.
pub async fn run(ctx: &Ctx, target: Target, report: &mut Report) -> Result<()> {
    for &requested in &ctx.opts.idle_sizes {
        let n = ctx.fit(requested, &format!("{SCENARIO} N={requested}"), report);
        if n == 0 {
            continue;
        }
        measure(ctx, target, report, n).await?;
    }
    Ok(())
}

async fn measure(ctx: &Ctx, target: Target, report: &mut Report, n: usize) -> Result<()> {
    let settle = if ctx.opts.smoke {
        Duration::from_millis(200)
    } else {
        Duration::from_secs(3)
    };
    let deployment = ctx.deploy(target, 1, None).await?;
    tokio::time::sleep(settle).await;
    let before = deployment.rss_kib()?;

    let recorder = Arc::new(Recorder::new());
    let specs = (0..n)
        .map(|i| Spec {
            node: 0,
            channels: vec![
                format!("bench:idle-{i}"),
                format!("bench:idle-room-{}", i / ROOM_SIZE),
            ],
            publisher: false,
        })
        .collect();
    let fleet = Fleet::open(&deployment, specs, "", &recorder).await?;
    let open_time = fleet.open_time;

    let mut samples = Vec::with_capacity(SAMPLES);
    for _ in 0..SAMPLES {
        tokio::time::sleep(settle).await;
        samples.push(deployment.rss_kib()?);
    }
    samples.sort_unstable();
    let after = samples[SAMPLES / 2];
    fleet.shutdown().await;
    check(
        report,
        &format!("{SCENARIO} N={n} on {target}"),
        recorder.counts(),
        None,
        &recorder,
    );

    let per_connection = after.saturating_sub(before) as f64 / n as f64;
    report.record(
        SCENARIO,
        &format!("server memory per connection, N={n}"),
        "KiB",
        Better::Lower,
        target,
        per_connection,
    );
    report.record(
        SCENARIO,
        &format!("server RSS with N={n}"),
        "MiB",
        Better::Lower,
        target,
        after as f64 / 1024.0,
    );
    report.note(format!(
        "{SCENARIO} N={n} on {target}: server RSS {:.1} MiB before the clients, {:.1} MiB with them",
        before as f64 / 1024.0,
        after as f64 / 1024.0
    ));
    report.record(
        SCENARIO,
        &format!("setup rate (connect + 2 subscribes), N={n}"),
        "conn/s",
        Better::Higher,
        target,
        n as f64 / open_time.as_secs_f64(),
    );
    Ok(())
}
