//! What brokers keep something under, per channel or per user: a channel's
//! stream, a user's inbox stream ([`crate::inbox`]), a user's status in
//! presence ([`crate::online`]); and the one place that turns it to and from
//! the string brokers store it under.
//!
//! Brokers keep all kinds side by side under one string (NATS subjects and
//! bucket keys, the memory broker's maps): a channel under its name, a user's
//! keys under a prefix starting with a control character, which no channel
//! name can hold, so the two never meet. NATS persists these strings (the
//! history stream's subjects), so their form must never change.

use std::sync::Arc;

/// Prefix of a user's inbox stream.
const INBOX: &str = "\u{1}inbox\u{1}";
/// Prefix of a user's status key in presence.
const STATUS: &str = "\u{1}status\u{1}";

/// A key brokers store under, told apart by what it is for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum StreamKey {
    /// A channel's stream (history) or members (presence), by channel name.
    Channel(Arc<str>),
    /// A user's inbox stream, by user id.
    Inbox(Arc<str>),
    /// A user's connections as presence members, for online status, by user id.
    Status(Arc<str>),
}

impl StreamKey {
    /// The key a broker stored as `stored` ([`StreamKey::stored`]); any
    /// string without a user prefix is a channel's.
    pub(crate) fn parse(stored: &str) -> StreamKey {
        if let Some(user) = stored.strip_prefix(INBOX) {
            StreamKey::Inbox(user.into())
        } else if let Some(user) = stored.strip_prefix(STATUS) {
            StreamKey::Status(user.into())
        } else {
            StreamKey::Channel(stored.into())
        }
    }

    /// The string brokers store it under: a channel's name as it is, a
    /// user's id behind its prefix.
    pub(crate) fn stored(&self) -> Arc<str> {
        match self {
            StreamKey::Channel(channel) => channel.clone(),
            StreamKey::Inbox(user) => format!("{INBOX}{user}").into(),
            StreamKey::Status(user) => format!("{STATUS}{user}").into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_forms_are_the_persisted_ones() {
        let inbox = StreamKey::Inbox("alice".into());
        let status = StreamKey::Status("alice".into());
        assert_eq!(&*inbox.stored(), "\u{1}inbox\u{1}alice");
        assert_eq!(&*status.stored(), "\u{1}status\u{1}alice");
        assert_eq!(
            &*StreamKey::Channel("chat:alice".into()).stored(),
            "chat:alice"
        );
    }

    #[test]
    fn keys_round_trip_and_users_are_no_channel_names() {
        for key in [
            StreamKey::Channel("chat:alice".into()),
            StreamKey::Inbox("alice".into()),
            StreamKey::Status("alice".into()),
        ] {
            assert_eq!(StreamKey::parse(&key.stored()), key);
        }
        for user_key in [
            StreamKey::Inbox("bob".into()),
            StreamKey::Status("bob".into()),
        ] {
            assert!(chorus_protocol::Channel::parse(&user_key.stored()).is_err());
        }
    }
}
