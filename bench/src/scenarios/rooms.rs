//! rooms: M channels x K members, each member publishing to its channel at
//! R publications per second.
//!
//! Every member is subscribed to its room, so each publication is delivered K
//! times (to its publisher too, on both servers): the offered load is M x K x
//! R publications and M x K x K x R deliveries per second, the same for every
//! target. The schedule spreads the publications evenly over the members.
//!
//! Figures over a measured phase after a warm-up: deliveries per second,
//! latency percentiles, and the server's CPU time (user + system, all nodes)
//! per million deliveries.

use std::sync::Arc;
use std::time::Duration;

use super::fanout::record_latency;
use super::{Ctx, check};
use crate::fleet::{Fleet, Spec};
use crate::metrics::Recorder;
use crate::report::{Better, Report};
use crate::targets::Target;
use crate::{Result, pace, procstat};

/// The size of a rooms load.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shape {
    /// Channels (M).
    pub rooms: usize,
    /// Members per channel (K).
    pub members: usize,
    /// Publications per second of each member (R).
    pub rate: f64,
}

impl Shape {
    /// The shape from the command line.
    pub fn from_options(ctx: &Ctx) -> Shape {
        Shape {
            rooms: ctx.opts.rooms,
            members: ctx.opts.room_members,
            rate: ctx.opts.room_rate,
        }
    }

    /// Client connections in all: one per member of every room.
    pub fn connections(&self) -> usize {
        self.rooms * self.members
    }

    /// Publications per second, all members together.
    pub fn publish_rate(&self) -> f64 {
        self.connections() as f64 * self.rate
    }

    /// `100x20 at 2/s`.
    pub fn label(&self) -> String {
        format!(
            "{}x{} at {}/s",
            self.rooms,
            self.members,
            rate_label(self.rate)
        )
    }
}

/// A rate without useless decimals.
pub fn rate_label(rate: f64) -> String {
    if rate.fract() == 0.0 {
        format!("{rate:.0}")
    } else {
        format!("{rate:.2}")
    }
}

/// Measures the rooms load of the command line on one node.
pub async fn run(ctx: &Ctx, target: Target, report: &mut Report) -> Result<()> {
    let shape = Shape::from_options(ctx);
    measure(ctx, target, report, "rooms", shape, 1, None).await
}

/// Members of room r are connections r*K .. r*K+K-1; member k connects to
/// node k mod `nodes`, so every room spans every node.
fn specs(shape: Shape, nodes: usize) -> Vec<Spec> {
    (0..shape.rooms)
        .flat_map(|room| {
            (0..shape.members).map(move |member| Spec {
                node: member % nodes,
                channels: vec![format!("bench:room-{room}")],
                publisher: true,
            })
        })
        .collect()
}

/// Opens the rooms on a fresh deployment, ready to publish.
pub async fn open(
    ctx: &Ctx,
    target: Target,
    shape: Shape,
    nodes: usize,
    nats: Option<&str>,
    recorder: &Arc<Recorder>,
) -> Result<(crate::targets::Deployment, Fleet)> {
    let deployment = ctx.deploy(target, nodes, nats).await?;
    let fleet = Fleet::open(&deployment, specs(shape, nodes), "", recorder).await?;
    Ok((deployment, fleet))
}

/// Measures `shape` over `nodes` nodes, recording figures under `scenario`.
pub async fn measure(
    ctx: &Ctx,
    target: Target,
    report: &mut Report,
    scenario: &str,
    shape: Shape,
    nodes: usize,
    nats: Option<&str>,
) -> Result<()> {
    let fitted = ctx.fit(
        shape.connections(),
        &format!("{scenario} {}", shape.label()),
        report,
    );
    if fitted < shape.connections() {
        return Err("the rooms do not fit the open-files limit; lower --rooms".into());
    }
    let recorder = Arc::new(Recorder::new());
    let (deployment, fleet) = open(ctx, target, shape, nodes, nats, &recorder).await?;
    let duration = ctx.duration();
    let pad = ctx.opts.payload;
    let rate = shape.publish_rate();
    let members = shape.members as u64;
    let mut seq = 0;
    let label = format!("{scenario} {} on {target}", shape.label());

    pace::fixed_rate(&fleet.publishers, rate, duration / 5, pad, &mut seq).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    recorder.reset_latency();
    let before = recorder.counts();
    let cpu_before = deployment.cpu_seconds()?;
    let own_before = procstat::cpu_seconds(std::process::id())?;
    let started = tokio::time::Instant::now();
    let sent = pace::fixed_rate(&fleet.publishers, rate, duration, pad, &mut seq).await;
    let elapsed = started.elapsed().as_secs_f64();
    let in_phase = recorder.counts().since(before);
    let cpu = deployment.cpu_seconds()? - cpu_before;
    let own_cpu = procstat::cpu_seconds(std::process::id())? - own_before;
    let expected = sent.sent * members;
    recorder
        .wait_deliveries(before.deliveries + expected, Duration::from_secs(5))
        .await;
    let counts = recorder.counts().since(before);
    let latency = recorder.latency();
    fleet.shutdown().await;
    drop(deployment);

    let name = |what: &str| format!("{what}, {}", shape.label());
    report.record(
        scenario,
        &name("deliveries/s"),
        "1/s",
        Better::Higher,
        target,
        in_phase.deliveries as f64 / elapsed,
    );
    record_latency(report, scenario, &shape.label(), target, latency);
    if in_phase.deliveries > 0 {
        report.record(
            scenario,
            &name("server CPU per million deliveries"),
            "s",
            Better::Lower,
            target,
            cpu / (in_phase.deliveries as f64 / 1e6),
        );
        report.record(
            scenario,
            &name("load generator CPU per million deliveries"),
            "s",
            Better::Lower,
            target,
            own_cpu / (in_phase.deliveries as f64 / 1e6),
        );
    }
    if sent.missed > 0 {
        report.problem(format!(
            "{label}: {} publications could not be queued (publishers behind)",
            sent.missed
        ));
    }
    check(report, &label, counts, Some(expected), &recorder);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_room_spans_every_node() {
        let shape = Shape {
            rooms: 2,
            members: 4,
            rate: 1.0,
        };
        let specs = specs(shape, 2);
        assert_eq!(specs.len(), 8);
        assert_eq!(specs[0].channels, ["bench:room-0"]);
        assert_eq!(specs[7].channels, ["bench:room-1"]);
        let nodes: Vec<usize> = specs[..4].iter().map(|s| s.node).collect();
        assert_eq!(nodes, [0, 1, 0, 1]);
        assert!(specs.iter().all(|s| s.publisher));
        assert_eq!(shape.publish_rate(), 8.0);
        assert_eq!(shape.label(), "2x4 at 1/s");
    }
}
