//! Typed errors: `ChorusException` subclasses in Kotlin, a Swift `Error` enum.
//!
//! The variants mirror [`chorus_client::ClientError`] one for one; codes are
//! those of the protocol's error table (docs/protocol.md).

use chorus_client::ClientError;

/// Why a call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
pub enum ChorusError {
    /// The server refused the request: its code (protocol table, or an
    /// application code 1000..=1999), the detail, and whether retrying can help.
    #[error("server error {code}: {reason}")]
    Server {
        /// 100..=199 from the protocol's table (103: permission denied, ...), or an
        /// application's 1000..=1999.
        code: i32,
        /// The server's message: for people, not stable enough to match on (use `code`).
        reason: String,
        /// Whether retrying can help.
        temporary: bool,
    },
    /// No reply within the request timeout (code 200).
    #[error("request timed out")]
    Timeout,
    /// The connection dropped before the reply; the request may or may not
    /// have been applied (code 201).
    #[error("connection lost before the reply")]
    ConnectionLost,
    /// The client is disconnected or closed (code 202). `close` is the close
    /// code that ended the connection, when one did.
    #[error("client is not connected: {reason}")]
    Closed {
        /// The reason, as the client knows it.
        reason: String,
        /// The close code and reason that ended the connection, if any.
        close: Option<crate::types::CloseReason>,
    },
    /// Requests made while reconnecting exceed the bounded queue (code 203).
    #[error("reconnect queue is full")]
    QueueFull,
    /// This client already has a subscription to the channel (code 204).
    #[error("{reason}")]
    DuplicateSubscription {
        /// Which channel, in words.
        reason: String,
    },
    /// The channel name breaks the grammar (code 205).
    #[error("{reason}")]
    InvalidChannel {
        /// What is wrong with the name.
        reason: String,
    },
    /// The SDK's runtime is gone or could not start (the process is ending).
    #[error("the SDK runtime failed: {reason}")]
    Runtime {
        /// The error text of the runtime or of the stopped client task, for logs.
        reason: String,
    },
    /// A root certificate given in the options is not a PEM certificate.
    #[error("invalid root certificate: {reason}")]
    InvalidCertificate {
        /// What is wrong with it.
        reason: String,
    },
    /// An option or argument that cannot work (a URL that is not `ws://` or
    /// `wss://`, a minimum reconnect delay above the maximum, a zero or
    /// negative timeout, a negative limit).
    #[error("invalid argument: {reason}")]
    InvalidArgument {
        /// What is wrong with them.
        reason: String,
    },
    /// The app's token source failed.
    #[error("the token source failed: {reason}")]
    TokenSource {
        /// What the app reported.
        reason: String,
    },
}

impl ChorusError {
    /// Converts a client error; `close` is the client's last close reason, for `Closed`.
    pub(crate) fn from_client(e: ClientError, close: Option<crate::types::CloseReason>) -> Self {
        match e {
            ClientError::Server(e) => ChorusError::Server {
                code: e.code.0.into(),
                reason: e.message,
                temporary: e.temporary,
            },
            ClientError::Timeout => ChorusError::Timeout,
            ClientError::ConnectionLost => ChorusError::ConnectionLost,
            ClientError::Closed(reason) => ChorusError::Closed { reason, close },
            ClientError::QueueFull => ChorusError::QueueFull,
            ClientError::DuplicateSubscription(reason) => {
                ChorusError::DuplicateSubscription { reason }
            }
            ClientError::InvalidChannel(reason) => ChorusError::InvalidChannel { reason },
            ClientError::Stopped => ChorusError::Runtime {
                reason: ClientError::Stopped.to_string(),
            },
            ClientError::Config(e) => ChorusError::InvalidArgument {
                reason: e.to_string(),
            },
        }
    }
}

/// A listener or token source that threw something other than a `ChorusError`.
impl From<uniffi::UnexpectedUniFFICallbackError> for ChorusError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        ChorusError::TokenSource { reason: e.reason }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chorus_protocol::ErrorCode;
    use chorus_protocol::message::Error;

    #[test]
    fn every_client_error_keeps_its_meaning() {
        let server = ClientError::Server(Error {
            code: ErrorCode(1042),
            message: "app says no".into(),
            temporary: true,
        });
        assert_eq!(
            ChorusError::from_client(server, None),
            ChorusError::Server {
                code: 1042,
                reason: "app says no".into(),
                temporary: true
            }
        );
        // Local codes of the protocol table arrive as their own variants.
        for row in chorus_protocol::codes::ERROR_CODES
            .iter()
            .filter(|r| r.origin == "client")
        {
            let e = ClientError::from(Error::new(ErrorCode(row.code), "detail"));
            let mapped = ChorusError::from_client(e, None);
            assert!(
                !matches!(mapped, ChorusError::Server { .. }),
                "{row:?} -> {mapped:?}"
            );
        }
        let close = crate::types::CloseReason {
            code: 4500,
            name: "unauthorized".into(),
            reason: "bad token".into(),
            reconnect: false,
        };
        assert_eq!(
            ChorusError::from_client(
                ClientError::Closed("4500: bad token".into()),
                Some(close.clone())
            ),
            ChorusError::Closed {
                reason: "4500: bad token".into(),
                close: Some(close)
            }
        );
    }
}
