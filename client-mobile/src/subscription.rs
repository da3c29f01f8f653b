//! The `Subscription` object and the pump that feeds its listener.

use std::sync::{Arc, Mutex};

use chorus_client as core;
use tokio::runtime::Runtime;
use tokio::sync::oneshot;
use tokio::task::AbortHandle;

use crate::types::SubscriptionEvent;

/// Receives a subscription's events. Implemented by the app; called on the
/// SDK's threads, in order, one at a time, so return quickly.
#[uniffi::export(with_foreign)]
pub trait SubscriptionListener: Send + Sync {
    /// The next event of the subscription.
    fn on_event(&self, event: SubscriptionEvent);
}

/// A live subscription. It lasts until `unsubscribe()`, the server ends it,
/// or its client is destroyed; dropping this object alone does not end it.
#[derive(uniffi::Object)]
pub struct Subscription {
    channel: String,
    stop: Mutex<Option<oneshot::Sender<()>>>,
}

#[uniffi::export]
impl Subscription {
    /// The channel name, as passed to `subscribe`.
    pub fn channel(&self) -> String {
        self.channel.clone()
    }

    /// Ends the subscription. The listener's last event is `Unsubscribed`
    /// without an error. Calling it again does nothing.
    pub fn unsubscribe(&self) {
        if let Some(stop) = self.stop.lock().ok().and_then(|mut s| s.take()) {
            let _ = stop.send(());
        }
    }
}

impl Subscription {
    /// Starts delivering `sub`'s events to `listener` on `rt`.
    pub(crate) fn start(
        channel: String,
        sub: core::Subscription,
        listener: Arc<dyn SubscriptionListener>,
        rt: &Runtime,
    ) -> (Arc<Self>, AbortHandle) {
        let (stop, stopped) = oneshot::channel();
        let pump = rt.spawn(pump(sub, listener, stopped));
        let subscription = Subscription {
            channel,
            stop: Mutex::new(Some(stop)),
        };
        (Arc::new(subscription), pump.abort_handle())
    }
}

/// Forwards events until the subscription ends or `unsubscribe` is called;
/// dropping `sub` at the end unsubscribes on the server. The app dropping its
/// `Subscription` object (closing the stop channel) does not stop the pump.
async fn pump(
    mut sub: core::Subscription,
    listener: Arc<dyn SubscriptionListener>,
    mut stopped: oneshot::Receiver<()>,
) {
    let mut stoppable = true;
    loop {
        tokio::select! {
            event = sub.next() => match event {
                Some(event) => {
                    let last = matches!(event, core::SubEvent::Unsubscribed(_));
                    listener.on_event(event.into());
                    if last {
                        return;
                    }
                }
                None => return,
            },
            stop = &mut stopped, if stoppable => match stop {
                Ok(()) => {
                    drop(sub);
                    listener.on_event(SubscriptionEvent::Unsubscribed { error: None });
                    return;
                }
                Err(_) => stoppable = false,
            },
        }
    }
}
