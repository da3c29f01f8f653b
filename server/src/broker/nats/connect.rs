//! Joining the cluster: the NATS connection, the stream and buckets, the
//! node's registry entry and the listeners that are always on (broadcast,
//! control, housekeeping, the revocation check after every reconnect).

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, kv, stream::StorageType};
use async_nats::{ConnectOptions, Event, ServerAddr};
use futures_util::StreamExt;
use tokio::sync::watch;

use super::delivery::{self, Delivery, Target};
use super::history::HistoryStore;
use super::leader::Leader;
use super::names::Names;
use super::presence::Presence;
use super::registry::Registry;
use super::wire::Control;
use super::{IDEMPOTENCY_BUCKET_BYTES, LAST_SEEN_KEPT, NatsBroker, Task, setup};
use crate::broker::BrokerError;
use crate::config::{ClusterStorage, Config};
use crate::hub::Hub;
use crate::sync::lock;

impl NatsBroker {
    /// Connects to NATS, creates the stream and buckets (or checks they match),
    /// registers the node and starts listening to broadcast and control traffic.
    pub(crate) async fn connect(
        config: Arc<Config>,
        hub: Arc<Hub>,
        node: Arc<str>,
    ) -> Result<Arc<NatsBroker>, BrokerError> {
        let cluster = &config.cluster;
        let timeout = Duration::from_millis(cluster.request_timeout_ms);
        let addrs = config
            .nats
            .iter()
            .map(|u| u.parse::<ServerAddr>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| BrokerError::config("NATS URL", e))?;
        let (connections, _) = watch::channel(0u64);
        let events = connections.clone();
        let mut options = ConnectOptions::new();
        if let Some(ca) = &cluster.nats_ca_file {
            options = options.add_root_certificates(ca.clone()).require_tls(true);
        }
        let client = options
            .name(format!("chorus node {node}"))
            .connection_timeout(timeout)
            .max_reconnects(None)
            .event_callback(move |event| {
                let events = events.clone();
                async move {
                    match event {
                        Event::Connected => {
                            tracing::info!("connected to NATS");
                            events.send_modify(|n| *n += 1);
                        }
                        Event::Disconnected => tracing::warn!("disconnected from NATS"),
                        other => tracing::info!(event = %other, "NATS"),
                    }
                }
            })
            .connect(addrs)
            .await
            .map_err(|e| {
                BrokerError::unavailable(format!("connect to NATS {:?}", config.nats), e)
            })?;
        let js = jetstream::ContextBuilder::new()
            .timeout(timeout)
            .build(client.clone());
        let names = Names::new(&cluster.prefix);
        let node_ttl = Duration::from_millis(cluster.node_ttl_ms);
        let bucket = |name: String, max_age: Duration| kv::Config {
            bucket: name,
            history: 1,
            max_age,
            storage: match cluster.storage {
                ClusterStorage::File => StorageType::File,
                ClusterStorage::Memory => StorageType::Memory,
            },
            num_replicas: cluster.replicas,
            ..Default::default()
        };
        let presence_kv = setup::retrying("presence bucket", || {
            js.create_or_update_key_value(bucket(names.presence_bucket(), node_ttl * 3))
        })
        .await?;
        let nodes_kv = setup::retrying("registry bucket", || {
            js.create_or_update_key_value(bucket(names.nodes_bucket(), node_ttl))
        })
        .await?;
        let window = Duration::from_millis(config.limits.idempotency_window_ms.max(1_000));
        // Keys are fixed-size digests; the bucket is bounded all the same
        // (when full, keyed publishes to channels without history fail with 100).
        let mut idem = bucket(names.idempotency_bucket(), window);
        idem.max_bytes = IDEMPOTENCY_BUCKET_BYTES;
        let idempotency = setup::retrying("idempotency bucket", || {
            js.create_or_update_key_value(idem.clone())
        })
        .await?;
        let seen = setup::retrying("last-seen bucket", || {
            js.create_or_update_key_value(bucket(names.seen_bucket(), LAST_SEEN_KEPT))
        })
        .await?;
        let mut revoked = bucket(names.revoked_bucket(), Duration::ZERO);
        revoked.limit_markers = Some(Duration::from_secs(1));
        setup::retrying("revocation bucket", || {
            js.create_or_update_key_value(revoked.clone())
        })
        .await?;
        let history = Arc::new(
            HistoryStore::new(
                client.clone(),
                js.clone(),
                names.clone(),
                node.clone(),
                &config,
            )
            .await?,
        );
        let presence = Arc::new(Presence::new(
            client.clone(),
            presence_kv,
            names.clone(),
            node.clone(),
            timeout,
        ));
        setup::retrying("presence marker", || presence.mark()).await?;
        let registry = Arc::new(Registry::new(
            client.clone(),
            nodes_kv,
            names.clone(),
            node.clone(),
            timeout,
            node_ttl * 3,
        ));
        let leader = Leader::new(client.clone(), timeout);
        let broker = Arc::new(NatsBroker {
            client,
            names,
            node,
            started: Instant::now(),
            delivery: Arc::new(Delivery::new(hub, config, history)),
            presence,
            registry,
            idempotency,
            seen,
            leader,
            js,
            timeout,
            channels: Default::default(),
            users: Default::default(),
            connections,
            draining: AtomicBool::new(false),
            background: Mutex::default(),
        });
        // Like the buckets, the first writes may meet a JetStream cluster
        // still electing the buckets' leaders.
        let status = broker.status();
        setup::retrying("registry entry", || broker.registry.beat(&status)).await?;
        setup::retrying("registry read", || broker.registry.poll()).await?;
        broker.start_background().await?;
        Ok(broker)
    }

    async fn start_background(self: &Arc<Self>) -> Result<(), BrokerError> {
        let mut tasks = Vec::new();
        let broadcast = self.subscribe(self.names.broadcast()).await?;
        tasks.push(Task(tokio::spawn(delivery::listen(
            broadcast,
            self.delivery.hub.clone(),
            Target::Everyone,
        ))));
        let mut control = self.subscribe(self.names.control()).await?;
        let hub = self.delivery.hub.clone();
        tasks.push(Task(tokio::spawn(async move {
            while let Some(message) = control.next().await {
                match serde_json::from_slice::<Control>(&message.payload) {
                    Ok(c) => {
                        let code = c.code();
                        match c {
                            Control::CloseUser { user, reason, .. } => {
                                hub.close_user(&user, code, &reason);
                            }
                            Control::CloseClient { client, reason, .. } => {
                                hub.close_client(&client, code, &reason);
                            }
                            Control::Revoke(revocation) => {
                                hub.close_revoked(&revocation);
                            }
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "bad control message"),
                }
            }
        })));
        let weak = Arc::downgrade(self);
        let period = Duration::from_millis(self.delivery.config().cluster.node_ttl_ms) / 3;
        tasks.push(Task(tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            tick.tick().await;
            for round in 1u64.. {
                tick.tick().await;
                let Some(broker) = weak.upgrade() else { break };
                broker.housekeeping(round % 3 == 0).await;
            }
        })));
        // Revocations published while this node was cut off from NATS never
        // reached it: after every reconnect, check the tokens it holds.
        let weak = Arc::downgrade(self);
        let mut connections = self.connections.subscribe();
        tasks.push(Task(tokio::spawn(async move {
            while connections.changed().await.is_ok() {
                let Some(broker) = weak.upgrade() else { break };
                broker.recheck_revocations().await;
            }
        })));
        *lock(&self.background) = tasks;
        Ok(())
    }
}
