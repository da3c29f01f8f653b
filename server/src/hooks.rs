//! Hooks: how a program embedding Chorus takes part in decisions.
//!
//! Every method has a default that accepts, so an embedder overrides only what it
//! needs. Hooks run on the connection's task: a slow hook slows that connection
//! only. Returning an [`Error`] refuses the operation with that error (codes
//! 1000..=1999 are free for applications).

use chorus_protocol::message::{ClientInfo, Error};
use chorus_protocol::{CloseCode, ErrorCode, Payload};

use crate::auth::Claims;
use crate::broker::BoxFuture;

/// What `on_connect` sees.
#[derive(Debug, Clone)]
pub struct ConnectContext {
    /// The connection id the connect reply will carry (`<node id>-<n>`, unique across the cluster).
    pub client: String,
    /// The user id from the token (`""` when anonymous).
    pub user: String,
    /// The verified claims, when a token was given.
    pub claims: Option<Claims>,
    /// Data the client sent with `connect`.
    pub data: Option<Payload>,
    /// Client library name and version, as the client reported them.
    pub client_name: Option<String>,
}

/// What `on_connect` may attach to the connection.
#[derive(Debug, Clone, Default)]
pub struct ConnectDecision {
    /// Connection info shown to others in presence, joins and publications
    /// (replaces the token's `info` claim when set).
    pub info: Option<Payload>,
    /// Data returned to the client in the connect reply.
    pub data: Option<Payload>,
}

/// Server-side decision points.
pub trait Hooks: Send + Sync + 'static {
    /// A client authenticated; refuse it, or attach info.
    fn on_connect<'a>(
        &'a self,
        ctx: &'a ConnectContext,
    ) -> BoxFuture<'a, Result<ConnectDecision, Error>> {
        let _ = ctx;
        Box::pin(async { Ok(ConnectDecision::default()) })
    }

    /// A client passed the namespace's checks for a channel; refuse it, or return
    /// data for the subscribe reply.
    fn on_subscribe<'a>(
        &'a self,
        client: &'a ClientInfo,
        channel: &'a str,
        data: Option<&'a Payload>,
    ) -> BoxFuture<'a, Result<Option<Payload>, Error>> {
        let _ = (client, channel, data);
        Box::pin(async { Ok(None) })
    }

    /// A client publishes; refuse it, or return the data to publish (possibly changed).
    fn on_publish<'a>(
        &'a self,
        client: &'a ClientInfo,
        channel: &'a str,
        data: Payload,
    ) -> BoxFuture<'a, Result<Payload, Error>> {
        let _ = (client, channel);
        Box::pin(async move { Ok(data) })
    }

    /// A client called `rpc`. Without this hook, rpc answers `not_available`.
    fn on_rpc<'a>(
        &'a self,
        client: &'a ClientInfo,
        method: &'a str,
        data: Payload,
    ) -> BoxFuture<'a, Result<Payload, Error>> {
        let _ = (client, data);
        Box::pin(async move {
            Err(Error::new(
                ErrorCode::NOT_AVAILABLE,
                format!("no rpc handler for {method:?}"),
            ))
        })
    }

    /// A connection ended (after its subscriptions were removed).
    fn on_disconnect(&self, client: &ClientInfo, code: CloseCode) {
        let _ = (client, code);
    }
}

/// The hooks of a server that embeds nothing: accept everything, no rpc.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHooks;

impl Hooks for NoHooks {}
