//! The load: subscribers and publishers on `chorus-client`, the Rust SDK,
//! with its own reconnect, node list, recovery and gap repair, as an
//! application would use it. Everything they see is recorded for the verdict.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chorus_client::{Client, ClientError, Codec, Payload, Recovery, SubEvent};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// A publication's identity in the payload: publisher and sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PubId {
    /// Index of the publisher that made it (from 0).
    pub publisher: u32,
    /// Its sequence number at that publisher (from 0).
    pub n: u64,
}

/// One publication as a subscriber received it.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// Which publication, read from its payload.
    pub id: PubId,
    /// The offset it was delivered with.
    pub offset: u64,
    /// The epoch of that offset: offsets compare only within one epoch.
    pub epoch: String,
    /// When it arrived.
    pub at: Instant,
}

/// Everything one subscriber saw.
#[derive(Debug, Default)]
pub struct SubscriberLog {
    /// The channel it subscribed to, once, at start.
    pub channel: String,
    /// Publications in arrival order.
    pub deliveries: Vec<Delivery>,
    /// Gap events: missing offsets and whether history filled them.
    pub gaps: Vec<(u64, u64, bool)>,
    /// Resubscribe outcomes after the first subscribe.
    pub recoveries: Vec<Recovery>,
    /// How long each resubscribe took, from losing the subscription.
    pub reconnects: Vec<Duration>,
    /// Whether it is subscribed now.
    pub subscribed: bool,
}

/// One publish attempt and its outcome.
#[derive(Debug, Clone)]
pub struct PublishLog {
    /// Which publication: the identity its payload carries.
    pub id: PubId,
    /// The channel it was published to.
    pub channel: String,
    /// The acknowledged offset and epoch, or the error's stable name.
    pub outcome: Result<(u64, String), String>,
    /// From the call to its answer.
    pub latency: Duration,
}

/// A client's URL list: its home node first, then the others in order.
pub fn urls_from(home: usize, urls: &[String]) -> Vec<String> {
    (0..urls.len())
        .map(|i| urls[(home + i) % urls.len()].clone())
        .collect()
}

/// A client that tries `urls` in order (see [`urls_from`]), with `token` and
/// `codec`; not connected yet.
pub fn client(urls: Vec<String>, token: String, codec: Codec) -> Client {
    Client::builder("unused")
        .urls(urls)
        .token(token)
        .codec(codec)
        .build()
}

/// The payload of publication `id`.
fn payload(id: PubId) -> Payload {
    Payload::from(format!("{{\"p\":{},\"n\":{}}}", id.publisher, id.n))
}

/// The identity in a payload made by [`payload`].
fn parse(data: &Payload) -> Option<PubId> {
    let value: serde_json::Value = serde_json::from_slice(data.as_bytes()).ok()?;
    Some(PubId {
        publisher: u32::try_from(value["p"].as_u64()?).ok()?,
        n: value["n"].as_u64()?,
    })
}

/// A subscriber: subscribes once, then records until `stop`.
pub struct Subscriber {
    /// What it saw.
    pub log: Arc<Mutex<SubscriberLog>>,
    /// Its client, held so the connection lives as long as the subscriber.
    _client: Client,
    task: JoinHandle<()>,
}

impl Subscriber {
    /// Connects and subscribes; returns once subscribed.
    pub async fn start(client: Client, channel: String) -> Result<Subscriber, ClientError> {
        client.connect().await?;
        let mut sub = client.subscribe(&channel).await?;
        let log = Arc::new(Mutex::new(SubscriberLog {
            channel,
            subscribed: true,
            ..Default::default()
        }));
        let record = log.clone();
        let task = tokio::spawn(async move {
            let mut lost_at: Option<Instant> = None;
            while let Some(event) = sub.next().await {
                let now = Instant::now();
                let mut log = record.lock().unwrap_or_else(|p| p.into_inner());
                match event {
                    SubEvent::Publication(p) => {
                        if let (Some(id), Some(offset), Some(epoch)) =
                            (parse(&p.data), p.offset, p.epoch)
                        {
                            log.deliveries.push(Delivery {
                                id,
                                offset,
                                epoch,
                                at: now,
                            });
                        }
                    }
                    SubEvent::Gap { missed, recovered } => {
                        log.gaps.push((*missed.start(), *missed.end(), recovered));
                    }
                    SubEvent::Subscribing => {
                        log.subscribed = false;
                        lost_at.get_or_insert(now);
                    }
                    SubEvent::Subscribed(recovery) => {
                        log.subscribed = true;
                        log.recoveries.push(recovery);
                        if let Some(since) = lost_at.take() {
                            log.reconnects.push(now - since);
                        }
                    }
                    SubEvent::Unsubscribed(_) => {
                        log.subscribed = false;
                        break;
                    }
                    SubEvent::Join(_) | SubEvent::Leave(_) => {}
                }
            }
        });
        Ok(Subscriber {
            log,
            _client: client,
            task,
        })
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A publisher: publishes numbered publications at a steady rate while the
/// load runs, each in its own request (a slow answer does not hold back the
/// next one), at most `in_flight` at a time.
pub struct Publisher {
    /// Every attempt and its outcome.
    pub log: Arc<Mutex<Vec<PublishLog>>>,
    /// Its client, which the publishing task shares; dropped by
    /// [`finish`](Self::finish).
    pub client: Client,
    task: JoinHandle<()>,
}

impl Publisher {
    /// Connects; publishing starts at once and runs until `run` turns false.
    pub async fn start(
        client: Client,
        id: u32,
        channel: String,
        every: Duration,
        mut run: watch::Receiver<bool>,
    ) -> Result<Publisher, ClientError> {
        client.connect().await?;
        let log: Arc<Mutex<Vec<PublishLog>>> = Arc::default();
        let record = log.clone();
        let publisher = client.clone();
        let task = tokio::spawn(async move {
            let in_flight = Arc::new(Semaphore::new(1_000));
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut pending = Vec::new();
            for n in 0u64.. {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = run.wait_for(|r| !*r) => break,
                }
                let Ok(permit) = in_flight.clone().acquire_owned().await else {
                    break;
                };
                let pid = PubId { publisher: id, n };
                let client = publisher.clone();
                let channel = channel.clone();
                let record = record.clone();
                pending.push(tokio::spawn(async move {
                    let started = Instant::now();
                    let result = client.publish(&channel, payload(pid)).await;
                    let outcome = match result {
                        Ok(r) => r
                            .position
                            .map(|p| (p.offset, p.epoch))
                            .ok_or_else(|| "no position".to_owned()),
                        Err(e) => Err(e.code().name().to_owned()),
                    };
                    record
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(PublishLog {
                            id: pid,
                            channel,
                            outcome,
                            latency: started.elapsed(),
                        });
                    drop(permit);
                }));
            }
            for p in pending {
                let _ = p.await;
            }
        });
        Ok(Publisher { log, client, task })
    }

    /// Waits until every publish made has been answered.
    pub async fn finish(self, timeout: Duration) -> Vec<PublishLog> {
        let Publisher { log, client, task } = self;
        let _ = tokio::time::timeout(timeout, task).await;
        drop(client);
        std::mem::take(&mut *log.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// The acknowledged publications of each channel, by offset.
pub fn acknowledged(publishes: &[PublishLog]) -> BTreeMap<String, BTreeMap<u64, PubId>> {
    let mut out: BTreeMap<String, BTreeMap<u64, PubId>> = BTreeMap::new();
    for p in publishes {
        if let Ok((offset, _)) = &p.outcome {
            out.entry(p.channel.clone())
                .or_default()
                .insert(*offset, p.id);
        }
    }
    out
}

/// Waits until every subscriber has received every acknowledged publication
/// of its channel, or `timeout` passes.
pub async fn drain(
    subscribers: &[Subscriber],
    acked: &BTreeMap<String, BTreeMap<u64, PubId>>,
    timeout: Duration,
) {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        let done = subscribers.iter().all(|s| {
            let log = s.log.lock().unwrap_or_else(|p| p.into_inner());
            let want = acked.get(&log.channel).map_or(0, BTreeMap::len);
            let ids: std::collections::HashSet<PubId> =
                log.deliveries.iter().map(|d| d.id).collect();
            ids.len() >= want
                && acked
                    .get(&log.channel)
                    .is_none_or(|a| a.values().all(|id| ids.contains(id)))
        });
        if done {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
