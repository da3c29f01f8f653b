//! A subscription as the application holds it: a stream of channel events.

use std::pin::Pin;
use std::task::{Context, Poll};

use chorus_protocol::client::Recovery;
use chorus_protocol::message::{Membership, Publication};
use futures_util::Stream;
use tokio::sync::mpsc;

use crate::driver::Cmd;
use crate::error::ClientError;

/// Something that happened on a subscribed channel.
#[derive(Debug, Clone, PartialEq)]
pub enum SubEvent {
    /// A publication, delivered once and in offset order.
    Publication(Publication),
    /// Live publications skipped the offsets `missed`, and the client read
    /// them from history: with `recovered` they were all delivered just before
    /// this event; without, the ones history no longer held are lost.
    Gap {
        /// The offsets that were missing.
        missed: std::ops::RangeInclusive<u64>,
        /// Whether every one of them was delivered.
        recovered: bool,
    },
    /// Someone joined (namespaces with join/leave events).
    Join(Membership),
    /// Someone left: unsubscribed or disconnected (same namespaces as `Join`).
    Leave(Membership),
    /// The connection dropped; the subscription is being re-established.
    Subscribing,
    /// The subscription is live again. After `Recovered`, every missed publication
    /// has been delivered just before this event; after `Unrecoverable`, some were
    /// lost (history window exceeded) and the application should reload its state.
    Subscribed(Recovery),
    /// The subscription ended (the server ended it, or it was refused).
    Unsubscribed(Option<ClientError>),
}

/// A live subscription. Dropping it unsubscribes.
#[derive(Debug)]
pub struct Subscription {
    id: u64,
    channel: String,
    events: mpsc::Receiver<SubEvent>,
    cmds: mpsc::UnboundedSender<Cmd>,
}

impl Subscription {
    pub(crate) fn new(
        id: u64,
        channel: String,
        events: mpsc::Receiver<SubEvent>,
        cmds: mpsc::UnboundedSender<Cmd>,
    ) -> Self {
        Subscription {
            id,
            channel,
            events,
            cmds,
        }
    }

    /// The channel name, as passed to `subscribe`.
    pub fn channel(&self) -> &str {
        &self.channel
    }

    /// The next event; `None` once the subscription has ended.
    pub async fn next(&mut self) -> Option<SubEvent> {
        self.events.recv().await
    }

    /// Ends the subscription.
    pub fn unsubscribe(self) {
        drop(self);
    }
}

impl Stream for Subscription {
    type Item = SubEvent;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<SubEvent>> {
        self.events.poll_recv(cx)
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let _ = self.cmds.send(Cmd::Unsubscribe {
            channel: std::mem::take(&mut self.channel),
            id: self.id,
        });
    }
}
