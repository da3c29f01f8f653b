//! One run: a three-server NATS cluster (`sync_interval: always`), three
//! Chorus nodes, subscribers and publishers spread over the nodes, a fault
//! in the middle of the load, then the verdict.

use std::path::Path;
use std::time::Duration;

use chorus_client::Codec;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::load::{self, Publisher, Subscriber};
use crate::system::{self, DRAIN, NODES, Settings, System};
use crate::verdict::{self, Report};

/// What a run injects in the middle of the load: one fault, or none for the
/// baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// No fault: the baseline, where nothing may fail at all.
    Baseline,
    /// SIGKILL a node, start it again after the down time.
    KillNode,
    /// SIGTERM a node (it drains), start it again.
    TermNode,
    /// SIGSTOP a node for the down time, then SIGCONT.
    StopNode,
    /// SIGKILL the NATS server leading the history stream, restart it after the down time.
    KillNatsLeader,
    /// SIGKILL a NATS server that follows the history stream, restart it after the down time.
    KillNatsFollower,
    /// SIGTERM and restart every node in turn.
    RollingRestart,
}

impl Scenario {
    /// Its name on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Baseline => "baseline",
            Scenario::KillNode => "kill-node",
            Scenario::TermNode => "term-node",
            Scenario::StopNode => "stop-node",
            Scenario::KillNatsLeader => "kill-nats-leader",
            Scenario::KillNatsFollower => "kill-nats-follower",
            Scenario::RollingRestart => "rolling-restart",
        }
    }
}

/// The shape of the load.
#[derive(Debug, Clone)]
pub struct Load {
    /// Subscribers, spread over nodes and channels.
    pub subscribers: usize,
    /// Publishers, spread over nodes and channels.
    pub publishers: usize,
    /// How many channels the clients share (`chat:hot-0`, `chat:hot-1`, ...),
    /// each with history.
    pub channels: usize,
    /// Publications per second, all publishers together.
    pub rate: u32,
    /// How long publishers publish (at least until the fault is over plus 5 s).
    pub duration: Duration,
    /// When the fault starts, from the start of the load.
    pub fault_at: Duration,
    /// How long a killed or stopped process stays down.
    pub down: Duration,
    /// Publications kept per channel.
    pub history_size: usize,
    /// How long subscribers may take, after the load, to receive everything.
    pub drain: Duration,
}

/// Injects `scenario`'s fault; returns what it did.
async fn fault(
    sys: &mut System,
    scenario: Scenario,
    down: Duration,
    t0: Instant,
) -> Result<String, String> {
    let at = |t: Instant| format!("{:.1}s", t.duration_since(t0).as_secs_f64());
    let victim = 1;
    Ok(match scenario {
        Scenario::Baseline => "none".to_owned(),
        Scenario::KillNode => {
            let from = Instant::now();
            sys.nodes[victim].kill();
            tokio::time::sleep(down).await;
            sys.restart_node(victim).await?;
            format!(
                "node {victim} SIGKILL at {}, ready again at {}",
                at(from),
                at(Instant::now())
            )
        }
        Scenario::TermNode => {
            let from = Instant::now();
            sys.nodes[victim].terminate(DRAIN).await?;
            let exited = Instant::now();
            sys.restart_node(victim).await?;
            format!(
                "node {victim} SIGTERM at {}, exited at {}, ready again at {}",
                at(from),
                at(exited),
                at(Instant::now())
            )
        }
        Scenario::StopNode => {
            let from = Instant::now();
            sys.nodes[victim].pause();
            tokio::time::sleep(down).await;
            sys.nodes[victim].resume();
            format!(
                "node {victim} SIGSTOP at {}, SIGCONT at {}",
                at(from),
                at(Instant::now())
            )
        }
        Scenario::KillNatsLeader | Scenario::KillNatsFollower => {
            let leader = sys.stream_leader().await?;
            let target = if scenario == Scenario::KillNatsLeader {
                leader
            } else {
                (leader + 1) % sys.nats.len()
            };
            let from = Instant::now();
            sys.nats.server(target).kill();
            // When the other servers report a new leader: NATS's own election.
            let elected = if target == leader {
                let nats = &sys.nats;
                let poll = async {
                    loop {
                        match nats.stream_leader(system::HISTORY_STREAM).await {
                            Some(l) if l != target => return Instant::now(),
                            _ => tokio::time::sleep(Duration::from_millis(100)).await,
                        }
                    }
                };
                match tokio::time::timeout(down, poll).await {
                    Ok(t) => format!("new leader elected at {}", at(t)),
                    Err(_) => "no new leader while it was down".to_owned(),
                }
            } else {
                "leader unchanged".to_owned()
            };
            tokio::time::sleep_until(from + down).await;
            sys.nats.server(target).restart().await;
            let back = Instant::now();
            let new_leader = sys.stream_leader().await?;
            format!(
                "NATS server {target} ({}) SIGKILL at {}, {elected}, ready again at {}; stream leader now {new_leader}",
                if target == leader {
                    "stream leader"
                } else {
                    "follower"
                },
                at(from),
                at(back),
            )
        }
        Scenario::RollingRestart => {
            let mut steps = Vec::new();
            for i in 0..sys.nodes.len() {
                let from = Instant::now();
                sys.nodes[i].terminate(DRAIN).await?;
                sys.restart_node(i).await?;
                steps.push(format!("node {i} {}..{}", at(from), at(Instant::now())));
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            format!("rolling restart: {}", steps.join(", "))
        }
    })
}

/// Runs one scenario once; `dir` receives the nodes' configuration and logs.
pub async fn run(
    bin: &Path,
    scenario: Scenario,
    n: usize,
    load: &Load,
    dir: &Path,
) -> Result<Report, String> {
    let started = Instant::now();
    let settings = Settings {
        history_size: load.history_size,
        rate_limit: None,
    };
    let mut system = System::start(bin, &settings, dir).await?;
    let urls = system.urls();
    let channel = |i: usize| format!("chat:hot-{}", i % load.channels.max(1));
    let codec = |i: usize| {
        if i % 2 == 0 {
            Codec::MessagePack
        } else {
            Codec::Json
        }
    };

    let mut starting = Vec::new();
    for i in 0..load.subscribers {
        let client = load::client(
            load::urls_from(i % NODES, &urls),
            system::token(&format!("sub{i}"))?,
            codec(i),
        );
        starting.push(Subscriber::start(client, channel(i)));
    }
    let mut subscribers = Vec::new();
    for s in starting {
        subscribers.push(s.await.map_err(|e| format!("subscriber: {e}"))?);
    }
    let (run_tx, run_rx) = watch::channel(true);
    let every =
        Duration::from_secs_f64(load.publishers.max(1) as f64 / f64::from(load.rate.max(1)));
    let mut publishers = Vec::new();
    for j in 0..load.publishers {
        let client = load::client(
            load::urls_from(j % NODES, &urls),
            system::token(&format!("pub{j}"))?,
            codec(j + 1),
        );
        let publisher = Publisher::start(client, j as u32, channel(j), every, run_rx.clone())
            .await
            .map_err(|e| format!("publisher: {e}"))?;
        publishers.push(publisher);
    }

    let t0 = Instant::now();
    tokio::time::sleep(load.fault_at).await;
    let fault = fault(&mut system, scenario, load.down, t0).await;
    let end = (t0 + load.duration).max(Instant::now() + Duration::from_secs(5));
    tokio::time::sleep_until(end).await;
    let _ = run_tx.send(false);
    let mut publishes = Vec::new();
    for p in publishers {
        publishes.extend(p.finish(Duration::from_secs(20)).await);
    }
    let acked = load::acknowledged(&publishes);
    load::drain(&subscribers, &acked, load.drain).await;
    let logs: Vec<_> = subscribers
        .iter()
        .map(|s| std::mem::take(&mut *s.log.lock().unwrap_or_else(|p| p.into_inner())))
        .collect();
    let mut report = verdict::judge(&publishes, &logs, scenario == Scenario::Baseline);
    report.scenario = scenario.name().to_owned();
    report.run = n;
    report.seconds = started.elapsed().as_secs_f64();
    match fault {
        Ok(what) => report.fault = what,
        Err(e) => {
            report.fault = format!("fault failed: {e}");
            report.failures.push(report.fault.clone());
        }
    }
    if !report.passed() {
        eprintln!("{}", system.log_tails(30));
    }
    drop(subscribers);
    Ok(report)
}
