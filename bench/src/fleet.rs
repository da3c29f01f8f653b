//! Many clients at once: open them concurrently, run them, stop them.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::stream;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use crate::Result;
use crate::addrs::SourceAddrs;
use crate::client::{Conn, Publish, Role};
use crate::metrics::Recorder;
use crate::targets::Deployment;

/// Connection handshakes in flight at once: enough to open thousands of
/// connections per second, few enough not to overflow the server's accept
/// backlog.
const OPEN_CONCURRENCY: usize = 200;
/// Queued publications per publisher before the pacer counts one as missed.
const PUBLISH_QUEUE: usize = 4096;

/// One client to open.
#[derive(Debug, Clone)]
pub struct Spec {
    /// Index of the node to connect to.
    pub node: usize,
    /// Channels to subscribe to.
    pub channels: Vec<String>,
    /// Whether it publishes (gets a [`Publisher`]).
    pub publisher: bool,
}

/// The sending side of a publishing client.
#[derive(Debug, Clone)]
pub struct Publisher {
    /// Where to hand publications.
    pub queue: mpsc::Sender<Publish>,
    /// The channel it publishes to (its first subscription, or the one given).
    pub channel: Arc<str>,
}

/// The clients [`Fleet::open`] started, each in its own task until [`Fleet::shutdown`].
#[derive(Debug)]
pub struct Fleet {
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
    /// The publishers, in the order of their specs.
    pub publishers: Vec<Publisher>,
    /// How long opening took (TCP, WebSocket handshake, connect, subscribes).
    pub open_time: Duration,
}

impl Fleet {
    /// Opens a client per spec, `OPEN_CONCURRENCY` at a time, spread over as
    /// many source addresses as the count needs; each runs in its own task
    /// once connected and subscribed. A publisher with no channel publishes
    /// to `publish_to`.
    pub async fn open(
        deployment: &Deployment,
        specs: Vec<Spec>,
        publish_to: &str,
        recorder: &Arc<Recorder>,
    ) -> Result<Fleet> {
        let started = Instant::now();
        let addrs = SourceAddrs::for_connections(specs.len());
        let (stop, stop_rx) = watch::channel(false);
        let mut publishers = Vec::new();
        let mut jobs = Vec::with_capacity(specs.len());
        for (index, spec) in specs.into_iter().enumerate() {
            let queue = spec.publisher.then(|| {
                let (tx, rx) = mpsc::channel(PUBLISH_QUEUE);
                let channel = spec.channels.first().map_or(publish_to, String::as_str);
                publishers.push(Publisher {
                    queue: tx,
                    channel: channel.into(),
                });
                rx
            });
            let server = deployment.nodes[spec.node].addr;
            jobs.push((index, spec.channels, queue, server, addrs.next()));
        }
        let dialect = deployment.dialect.clone();
        let mut opened = stream::iter(jobs)
            .map(|(index, channels, queue, server, source)| {
                let dialect = dialect.clone();
                async move {
                    let mut conn = Conn::open(server, source, dialect).await?;
                    for channel in &channels {
                        conn.subscribe(channel).await?;
                    }
                    Ok::<_, crate::Error>((index, conn, queue))
                }
            })
            .buffer_unordered(OPEN_CONCURRENCY);
        let mut tasks = JoinSet::new();
        while let Some(result) = opened.next().await {
            let (index, conn, publish) = match result {
                Ok(opened) => opened,
                Err(e) => {
                    let _ = stop.send(true);
                    let count = tasks.len();
                    return Err(format!(
                        "opening a connection failed after {count} were open: {e}"
                    )
                    .into());
                }
            };
            let role = Role {
                recorder: recorder.clone(),
                index,
                publish,
                stop: stop_rx.clone(),
            };
            tasks.spawn(conn.run(role));
        }
        Ok(Fleet {
            stop,
            tasks,
            publishers,
            open_time: started.elapsed(),
        })
    }

    /// Closes every client and waits (a bounded time) for their tasks.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        self.publishers.clear();
        let all_done = async { while self.tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(Duration::from_secs(15), all_done)
            .await
            .is_err()
        {
            self.tasks.abort_all();
        }
    }
}
