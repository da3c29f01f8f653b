//! The offline inbox: every message sent to a user is also appended to that
//! user's inbox, a stream like a channel's history (bounded by
//! `users.inbox_size` and `users.inbox_ttl_ms`; in memory on a single node, in
//! JetStream in cluster mode). Each device sends its last inbox position with
//! `connect` and gets what it missed, in order and once; live messages carry
//! their inbox position so that replay and live delivery never overlap.
//!
//! An inbox is stored under a key no channel name can take
//! ([`StreamKey::Inbox`]), so brokers keep it with channel streams.

use std::sync::Arc;

use chorus_protocol::message::{Message, Publication};

use crate::config::Config;
use crate::history::HistoryOptions;
use crate::stream_key::StreamKey;

/// The inbox bounds, when inboxes are on.
pub(crate) fn options(config: &Config) -> Option<HistoryOptions> {
    let u = &config.users;
    (u.inbox_size > 0 && u.inbox_ttl_ms > 0).then(|| HistoryOptions {
        size: u.inbox_size,
        ttl: std::time::Duration::from_millis(u.inbox_ttl_ms),
    })
}

/// A message as its inbox stores it.
pub(crate) fn to_stored(user: &Arc<str>, m: Message) -> Publication {
    Publication {
        channel: StreamKey::Inbox(user.clone()).stored().to_string(),
        offset: m.offset,
        epoch: m.epoch,
        data: m.data,
        info: m.from,
    }
}

/// A stored inbox entry as the message the user receives.
pub(crate) fn to_message(p: Publication) -> Message {
    Message {
        data: p.data,
        from: p.info,
        broadcast: false,
        offset: p.offset,
        epoch: p.epoch,
    }
}
