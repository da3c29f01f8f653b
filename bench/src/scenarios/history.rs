//! history: one hot channel with history on a cluster, Chorus only.
//!
//! Three `chorus` nodes on a three-server NATS cluster (history stream with
//! three replicas, `sync_interval: always`: the chaos suite's system), with
//! clients on `chorus-client`. Two measurements:
//!
//! 1. **Hot channel**: `K` publishers on each node publish to the same history
//!    channel in a closed loop (each waits for its acknowledgement), for
//!    `--duration`. Every publish gets the channel's next offset, so the nodes
//!    contend for it ([`--history-publishers`](crate::cli::Options)): the
//!    figure is acknowledged publishes per second, with the failures (which
//!    must be none) and the acknowledgement latency.
//! 2. **Recovery**: a channel is filled with `R` publications
//!    (`--history-retained`), then a client subscribes from the position
//!    `--history-missed` publications before the end, ten times: the figure
//!    is the median time from the subscribe to the `subscribed (recovered)`
//!    marker, with every missed publication delivered. A recovery reads what
//!    was missed, not what is retained, so the figures for 2,000 and 50,000
//!    retained should be about equal.
//!
//! Centrifugo is not measured here: its NATS broker keeps no history.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chorus_chaos::load::{client, urls_from};
use chorus_chaos::system::{self, NODES, Settings, System};
use chorus_client::{Codec, Recovery, StreamPosition, SubEvent};
use tokio::time::Instant;

use super::Ctx;
use crate::Result;
use crate::report::{Better, Report};
use crate::targets::Target;

const SCENARIO: &str = "history";
/// Recoveries timed per retained size.
const TRIALS: usize = 10;

/// Runs both measurements on one fresh system.
pub async fn run(ctx: &Ctx, target: Target, report: &mut Report) -> Result<()> {
    if target != Target::Chorus {
        report.note("history: Chorus only (Centrifugo's NATS broker keeps no history)");
        return Ok(());
    }
    let retained = ctx.opts.history_retained.iter().copied().max().unwrap_or(1);
    let settings = Settings {
        history_size: retained.max(1_000),
        rate_limit: Some(1_000_000),
    };
    let dir = ctx.opts.work_dir.join("history");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let system = System::start(&ctx.binaries.chorus, &settings, &dir).await?;
    for &k in &ctx.opts.history_publishers {
        let channel = format!("chat:hot-{k}");
        let (rate, failed, p50, p99) = hot(&system, &channel, k, ctx.duration()).await?;
        let load = format!("{k} publishers per node, 3 nodes");
        report.record(
            SCENARIO,
            &format!("hot channel publishes/s, {load}"),
            "1/s",
            Better::Higher,
            target,
            rate,
        );
        report.record(
            SCENARIO,
            &format!("hot channel ack p50, {load}"),
            "ms",
            Better::Lower,
            target,
            p50,
        );
        report.record(
            SCENARIO,
            &format!("hot channel ack p99, {load}"),
            "ms",
            Better::Lower,
            target,
            p99,
        );
        if failed > 0 {
            report.problem(format!("history: {failed} publishes failed with {load}"));
        }
    }
    for &r in &ctx.opts.history_retained {
        let missed = ctx.opts.history_missed.min(r);
        let channel = format!("chat:recover-{r}");
        let position = fill(&system, &channel, r).await?;
        let median = recover(&system, &channel, &position, missed).await?;
        report.record(
            SCENARIO,
            &format!("recover {missed} missed publications, {r} retained"),
            "ms",
            Better::Lower,
            target,
            median,
        );
    }
    Ok(())
}

/// `k` closed-loop publishers per node on `channel` for `duration`: acks
/// per second, failures, ack p50 and p99 in ms.
async fn hot(
    system: &System,
    channel: &str,
    k: usize,
    duration: Duration,
) -> Result<(f64, u64, f64, f64)> {
    let urls = system.urls();
    let acked = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let latencies: Arc<Mutex<Vec<Duration>>> = Arc::default();
    let stop = Instant::now() + duration + Duration::from_millis(500);
    let measure_from = Instant::now() + Duration::from_millis(500);
    let mut tasks = Vec::new();
    for i in 0..k * NODES {
        let c = client(
            urls_from(i % NODES, &urls),
            system::token(&format!("hot{i}"))?,
            Codec::MessagePack,
        );
        c.connect().await?;
        let (acked, failed, latencies, channel) = (
            acked.clone(),
            failed.clone(),
            latencies.clone(),
            channel.to_owned(),
        );
        tasks.push(tokio::spawn(async move {
            while Instant::now() < stop {
                let started = Instant::now();
                let outcome = c.publish(&channel, "{\"hot\":true}").await;
                if started < measure_from {
                    continue;
                }
                match outcome {
                    Ok(_) => {
                        acked.fetch_add(1, Ordering::Relaxed);
                        latencies
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .push(started.elapsed());
                    }
                    Err(_) => {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    for t in tasks {
        t.await.map_err(|e| format!("publisher: {e}"))?;
    }
    let mut latencies = std::mem::take(&mut *latencies.lock().unwrap_or_else(|p| p.into_inner()));
    latencies.sort_unstable();
    let pick = |p: f64| {
        latencies
            .get(((latencies.len().saturating_sub(1)) as f64 * p) as usize)
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    let rate = acked.load(Ordering::Relaxed) as f64 / duration.as_secs_f64();
    Ok((rate, failed.load(Ordering::Relaxed), pick(0.5), pick(0.99)))
}

/// Publishes `n` publications to `channel` from publishers on every node;
/// the position of the last.
async fn fill(system: &System, channel: &str, n: usize) -> Result<StreamPosition> {
    let urls = system.urls();
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for i in 0..4 * NODES {
        let c = client(
            urls_from(i % NODES, &urls),
            system::token(&format!("fill{i}"))?,
            Codec::MessagePack,
        );
        c.connect().await?;
        let (next, channel) = (next.clone(), channel.to_owned());
        tasks.push(tokio::spawn(async move {
            let mut last = None;
            while next.fetch_add(1, Ordering::Relaxed) < n as u64 {
                let mut tries = 0;
                loop {
                    match c.publish(&channel, "{\"fill\":true}").await {
                        Ok(r) => {
                            last = r.position.or(last);
                            break;
                        }
                        Err(e) if tries < 5 => {
                            tries += 1;
                            note_retry(&e);
                        }
                        Err(e) => return Err(e.to_string()),
                    }
                }
            }
            Ok(last)
        }));
    }
    let mut top: Option<StreamPosition> = None;
    for t in tasks {
        if let Some(p) = t.await.map_err(|e| format!("filler: {e}"))?? {
            if top.as_ref().is_none_or(|t| p.offset > t.offset) {
                top = Some(p);
            }
        }
    }
    top.ok_or_else(|| "nothing was published".into())
}

fn note_retry(e: &chorus_client::ClientError) {
    eprintln!("  history: a fill publish failed ({e}); trying again");
}

/// The median time (ms) of [`TRIALS`] subscribes from `missed` before `top`
/// to their `subscribed (recovered)` marker, each checked to deliver every
/// missed publication in order.
async fn recover(
    system: &System,
    channel: &str,
    top: &StreamPosition,
    missed: usize,
) -> Result<f64> {
    let urls = system.urls();
    let c = client(
        urls_from(1, &urls),
        system::token("recoverer")?,
        Codec::MessagePack,
    );
    c.connect().await?;
    let since = StreamPosition {
        offset: top.offset - missed as u64,
        epoch: top.epoch.clone(),
    };
    let mut times = Vec::new();
    for _ in 0..TRIALS {
        let started = Instant::now();
        let mut sub = c.subscribe_since(channel, Some(since.clone())).await?;
        let mut want = since.offset + 1;
        loop {
            let event = tokio::time::timeout(Duration::from_secs(30), sub.next())
                .await
                .map_err(|_| "recovery: no event within 30 s")?
                .ok_or("recovery: the subscription ended")?;
            match event {
                SubEvent::Publication(p) if p.offset == Some(want) => want += 1,
                SubEvent::Publication(p) if p.offset > Some(top.offset) => {}
                SubEvent::Subscribed(Recovery::Recovered) if want == top.offset + 1 => break,
                other => {
                    return Err(
                        format!("recovery: unexpected {other:?} (next wanted {want})").into(),
                    );
                }
            }
        }
        times.push(started.elapsed());
        drop(sub);
    }
    times.sort_unstable();
    Ok(times[times.len() / 2].as_secs_f64() * 1000.0)
}
