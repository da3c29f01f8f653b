//! Channels on the cluster: publishing (into the stream for history channels,
//! on the channel's subject otherwise), reading history, and listening to a
//! channel's subject while it has local members.

use std::sync::Arc;

use async_nats::jetstream::kv;
use bytes::Bytes;
use chorus_protocol::Push;
use chorus_protocol::message::{Membership, Publication};

use super::delivery::{self, Target};
use super::{NatsBroker, Task};
use crate::broker::{BoxFuture, BrokerError, PubSub, PublishArgs, PublishOutcome};
use crate::history::{HistoryOptions, HistoryPage, HistoryQuery};
use crate::stream_key::StreamKey;

impl PubSub for NatsBroker {
    fn publish(&self, args: PublishArgs) -> BoxFuture<'_, Result<PublishOutcome, BrokerError>> {
        Box::pin(async move {
            let p = Publication {
                channel: args.channel.to_string(),
                offset: None,
                epoch: None,
                data: args.data,
                info: args.info,
            };
            if let Some(opts) = args.history {
                return self
                    .delivery
                    .history
                    .append(&args.channel, p, opts, args.idempotency_key.as_ref())
                    .await;
            }
            if let Some(key) = &args.idempotency_key {
                let name = self.names.idempotency_key(key);
                match self.idempotency.create(&name, Bytes::new()).await {
                    Ok(_) => {}
                    Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => {
                        return Ok(PublishOutcome {
                            position: None,
                            duplicate: true,
                        });
                    }
                    Err(e) => return Err(BrokerError::storage("idempotency", e)),
                }
            }
            self.publish_push(self.names.channel(&args.channel), Push::Publication(p))
                .await?;
            Ok(PublishOutcome::default())
        })
    }

    fn history(
        &self,
        stream: StreamKey,
        opts: HistoryOptions,
        query: HistoryQuery,
    ) -> BoxFuture<'_, Result<HistoryPage, BrokerError>> {
        Box::pin(async move {
            let stream = stream.stored();
            self.delivery.history.read(&stream, opts, &query).await
        })
    }

    fn channel_interest(&self, channel: Arc<str>) -> BoxFuture<'_, Result<(), BrokerError>> {
        Box::pin(async move {
            let mut listeners = self.channels.lock().await;
            let wanted = self.delivery.hub.channel_members(&channel) > 0;
            match (wanted, listeners.contains_key(&channel)) {
                (true, false) => {
                    let sub = self.subscribe(self.names.channel(&channel)).await?;
                    let task = tokio::spawn(delivery::listen_stream(
                        self.delivery.clone(),
                        StreamKey::Channel(channel.clone()),
                        Target::Channel(channel.clone()),
                        sub,
                        self.connections.subscribe(),
                    ));
                    listeners.insert(channel, Task(task));
                }
                (false, true) => {
                    listeners.remove(&channel);
                }
                _ => {}
            }
            Ok(())
        })
    }

    fn membership(
        &self,
        joined: bool,
        event: Membership,
    ) -> BoxFuture<'_, Result<(), BrokerError>> {
        Box::pin(async move {
            let subject = self.names.channel(&event.channel);
            let push = if joined {
                Push::Join(event)
            } else {
                Push::Leave(event)
            };
            self.publish_push(subject, push).await
        })
    }
}
