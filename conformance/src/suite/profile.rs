//! The conformance profile: the server configuration the suite expects of its
//! target (namespaces and limits), as documented in docs/conformance.md.
//!
//! Scenarios read the namespace names and the limits from a [`Profile`]. A
//! target that lacks a namespace gets the scenarios that need it skipped (the
//! server answers 102 `unknown_channel`, and the scenario says which namespace
//! to add). Limits cannot be discovered over the protocol, so the scenarios that
//! check them rely on the values here.

/// Namespace names and limit values the scenarios rely on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// History, presence and join/leave events; only subscribers publish.
    pub chat: String,
    /// No history, no presence, join/leave events; any connection publishes.
    pub live: String,
    /// Only the server API (or a `pubs` grant) publishes.
    pub readonly: String,
    /// Only connections with a `subs` grant subscribe; history and presence on.
    pub private: String,
    /// At most [`Profile::max_members`] subscribers per channel; presence on.
    pub capped: String,
    /// Open to connections without a token.
    pub open: String,
    /// `limits.max_message_size`: the largest frame accepted, in bytes.
    pub max_message_size: usize,
    /// `limits.outbound_queue`: frames queued for one connection.
    pub outbound_queue: usize,
    /// `limits.handshake_timeout_ms`.
    pub handshake_timeout_ms: u64,
    /// `limits.ping_interval_ms`.
    pub ping_interval_ms: u64,
    /// `limits.pong_timeout_ms`.
    pub pong_timeout_ms: u64,
    /// `limits.rate_per_second`.
    pub rate_per_second: u32,
    /// `limits.rate_burst`.
    pub rate_burst: u32,
    /// `limits.max_channels_per_connection`.
    pub max_channels_per_connection: usize,
    /// `limits.max_connections_per_user` (per node).
    pub max_connections_per_user: usize,
    /// `max_members` of the [`Profile::capped`] namespace.
    pub max_members: usize,
    /// `auth.leeway_secs`: how long after `exp` a token is still honoured.
    pub leeway_secs: u64,
    /// History kept per channel in the [`Profile::chat`] and
    /// [`Profile::private`] namespaces.
    pub history_size: usize,
}

impl Default for Profile {
    fn default() -> Self {
        Profile {
            chat: "chat".into(),
            live: "live".into(),
            readonly: "readonly".into(),
            private: "private".into(),
            capped: "capped".into(),
            open: "open".into(),
            max_message_size: 65_536,
            outbound_queue: 32,
            handshake_timeout_ms: 1_000,
            ping_interval_ms: 1_000,
            pong_timeout_ms: 2_000,
            rate_per_second: 10,
            rate_burst: 50,
            max_channels_per_connection: 16,
            max_connections_per_user: 8,
            max_members: 2,
            leeway_secs: 1,
            history_size: 100,
        }
    }
}

impl Profile {
    /// The profile as configuration of the reference server (TOML), to be
    /// completed with the target's own `listen`, `api_key` and `[auth]` keys.
    /// docs/conformance.md shows exactly this text.
    pub fn server_toml(&self) -> String {
        format!(
            r#"[auth]
leeway_secs = {leeway}

[limits]
max_message_size = {max_message_size}
outbound_queue = {outbound_queue}
handshake_timeout_ms = {handshake}
ping_interval_ms = {ping}
pong_timeout_ms = {pong}
rate_per_second = {rate}
rate_burst = {burst}
max_channels_per_connection = {channels}
max_connections_per_user = {connections}
max_connections = 0
idempotency_window_ms = 120000

# History, presence and join/leave; only subscribers publish.
[namespaces.{chat}]
history_size = {history}
history_ttl_ms = 600000
presence = true
join_leave = true

# No history, no presence; join/leave; any connection publishes.
[namespaces.{live}]
join_leave = true
publish = "any"

# Only the server API (or a `pubs` grant) publishes.
[namespaces.{readonly}]
publish = "nobody"

# Only connections with a `subs` grant subscribe.
[namespaces.{private}]
history_size = {history}
history_ttl_ms = 600000
presence = true
subscribe = "grants"

# At most {members} subscribers per channel.
[namespaces.{capped}]
presence = true
max_members = {members}

# Open to connections without a token.
[namespaces.{open}]
anonymous = true
"#,
            leeway = self.leeway_secs,
            max_message_size = self.max_message_size,
            outbound_queue = self.outbound_queue,
            handshake = self.handshake_timeout_ms,
            ping = self.ping_interval_ms,
            pong = self.pong_timeout_ms,
            rate = self.rate_per_second,
            burst = self.rate_burst,
            channels = self.max_channels_per_connection,
            connections = self.max_connections_per_user,
            chat = self.chat,
            live = self.live,
            readonly = self.readonly,
            private = self.private,
            capped = self.capped,
            open = self.open,
            history = self.history_size,
            members = self.max_members,
        )
    }

    /// Every namespace of the profile, with a short description.
    pub fn namespaces(&self) -> [(&str, &'static str); 6] {
        [
            (&self.chat, "history, presence, join/leave"),
            (&self.live, "no history, join/leave, anyone publishes"),
            (&self.readonly, "publish = nobody"),
            (&self.private, "subscribe = grants"),
            (&self.capped, "max_members"),
            (&self.open, "anonymous"),
        ]
    }
}
