//! The channel-name grammar: `[namespace:]name[#user,user...]`.
//!
//! * A channel is at most [`MAX_CHANNEL_LEN`] bytes of UTF-8.
//! * The optional namespace is everything before the first `:`; it is 1 to 64 of
//!   `A-Z a-z 0-9 _ -`. Without a `:` the channel is in the default namespace (`""`).
//! * The name is not empty and holds no whitespace and no control characters.
//!   Any other character is allowed, `.`, `*` and `>` included: they never reach
//!   a NATS subject unencoded (see [`crate::subject`]).
//! * A name containing `#` is *user-limited*: the part after the last `#` is a
//!   comma-separated list of user ids, and only those users may subscribe
//!   (`dialog#alice,bob`, or a personal channel such as `inbox#alice`).

use std::fmt;

use thiserror::Error;

/// Maximum length of a channel name in bytes.
pub const MAX_CHANNEL_LEN: usize = 255;
/// Maximum length of a namespace in bytes.
pub const MAX_NAMESPACE_LEN: usize = 64;

/// Why a channel name was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ChannelError {
    /// The name is empty.
    #[error("channel name is empty")]
    Empty,
    /// The name is longer than [`MAX_CHANNEL_LEN`] bytes.
    #[error("channel name is {len} bytes long; the maximum is {MAX_CHANNEL_LEN}")]
    TooLong {
        /// Actual length in bytes.
        len: usize,
    },
    /// The namespace part breaks its grammar.
    #[error("namespace {namespace:?} must be 1 to {MAX_NAMESPACE_LEN} of A-Z a-z 0-9 _ -")]
    BadNamespace {
        /// Everything before the first `:`, as written (may be empty, as in `:x`).
        namespace: String,
    },
    /// Nothing follows the `namespace:` prefix.
    #[error("channel name after the namespace is empty")]
    EmptyName,
    /// A whitespace or control character.
    #[error("character {ch:?} at byte {at} is not allowed in a channel name")]
    ForbiddenChar {
        /// The first whitespace or control character found.
        ch: char,
        /// Where `ch` starts, in bytes from the start of the channel name.
        at: usize,
    },
    /// A user-limited channel lists an empty user id (`a#`, `a#x,,y`).
    #[error("user-limited channel lists an empty user id")]
    EmptyUser,
}

/// A validated channel name. Cheap accessors for its parts.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Channel {
    raw: String,
    /// Byte length of the namespace (0 when in the default namespace).
    ns_len: usize,
}

impl Channel {
    /// Validates `raw` against the grammar.
    pub fn parse(raw: &str) -> Result<Self, ChannelError> {
        validate(raw).map(|ns_len| Channel {
            raw: raw.to_owned(),
            ns_len,
        })
    }

    /// The full name, as the client wrote it.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// The namespace, `""` for the default namespace.
    pub fn namespace(&self) -> &str {
        &self.raw[..self.ns_len]
    }

    /// The name without its namespace prefix.
    pub fn name(&self) -> &str {
        if self.ns_len == 0 {
            &self.raw
        } else {
            &self.raw[self.ns_len + 1..]
        }
    }

    /// For a user-limited channel, the user ids allowed in it.
    pub fn allowed_users(&self) -> Option<impl Iterator<Item = &str>> {
        let name = self.name();
        name.rfind('#').map(|i| name[i + 1..].split(','))
    }

    /// True when `user` may join: any user for ordinary channels, only the
    /// listed ones for user-limited channels.
    pub fn admits_user(&self, user: &str) -> bool {
        match self.allowed_users() {
            None => true,
            Some(mut users) => users.any(|u| u == user),
        }
    }
}

impl fmt::Debug for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Channel({:?})", self.raw)
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

impl AsRef<str> for Channel {
    fn as_ref(&self) -> &str {
        &self.raw
    }
}

/// Validates a channel name; returns the namespace length in bytes.
pub fn validate(raw: &str) -> Result<usize, ChannelError> {
    if raw.is_empty() {
        return Err(ChannelError::Empty);
    }
    if raw.len() > MAX_CHANNEL_LEN {
        return Err(ChannelError::TooLong { len: raw.len() });
    }
    if let Some((at, ch)) = raw
        .char_indices()
        .find(|(_, c)| c.is_whitespace() || c.is_control())
    {
        return Err(ChannelError::ForbiddenChar { ch, at });
    }
    let (ns_len, name) = match raw.split_once(':') {
        Some((ns, name)) => {
            let ns_ok = !ns.is_empty()
                && ns.len() <= MAX_NAMESPACE_LEN
                && ns
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            if !ns_ok {
                return Err(ChannelError::BadNamespace {
                    namespace: ns.to_owned(),
                });
            }
            if name.is_empty() {
                return Err(ChannelError::EmptyName);
            }
            (ns.len(), name)
        }
        None => (0, raw),
    };
    if let Some(i) = name.rfind('#') {
        if name[i + 1..].split(',').any(str::is_empty) {
            return Err(ChannelError::EmptyUser);
        }
    }
    Ok(ns_len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts() {
        let c = Channel::parse("chat:lobby").unwrap();
        assert_eq!((c.namespace(), c.name()), ("chat", "lobby"));
        let c = Channel::parse("lobby").unwrap();
        assert_eq!((c.namespace(), c.name()), ("", "lobby"));
        let c = Channel::parse("chat:a:b").unwrap();
        assert_eq!((c.namespace(), c.name()), ("chat", "a:b"));
    }

    #[test]
    fn user_limited() {
        let c = Channel::parse("dm:dialog#alice,bob").unwrap();
        assert!(c.admits_user("alice") && c.admits_user("bob"));
        assert!(!c.admits_user("carol"));
        assert!(!c.admits_user("alice,bob"));
        assert!(Channel::parse("news").unwrap().admits_user("anyone"));
        assert_eq!(Channel::parse("x#a,,b"), Err(ChannelError::EmptyUser));
        assert_eq!(Channel::parse("x#"), Err(ChannelError::EmptyUser));
    }

    #[test]
    fn rejects() {
        assert_eq!(Channel::parse(""), Err(ChannelError::Empty));
        assert_eq!(Channel::parse("chat:"), Err(ChannelError::EmptyName));
        assert!(matches!(
            Channel::parse(":x"),
            Err(ChannelError::BadNamespace { .. })
        ));
        assert!(matches!(
            Channel::parse("a.b:x"),
            Err(ChannelError::BadNamespace { .. })
        ));
        assert!(matches!(
            Channel::parse("a b"),
            Err(ChannelError::ForbiddenChar { ch: ' ', at: 1 })
        ));
        assert!(matches!(
            Channel::parse("a\u{0}"),
            Err(ChannelError::ForbiddenChar { .. })
        ));
        assert!(matches!(
            Channel::parse(&"x".repeat(256)),
            Err(ChannelError::TooLong { len: 256 })
        ));
    }

    #[test]
    fn hostile_but_legal_names_are_accepted() {
        for name in [
            "a.b",
            "*",
            ">",
            "chat:>",
            "chat:a.*.>",
            "ünïcödé",
            "chat:日本",
        ] {
            Channel::parse(name).unwrap();
        }
    }
}
