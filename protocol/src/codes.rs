//! The one table of error codes and WebSocket close codes.
//!
//! Error codes travel inside replies (`{"id":7,"error":{"code":103,...}}`); close
//! codes end a WebSocket connection. Each entry says whether it is *temporary*
//! (retrying or reconnecting can help) or *terminal*. Close codes are split into
//! ranges so that a client decides without a lookup table:
//!
//! * `4000..=4499`: reconnect (with backoff);
//! * `4500..=4999`: terminal, do not reconnect;
//! * every other code (1000, 1001, 1006, ...): reconnect.

use std::fmt;

use serde::{Deserialize, Serialize};

/// One row of a code table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeInfo {
    /// The numeric code as it appears on the wire.
    pub code: u16,
    /// A stable snake_case name (used in metrics labels and SDK enums).
    pub name: &'static str,
    /// Whether retrying (errors) or reconnecting (close codes) can help.
    pub temporary: bool,
    /// Where the code is produced: `"server"` or `"client"` (local to an SDK).
    pub origin: &'static str,
    /// What it means, for humans.
    pub description: &'static str,
}

macro_rules! code_table {
    (
        $(#[$meta:meta])*
        $ty:ident, $table:ident {
            $( $(#[$doc:meta])* $konst:ident = $code:literal, $name:literal, $temp:literal, $origin:literal, $desc:literal; )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $ty(pub u16);

        impl $ty {
            $( $(#[$doc])* pub const $konst: $ty = $ty($code); )*
        }

        /// Every defined code, in numeric order; the source of the tables in docs/protocol.md.
        pub const $table: &[CodeInfo] = &[
            $( CodeInfo { code: $code, name: $name, temporary: $temp, origin: $origin, description: $desc }, )*
        ];

        impl $ty {
            /// The table row for this code, if it is a defined one.
            pub fn info(self) -> Option<&'static CodeInfo> {
                $table.iter().find(|row| row.code == self.0)
            }

            /// The stable name, or `"other"` for codes outside the table.
            pub fn name(self) -> &'static str {
                self.info().map_or("other", |row| row.name)
            }
        }

        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({} {})", stringify!($ty), self.0, self.name())
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{} ({})", self.0, self.name())
            }
        }
    };
}

code_table! {
    /// An error code carried in a reply. Codes `1000..=1999` are reserved for
    /// applications (returned by server hooks such as `on_rpc`).
    ErrorCode, ERROR_CODES {
        /// Something failed inside the server; retry later.
        INTERNAL = 100, "internal", true, "server", "Internal server error; retrying later may succeed.";
        /// The connection is not authenticated, or the token is invalid.
        UNAUTHORIZED = 101, "unauthorized", false, "server", "Missing, malformed, forged or revoked credentials.";
        /// The channel's namespace does not exist.
        UNKNOWN_CHANNEL = 102, "unknown_channel", false, "server", "The channel's namespace is not configured on the server.";
        /// The caller may not do this.
        PERMISSION_DENIED = 103, "permission_denied", false, "server", "The caller lacks the permission for this operation on this channel.";
        /// The command name is not known.
        UNKNOWN_OP = 104, "unknown_op", false, "server", "The frame names an operation this server does not know.";
        /// Subscribe to a channel this connection is already subscribed to.
        ALREADY_SUBSCRIBED = 105, "already_subscribed", false, "server", "This connection is already subscribed to the channel.";
        /// A per-connection limit was reached (channels per connection, ...).
        LIMIT_EXCEEDED = 106, "limit_exceeded", false, "server", "A configured limit was reached (for example channels per connection).";
        /// The frame is well-formed but its fields are not (bad channel name, wrong types).
        BAD_REQUEST = 107, "bad_request", false, "server", "Invalid fields: bad channel name, wrong type, missing field, undecodable frame.";
        /// The feature is disabled for this namespace (presence, history, ...).
        NOT_AVAILABLE = 108, "not_available", false, "server", "The feature (presence, history, recovery, rpc) is not enabled here.";
        /// The token has expired: refresh it and retry.
        TOKEN_EXPIRED = 109, "token_expired", true, "server", "The token has expired; get a fresh token and retry.";
        /// Too many commands too fast: retry after a while.
        TOO_MANY_REQUESTS = 110, "too_many_requests", true, "server", "The per-connection rate limit was exceeded; retry later.";
        /// The command needs a subscription that does not exist.
        NOT_SUBSCRIBED = 111, "not_subscribed", false, "server", "The operation requires a subscription to the channel.";
        /// The channel has reached its maximum number of members.
        CHANNEL_FULL = 112, "channel_full", true, "server", "The channel has reached its member limit; a place may free up later.";
        /// The data is larger than the server accepts.
        MESSAGE_TOO_LARGE = 113, "message_too_large", false, "server", "The payload exceeds the configured maximum size.";
        /// The connection has not completed `connect` yet.
        NOT_CONNECTED = 114, "not_connected", true, "server", "A command other than connect arrived before a successful connect.";
        /// The server is shutting down or draining.
        UNAVAILABLE = 115, "unavailable", true, "server", "The node is draining or shutting down; retry on another node.";
        /// No reply arrived in time (produced by the SDK, never sent).
        TIMEOUT = 200, "timeout", true, "client", "No reply arrived within the request timeout.";
        /// The connection was lost before the reply arrived (SDK-local).
        CONNECTION_LOST = 201, "connection_lost", true, "client", "The transport closed while the request was in flight.";
        /// The client is closed or disconnected and will not send (SDK-local).
        CLIENT_CLOSED = 202, "client_closed", false, "client", "The client is disconnected or closed; call connect first.";
        /// The reconnect queue is full, or queueing is off (SDK-local).
        QUEUE_FULL = 203, "queue_full", true, "client", "Publishing while reconnecting and the bounded queue is full or disabled.";
        /// A subscription for this channel already exists in the client (SDK-local).
        DUPLICATE_SUBSCRIPTION = 204, "duplicate_subscription", false, "client", "The client already has a subscription object for this channel.";
        /// The channel name is invalid (SDK-local check, same grammar as the server).
        INVALID_CHANNEL = 205, "invalid_channel", false, "client", "The channel name breaks the grammar; the SDK refused to send it.";
    }
}

code_table! {
    /// A WebSocket close code. `4000..=4499` reconnect, `4500..=4999` are terminal.
    CloseCode, CLOSE_CODES {
        /// A normal close initiated by the client.
        NORMAL = 1000, "normal", true, "client", "Normal closure (the client called disconnect).";
        /// The node is shutting down; reconnect, preferably to another node.
        SHUTDOWN = 4000, "shutdown", true, "server", "The node is shutting down or draining; reconnect elsewhere.";
        /// The connection fell too far behind (its bounded outbound queue overflowed).
        SLOW_CONSUMER = 4001, "slow_consumer", true, "server", "The outbound queue overflowed because the client read too slowly.";
        /// The client did not answer pings in time.
        NO_PONG = 4002, "no_pong", true, "server", "No pong within the pong deadline.";
        /// No valid connect command arrived within the handshake deadline.
        AUTH_TIMEOUT = 4003, "auth_timeout", true, "server", "No successful connect within the handshake deadline.";
        /// The client exceeded the per-connection rate limit.
        RATE_LIMITED = 4004, "rate_limited", true, "server", "The per-connection command rate limit was exceeded repeatedly.";
        /// The server asked the client to reconnect (server API, config change).
        FORCE_RECONNECT = 4005, "force_reconnect", true, "server", "The server asked this client to reconnect.";
        /// The node has reached its connection limit.
        NODE_FULL = 4006, "node_full", true, "server", "The node has reached its maximum number of connections.";
        /// An unexpected server-side failure.
        INTERNAL = 4007, "internal", true, "server", "An internal server error ended the connection.";
        /// The client saw no server ping within interval + grace (SDK-local).
        PING_TIMEOUT = 4008, "ping_timeout", true, "client", "The SDK saw no server ping within the interval plus grace.";
        /// A connect, subscribe or refresh command got no reply in time (SDK-local).
        REQUEST_TIMEOUT = 4009, "request_timeout", true, "client", "The SDK got no reply to connect, subscribe or refresh in time and reconnects.";
        /// The token is missing, malformed or forged.
        UNAUTHORIZED = 4500, "unauthorized", false, "server", "The token is missing, malformed, forged or signed with an unknown key.";
        /// The token has expired and was not refreshed.
        TOKEN_EXPIRED = 4501, "token_expired", false, "server", "The token expired and was not refreshed in time.";
        /// The client sent something that is not the protocol.
        PROTOCOL_ERROR = 4502, "protocol_error", false, "server", "An undecodable frame, wrong frame type for the codec, or a command without id.";
        /// A frame exceeded the maximum message size.
        MESSAGE_TOO_LARGE = 4503, "message_too_large", false, "server", "A frame exceeded the configured maximum message size.";
        /// The user already has the maximum number of connections.
        TOO_MANY_CONNECTIONS = 4504, "too_many_connections", false, "server", "The user already holds the maximum number of connections.";
        /// The token was revoked.
        TOKEN_REVOKED = 4505, "token_revoked", false, "server", "The token (or every token of the user) was revoked.";
        /// The server disconnected the client and asks it not to come back.
        KICKED = 4506, "kicked", false, "server", "Disconnected by the server API or a hook, without reconnect.";
    }
}

impl ErrorCode {
    /// Whether retrying can help. Unknown (application) codes count as terminal.
    pub fn is_temporary(self) -> bool {
        self.info().is_some_and(|row| row.temporary)
    }
}

impl CloseCode {
    /// The close code a server uses after refusing `connect` with `error`, so that
    /// the client's reconnect decision matches the error's temporary flag.
    pub fn for_connect_error(error: ErrorCode) -> CloseCode {
        match error {
            ErrorCode::UNAUTHORIZED | ErrorCode::PERMISSION_DENIED => CloseCode::UNAUTHORIZED,
            ErrorCode::TOKEN_EXPIRED => CloseCode::TOKEN_EXPIRED,
            ErrorCode::TOO_MANY_REQUESTS => CloseCode::RATE_LIMITED,
            ErrorCode::UNAVAILABLE => CloseCode::SHUTDOWN,
            ErrorCode::MESSAGE_TOO_LARGE => CloseCode::MESSAGE_TOO_LARGE,
            ErrorCode::BAD_REQUEST | ErrorCode::UNKNOWN_OP => CloseCode::PROTOCOL_ERROR,
            ErrorCode::LIMIT_EXCEEDED => CloseCode::TOO_MANY_CONNECTIONS,
            code if code.is_temporary() => CloseCode::INTERNAL,
            _ => CloseCode::KICKED,
        }
    }

    /// Whether the client should reconnect after this close code.
    ///
    /// Decided by range alone, so codes added later need no SDK update.
    pub fn should_reconnect(self) -> bool {
        !(4500..=4999).contains(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_sorted_and_unique() {
        for table in [ERROR_CODES, CLOSE_CODES] {
            for pair in table.windows(2) {
                assert!(pair[0].code < pair[1].code, "{pair:?}");
            }
            let mut names: Vec<_> = table.iter().map(|r| r.name).collect();
            names.sort_unstable();
            names.dedup();
            assert_eq!(names.len(), table.len());
        }
    }

    #[test]
    fn close_code_ranges_match_flags() {
        for row in CLOSE_CODES {
            assert_eq!(
                CloseCode(row.code).should_reconnect(),
                row.temporary,
                "{row:?}"
            );
        }
        assert!(CloseCode(1006).should_reconnect());
        assert!(!CloseCode(4999).should_reconnect());
    }

    #[test]
    fn connect_errors_map_to_close_codes_with_the_same_retry_decision() {
        for row in ERROR_CODES.iter().filter(|r| r.origin == "server") {
            let close = CloseCode::for_connect_error(ErrorCode(row.code));
            assert!(close.info().is_some(), "{row:?}");
            if row.code != ErrorCode::TOKEN_EXPIRED.0 {
                assert_eq!(
                    close.should_reconnect(),
                    row.temporary,
                    "{row:?} -> {close}"
                );
            }
        }
    }

    #[test]
    fn application_connect_errors_close_as_their_temporary_flag_says() {
        let mut error = crate::message::Error::new(ErrorCode(1042), "try later");
        assert_eq!(error.connect_close_code(), CloseCode::KICKED);
        error.temporary = true;
        assert!(error.connect_close_code().should_reconnect());
        // A table code keeps the table's mapping, whatever the flag says.
        let mut denied = crate::message::Error::new(ErrorCode::PERMISSION_DENIED, "no");
        denied.temporary = true;
        assert_eq!(denied.connect_close_code(), CloseCode::UNAUTHORIZED);
    }

    #[test]
    fn unknown_error_codes_are_terminal() {
        assert!(!ErrorCode(1042).is_temporary());
        assert_eq!(ErrorCode(1042).name(), "other");
        assert!(ErrorCode::TOKEN_EXPIRED.is_temporary());
    }
}
