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
    /// The verified token's claims.
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
