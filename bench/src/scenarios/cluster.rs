//! cluster: the fanout and rooms loads over 2 nodes joined through NATS.
//!
//! A fresh `nats-server` (with JetStream, which Chorus uses for presence and
//! its node registry; Centrifugo's NATS broker ignores it) is started for each
//! target, and both targets' nodes connect to it. Subscribers alternate
//! between the nodes; the fanout publisher is on the first node, so half of
//! every fanout crosses NATS; each room has members on both nodes. The CPU
//! figures count both nodes, not the NATS server.

use chorus_testkit::{NatsServer, nats_server_bin};

use super::rooms::Shape;
use super::{Ctx, fanout, rooms};
use crate::Result;
use crate::report::Report;
use crate::targets::Target;

const NODES: usize = 2;

/// Runs the cluster fanout at each of `--cluster-fanout-sizes`, then the
/// rooms load of the command line.
pub async fn run(ctx: &Ctx, target: Target, report: &mut Report) -> Result<()> {
    let nats = start_nats(report).await?;
    let url = nats.url();
    for &requested in &ctx.opts.cluster_fanout_sizes {
        let n = ctx.fit(requested, &format!("cluster fanout N={requested}"), report);
        fanout::measure(ctx, target, report, "cluster fanout", n, NODES, Some(&url)).await?;
    }
    let shape = Shape::from_options(ctx);
    rooms::measure(
        ctx,
        target,
        report,
        "cluster rooms",
        shape,
        NODES,
        Some(&url),
    )
    .await
}

/// Starts a NATS server on free ports; testkit panics on failure, which
/// becomes an error here.
async fn start_nats(report: &mut Report) -> Result<NatsServer> {
    let bin = std::panic::catch_unwind(nats_server_bin)
        .map_err(|_| "nats-server not found; run ./scripts/setup")?;
    if !report.environment.contains_key("nats-server version") {
        let version = std::process::Command::new(&bin)
            .arg("--version")
            .output()
            .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
            .unwrap_or_default();
        report
            .environment
            .insert("nats-server version".into(), version);
    }
    tokio::spawn(NatsServer::start())
        .await
        .map_err(|e| format!("nats-server did not start: {e}").into())
}
