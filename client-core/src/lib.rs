//! The Chorus client for Rust services: drives the protocol crate's state machine over tokio-tungstenite.
//!
//! Work in progress: see the repository README for status.
