//! The Chorus reference server: WebSocket + HTTP on tokio, in-memory and NATS brokers, history, presence, auth, limits, server API, metrics, and an embedding SDK.
//!
//! Work in progress: see the repository README for status.
