//! Typed errors, mirroring the protocol's error table (docs/protocol.md).

use chorus_protocol::ErrorCode;
use chorus_protocol::message::Error;
use thiserror::Error;

/// Why a client call failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ClientError {
    /// The server refused the request (its error code and message).
    #[error("server error {0}")]
    Server(Error),
    /// No reply within the request timeout (code 200).
    #[error("request timed out")]
    Timeout,
    /// The connection dropped before the reply; the request may or may not have
    /// been applied (code 201).
    #[error("connection lost before the reply")]
    ConnectionLost,
    /// The client is disconnected or closed (code 202); the reason when known.
    #[error("client is not connected: {0}")]
    Closed(String),
    /// Requests made while reconnecting exceed the bounded queue (code 203).
    #[error("reconnect queue is full")]
    QueueFull,
    /// This client already has a subscription to the channel (code 204).
    #[error("already subscribed: {0}")]
    DuplicateSubscription(String),
    /// The channel name breaks the grammar (code 205).
    #[error("invalid channel: {0}")]
    InvalidChannel(String),
    /// The client's background task is gone (the runtime shut down).
    #[error("the client task has stopped")]
    Stopped,
    /// The builder's settings cannot work (a URL that is not `ws://` or
    /// `wss://`, a minimum reconnect delay above the maximum, a zero timeout):
    /// returned by [`crate::Client::connect`], checked by
    /// [`crate::ClientBuilder::validate`].
    #[error("invalid client settings: {0}")]
    Config(#[from] chorus_protocol::client::ConfigError),
}

impl ClientError {
    /// The code from the protocol's error table.
    pub fn code(&self) -> ErrorCode {
        match self {
            ClientError::Server(e) => e.code,
            ClientError::Timeout => ErrorCode::TIMEOUT,
            ClientError::ConnectionLost => ErrorCode::CONNECTION_LOST,
            ClientError::Closed(_) | ClientError::Stopped => ErrorCode::CLIENT_CLOSED,
            ClientError::QueueFull => ErrorCode::QUEUE_FULL,
            ClientError::DuplicateSubscription(_) => ErrorCode::DUPLICATE_SUBSCRIPTION,
            ClientError::InvalidChannel(_) => ErrorCode::INVALID_CHANNEL,
            ClientError::Config(_) => ErrorCode::BAD_REQUEST,
        }
    }

    /// Whether retrying can help.
    pub fn is_temporary(&self) -> bool {
        match self {
            ClientError::Server(e) => e.temporary,
            other => other.code().is_temporary(),
        }
    }
}

impl From<Error> for ClientError {
    fn from(e: Error) -> Self {
        match e.code {
            ErrorCode::TIMEOUT => ClientError::Timeout,
            ErrorCode::CONNECTION_LOST => ClientError::ConnectionLost,
            ErrorCode::CLIENT_CLOSED => ClientError::Closed(e.message),
            ErrorCode::QUEUE_FULL => ClientError::QueueFull,
            ErrorCode::DUPLICATE_SUBSCRIPTION => ClientError::DuplicateSubscription(e.message),
            ErrorCode::INVALID_CHANNEL => ClientError::InvalidChannel(e.message),
            _ => ClientError::Server(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_codes_map_to_variants_and_back() {
        for row in chorus_protocol::codes::ERROR_CODES {
            let e = ClientError::from(Error::new(ErrorCode(row.code), "x"));
            assert_eq!(e.code().0, row.code, "{row:?}");
            assert_eq!(e.is_temporary(), row.temporary, "{row:?}");
        }
    }
}
