//! Every subject, stream and bucket name the cluster uses, derived from the
//! configured prefix `P`. Channel names and user ids become one NATS-safe token
//! each ([`chorus_protocol::subject::encode_token`]), so a hostile name can
//! never widen or redirect a subscription.
//!
//! | name | what |
//! | --- | --- |
//! | `P.ch.<channel>` | live traffic of a channel: publications, joins, leaves |
//! | `P.hist.<channel>` | publications of history channels, stored by stream `P_history`, which republishes each stored one on `P.ch.<channel>`, in stream order |
//! | `P.user.<user>` | messages to every connection of a user |
//! | `P.broadcast` | messages to every connection |
//! | `P.ctl` | cross-node actions (close a user's or a client's connections) |
//! | bucket `P_presence` | key `<channel>.<node>`: that node's members of the channel |
//! | bucket `P_nodes` | key `<node>`: the node's status, refreshed while it lives |
//! | bucket `P_idem` | idempotency keys of channels without history |
//! | bucket `P_seen` | key `<user>`: when the user was last online (Unix ms) |
//! | bucket `P_revoked` | revocations (`t.<jti>`, `u.<user>`), each expiring with the tokens it covers |

use chorus_protocol::subject::{channel_subject, encode_token, user_subject};

/// Every NATS name of one system, derived from `cluster.prefix`: nodes with the same prefix
/// form one system.
#[derive(Debug, Clone)]
pub struct Names {
    prefix: String,
}

impl Names {
    /// Names under `prefix` (validated by the configuration).
    pub fn new(prefix: &str) -> Self {
        Names {
            prefix: prefix.to_owned(),
        }
    }

    /// `P.ch.<channel>`: a channel's live publications, joins and leaves.
    pub fn channel(&self, channel: &str) -> String {
        channel_subject(&self.prefix, channel)
    }

    /// Subject a history channel is published to (and stored under).
    pub fn history(&self, channel: &str) -> String {
        format!("{}.hist.{}", self.prefix, encode_token(channel))
    }

    /// `P.hist.>`: the subjects of every history channel, which the history stream stores.
    pub fn history_all(&self) -> String {
        format!("{}.hist.>", self.prefix)
    }

    /// Where the history stream republishes what it stored.
    pub fn channel_all(&self) -> String {
        format!("{}.ch.>", self.prefix)
    }

    /// `P.user.<user>`: messages to every connection of a user, on any node.
    pub fn user(&self, user: &str) -> String {
        user_subject(&self.prefix, user)
    }

    /// `P.broadcast`: messages to every connection on every node.
    pub fn broadcast(&self) -> String {
        format!("{}.broadcast", self.prefix)
    }

    /// `P.ctl`: cross-node actions (closing a user's or a client's connections, revocations).
    pub fn control(&self) -> String {
        format!("{}.ctl", self.prefix)
    }

    /// `P_history`: the stream storing history channels' publications and users' inboxes.
    pub fn history_stream(&self) -> String {
        format!("{}_history", self.prefix)
    }

    /// `P_presence`: one entry per channel and node, holding that node's members.
    pub fn presence_bucket(&self) -> String {
        format!("{}_presence", self.prefix)
    }

    /// Key of one node's members of a channel.
    pub fn presence_key(&self, channel: &str, node: &str) -> String {
        format!("{}.{}", encode_token(channel), encode_token(node))
    }

    /// The stream subject of one node's members of a channel.
    pub fn presence_subject(&self, channel: &str, node: &str) -> String {
        format!(
            "$KV.{}.{}",
            self.presence_bucket(),
            self.presence_key(channel, node)
        )
    }

    /// Filter of every node's members of a channel, as a subject of the bucket's stream.
    pub fn presence_filter(&self, channel: &str) -> String {
        format!("$KV.{}.{}.*", self.presence_bucket(), encode_token(channel))
    }

    /// `P_nodes`: the node registry, one entry per live node (its status).
    pub fn nodes_bucket(&self) -> String {
        format!("{}_nodes", self.prefix)
    }

    /// Filter of every registry entry, as a subject of the bucket's stream.
    pub fn nodes_filter(&self) -> String {
        format!("$KV.{}.*", self.nodes_bucket())
    }

    /// `P_revoked`: revocations, each expiring with the tokens it covers.
    pub fn revoked_bucket(&self) -> String {
        format!("{}_revoked", self.prefix)
    }

    /// Subject (in the revocation bucket's stream) of a revoked token id.
    pub fn revoked_token(&self, jti: &str) -> String {
        format!("$KV.{}.t.{}", self.revoked_bucket(), encode_token(jti))
    }

    /// Subject (in the revocation bucket's stream) of a user's revocation.
    pub fn revoked_user(&self, user: &str) -> String {
        format!("$KV.{}.u.{}", self.revoked_bucket(), encode_token(user))
    }

    /// `P_seen`: when each user was last online (Unix ms), keyed by user.
    pub fn seen_bucket(&self) -> String {
        format!("{}_seen", self.prefix)
    }

    /// The stream behind the last-seen bucket.
    pub fn seen_stream(&self) -> String {
        format!("KV_{}", self.seen_bucket())
    }

    /// Subject (in the last-seen bucket's stream) of a user.
    pub fn seen_user(&self, user: &str) -> String {
        format!("$KV.{}.{}", self.seen_bucket(), encode_token(user))
    }

    /// Filter of every presence entry of one node.
    pub fn presence_of_node(&self, node: &str) -> String {
        format!("$KV.{}.*.{}", self.presence_bucket(), encode_token(node))
    }

    /// `P_idem`: idempotency keys of channels without history (history channels use the
    /// stream's de-duplication).
    pub fn idempotency_bucket(&self) -> String {
        format!("{}_idem", self.prefix)
    }

    /// Key remembering one idempotency key of a channel (its digest).
    pub(crate) fn idempotency_key(&self, key: &crate::idempotency::KeyDigest) -> String {
        key.hex()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_names_stay_one_token() {
        let n = Names::new("p");
        for hostile in ["a.b", "*", ">", "a b", "x.>", ""] {
            for subject in [n.channel(hostile), n.history(hostile), n.user(hostile)] {
                assert_eq!(subject.split('.').count(), 3, "{subject}");
                assert!(!subject.contains(['*', '>', ' ']), "{subject}");
            }
            assert_eq!(n.presence_key(hostile, "node").split('.').count(), 2);
        }
        assert_eq!(n.presence_filter("chat:a"), "$KV.p_presence.chat_3Aa.*");
    }
}
