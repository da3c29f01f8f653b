//! What can go wrong in a broker, by kind, with the underlying error kept as
//! the source. Every kind reaches a client as the same temporary error 100:
//! the kind and the detail are for the node's log, written by the caller that
//! decides the failure ends a request (a conversion never logs).

use std::sync::Arc;

use thiserror::Error;

/// The underlying error of a broker failure, shared: one failed commit
/// answers every publish of its batch with the same error.
pub(crate) type Source = Arc<dyn std::error::Error + Send + Sync>;

/// Anything a source can be made of: an error, or a message.
type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A broker failure (the client gets error 100, temporary).
#[derive(Debug, Clone, Error)]
pub enum BrokerError {
    /// NATS could not be reached or dropped the request: connecting, a core
    /// publish or subscription, a direct read's request.
    #[error("broker: {what}: {source}")]
    Unavailable {
        /// What the node was doing, such as `subscribe`.
        what: String,
        /// The NATS client's error.
        source: Source,
    },
    /// No answer in time: a request, a stream leader, or replicas that stay
    /// behind the sequence a read must reflect.
    #[error("broker: {0}")]
    Timeout(String),
    /// JetStream refused or failed an operation on a stream or bucket.
    #[error("broker: {what}: {source}")]
    Storage {
        /// The operation, such as `presence put`.
        what: String,
        /// JetStream's answer.
        source: Source,
    },
    /// JetStream cannot reserve the storage a stream or bucket asks for: no
    /// retry can fix it, the options or the NATS servers must change.
    #[error("broker: {what}: {source}: {hint}")]
    InsufficientStorage {
        /// The stream or bucket being created.
        what: String,
        /// JetStream's refusal.
        source: Source,
        /// What to change.
        hint: String,
    },
    /// A value could not be encoded for NATS.
    #[error("broker: {what}: {source}")]
    Encode {
        /// What was encoded, such as `presence encode`.
        what: String,
        /// The encoder's error.
        source: Source,
    },
    /// What JetStream holds or answers is not what this node wrote or asked
    /// for (a stored message gone, without offset, not a publication).
    #[error("broker: {0}")]
    Inconsistent(String),
    /// The cluster options do not work with NATS (a URL that does not parse).
    #[error("broker: {what}: {source}")]
    Config {
        /// The option at fault.
        what: String,
        /// The NATS client's parse error.
        source: Source,
    },
    /// The node's own machinery failed: a history writer ended without
    /// answering, or state it relies on is missing.
    #[error("broker: {0}")]
    Internal(String),
}

impl BrokerError {
    /// NATS could not be reached while doing `what`.
    pub(crate) fn unavailable(what: impl Into<String>, source: impl Into<BoxError>) -> Self {
        BrokerError::Unavailable {
            what: what.into(),
            source: Arc::from(source.into()),
        }
    }

    /// JetStream refused or failed `what`.
    pub(crate) fn storage(what: impl Into<String>, source: impl Into<BoxError>) -> Self {
        BrokerError::Storage {
            what: what.into(),
            source: Arc::from(source.into()),
        }
    }

    /// JetStream cannot reserve the storage `what` asks for; `hint` says
    /// what to change.
    pub(crate) fn insufficient_storage(
        what: impl Into<String>,
        source: impl Into<BoxError>,
        hint: impl Into<String>,
    ) -> Self {
        BrokerError::InsufficientStorage {
            what: what.into(),
            source: Arc::from(source.into()),
            hint: hint.into(),
        }
    }

    /// Encoding `what` failed.
    pub(crate) fn encode(what: impl Into<String>, source: impl Into<BoxError>) -> Self {
        BrokerError::Encode {
            what: what.into(),
            source: Arc::from(source.into()),
        }
    }

    /// The option `what` does not work with NATS.
    pub(crate) fn config(what: impl Into<String>, source: impl Into<BoxError>) -> Self {
        BrokerError::Config {
            what: what.into(),
            source: Arc::from(source.into()),
        }
    }
}

impl From<BrokerError> for chorus_protocol::message::Error {
    /// Clients see a temporary internal error whatever the kind; the detail is
    /// for the log, which the caller writes with what it was doing.
    fn from(_: BrokerError) -> Self {
        chorus_protocol::message::Error::new(
            chorus_protocol::ErrorCode::INTERNAL,
            "temporary failure, retry",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_a_temporary_error_100_without_detail() {
        let kinds = [
            BrokerError::unavailable("subscribe", "connection closed"),
            BrokerError::Timeout("direct get: timed out".into()),
            BrokerError::storage("presence put", "no space"),
            BrokerError::insufficient_storage("history stream", "code 10047", "give it more"),
            BrokerError::encode("encode", "too deep"),
            BrokerError::Inconsistent("stored message 3 is gone".into()),
            BrokerError::config("NATS URL", "bad port"),
            BrokerError::Internal("history publish abandoned".into()),
        ];
        for kind in kinds {
            let e = chorus_protocol::message::Error::from(kind.clone());
            assert_eq!(e.code, chorus_protocol::ErrorCode::INTERNAL, "{kind}");
            assert_eq!(e.message, "temporary failure, retry");
            assert!(e.temporary, "{kind}");
        }
    }

    #[test]
    fn the_message_names_the_operation_and_keeps_the_source() {
        let e = BrokerError::storage("registry put", "timed out");
        assert_eq!(e.to_string(), "broker: registry put: timed out");
        let source = std::error::Error::source(&e).map(ToString::to_string);
        assert_eq!(source.as_deref(), Some("timed out"));
    }
}
