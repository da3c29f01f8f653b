//! What travels between nodes: pushes encoded once as MessagePack server frames
//! (the bytes a MessagePack client receives, reused as they are), and control
//! messages as JSON.

use bytes::Bytes;
use chorus_protocol::{CloseCode, Codec, Push, ServerFrame};
use serde::{Deserialize, Serialize};

use crate::broker::BrokerError;

/// Encodes a push for other nodes.
pub(super) fn encode_push(push: Push) -> Result<(Bytes, ServerFrame), BrokerError> {
    let frame = ServerFrame::Push(push);
    let bytes = Codec::MessagePack
        .encode_server(&frame)
        .map_err(|e| BrokerError::encode("encode", e))?;
    Ok((bytes.into(), frame))
}

/// Decodes a push from another node (`None`, logged, for anything else).
pub(super) fn decode_push(bytes: &[u8]) -> Option<Push> {
    match Codec::MessagePack.decode_server(bytes) {
        Ok(ServerFrame::Push(push)) => Some(push),
        Ok(_) => {
            tracing::warn!("cluster message is not a push; ignored");
            None
        }
        Err(e) => {
            tracing::warn!(error = %e, "undecodable cluster message; ignored");
            None
        }
    }
}

/// A cross-node action, sent as JSON on the control subject and applied by every node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum Control {
    /// Close every connection of a user.
    CloseUser {
        /// User id (the token's `sub`) whose connections every node closes.
        user: String,
        /// Close code of the `disconnect` push and the WebSocket close (4506 `kicked`, 4005
        /// `force_reconnect`...).
        code: u16,
        /// Reason for the push and the close frame (the frame's copy truncated to 123 bytes).
        reason: String,
    },
    /// Close one connection.
    CloseClient {
        /// Connection id (`<node id>-<n>`): only the node holding it acts.
        client: String,
        /// Close code of the `disconnect` push and the WebSocket close.
        code: u16,
        /// Reason for the push and the close frame (the frame's copy truncated to 123 bytes).
        reason: String,
    },
    /// Close the connections holding revoked tokens.
    Revoke(crate::revocation::Revocation),
}

impl Control {
    /// The close code it asks for.
    pub(super) fn code(&self) -> CloseCode {
        match self {
            Control::CloseUser { code, .. } | Control::CloseClient { code, .. } => CloseCode(*code),
            Control::Revoke(_) => CloseCode::TOKEN_REVOKED,
        }
    }
}
