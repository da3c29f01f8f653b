//! Who may subscribe to and publish in a channel, from the namespace's options
//! and the token's grants.

use chorus_protocol::message::Error;
use chorus_protocol::{Channel, ErrorCode};

use crate::auth::Claims;
use crate::config::{NamespaceConfig, PublishPolicy, SubscribePolicy};

/// The identity a decision is made for.
#[derive(Debug, Clone, Copy)]
pub struct Principal<'a> {
    /// User id, `""` for anonymous connections.
    pub user: &'a str,
    /// The verified token's claims (`None`: anonymous); their `subs` and `pubs` grants admit
    /// beyond the namespace's policy.
    pub claims: Option<&'a Claims>,
}

fn denied(what: &str, channel: &Channel) -> Error {
    Error::new(
        ErrorCode::PERMISSION_DENIED,
        format!("not allowed to {what} {channel}"),
    )
}

fn admitted(
    ns: &NamespaceConfig,
    who: Principal<'_>,
    channel: &Channel,
    what: &str,
) -> Result<(), Error> {
    if who.user.is_empty() && !ns.anonymous {
        return Err(denied(what, channel));
    }
    if !channel.admits_user(who.user) {
        return Err(denied(what, channel));
    }
    Ok(())
}

/// Whether a channel grant from a token admits `channel`.
///
/// A grant is an exact channel name, `*` (every channel), or a prefix ending in
/// `*` (e.g. `chat:*`, `chat:room-*`). Nothing else is a wildcard.
///
/// * The trailing `*` matches any suffix, so `chat:*` admits every channel that
///   starts with `chat:` (the whole `chat` namespace) but not `chat` or
///   `chatter:x`. The prefix is a plain string prefix: `chat*` also admits
///   `chatter:x`, so end a namespace grant with `:*`.
/// * Only the last character can be a wildcard: `a*b` and `a.b` are literal
///   names, as are `.`, `>` and any other character (no regex, no NATS syntax),
///   because channel names may legitimately contain them.
/// * Matching is byte-exact (case-sensitive); an empty grant admits nothing.
pub(crate) fn grant_matches(grant: &str, channel: &str) -> bool {
    if grant.is_empty() {
        return false;
    }
    match grant.strip_suffix('*') {
        Some(prefix) => channel.starts_with(prefix),
        None => grant == channel,
    }
}

/// May `who` subscribe (also: read presence and history)?
pub fn may_subscribe(
    ns: &NamespaceConfig,
    who: Principal<'_>,
    channel: &Channel,
) -> Result<(), Error> {
    admitted(ns, who, channel, "subscribe to")?;
    if who
        .claims
        .is_some_and(|c| c.may_subscribe(channel.as_str()))
    {
        return Ok(());
    }
    match ns.subscribe {
        SubscribePolicy::Any => Ok(()),
        SubscribePolicy::Grants => Err(denied("subscribe to", channel)),
    }
}

/// May `who` publish? `subscribed` says whether it is subscribed to the channel.
pub fn may_publish(
    ns: &NamespaceConfig,
    who: Principal<'_>,
    channel: &Channel,
    subscribed: bool,
) -> Result<(), Error> {
    admitted(ns, who, channel, "publish to")?;
    if who.claims.is_some_and(|c| c.may_publish(channel.as_str())) {
        return Ok(());
    }
    match ns.publish {
        PublishPolicy::Any => Ok(()),
        PublishPolicy::Subscribers if subscribed => Ok(()),
        PublishPolicy::Subscribers | PublishPolicy::Nobody => Err(denied("publish to", channel)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ch(s: &str) -> Channel {
        Channel::parse(s).unwrap()
    }

    #[test]
    fn grant_matching_table() {
        let table: &[(&str, &str, bool)] = &[
            // Exact names.
            ("chat:lobby", "chat:lobby", true),
            ("chat:lobby", "chat:lobby2", false),
            ("chat:lobby", "chat:Lobby", false),
            ("lobby", "lobby", true),
            // Everything.
            ("*", "chat:lobby", true),
            ("*", "lobby", true),
            ("*", "dm:x#alice,bob", true),
            // Namespace prefix.
            ("chat:*", "chat:lobby", true),
            ("chat:*", "chat:a:b", true),
            ("chat:*", "chat", false),
            ("chat:*", "chatter:x", false),
            ("chat:*", "news:chat:x", false),
            // Name prefix.
            ("chat:room-*", "chat:room-1", true),
            ("chat:room-*", "chat:room-", true),
            ("chat:room-*", "chat:room", false),
            ("chat:room-*", "chat:lobby", false),
            // A bare prefix does not respect namespace boundaries.
            ("chat*", "chatter:x", true),
            // Only a trailing `*` is a wildcard; everything else is literal.
            ("a.b", "a.b", true),
            ("a.b", "axb", false),
            ("a*b", "axb", false),
            ("a*b", "a*b", true),
            ("chat:>", "chat:x", false),
            ("chat:>", "chat:>", true),
            ("chat:.*", "chat:x", false),
            ("chat:.*", "chat:.x", true),
            ("**", "*x", true),
            ("**", "x", false),
            ("chat:?", "chat:x", false),
            // The empty grant admits nothing.
            ("", "", false),
            ("", "x", false),
        ];
        for &(grant, channel, expected) in table {
            assert_eq!(
                grant_matches(grant, channel),
                expected,
                "grant {grant:?} vs channel {channel:?}"
            );
        }
    }

    #[test]
    fn anonymous_only_where_allowed() {
        let ns = NamespaceConfig::default();
        let anon = Principal {
            user: "",
            claims: None,
        };
        assert!(may_subscribe(&ns, anon, &ch("x")).is_err());
        let open = NamespaceConfig {
            anonymous: true,
            ..Default::default()
        };
        assert!(may_subscribe(&open, anon, &ch("x")).is_ok());
        assert!(may_publish(&open, anon, &ch("x"), false).is_err());
        assert!(may_publish(&open, anon, &ch("x"), true).is_ok());
    }

    #[test]
    fn user_limited_channels_and_grants() {
        let ns = NamespaceConfig {
            subscribe: SubscribePolicy::Grants,
            ..Default::default()
        };
        let alice = Principal {
            user: "alice",
            claims: None,
        };
        assert!(
            may_subscribe(&ns, alice, &ch("dm:x#alice,bob")).is_err(),
            "grants policy"
        );
        let claims = Claims {
            sub: "alice".into(),
            subs: vec!["dm:*".into()],
            ..Default::default()
        };
        let granted = Principal {
            user: "alice",
            claims: Some(&claims),
        };
        assert!(may_subscribe(&ns, granted, &ch("dm:x#alice,bob")).is_ok());
        let carol = Claims {
            sub: "carol".into(),
            subs: vec!["dm:*".into()],
            ..Default::default()
        };
        let carol = Principal {
            user: "carol",
            claims: Some(&carol),
        };
        assert!(
            may_subscribe(&ns, carol, &ch("dm:x#alice,bob")).is_err(),
            "not listed"
        );
        let nobody = NamespaceConfig {
            publish: PublishPolicy::Nobody,
            ..Default::default()
        };
        assert!(may_publish(&nobody, alice, &ch("x"), true).is_err());
    }
}
