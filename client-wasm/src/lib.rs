//! wasm-bindgen binding of the Chorus client for browsers: web-sys WebSocket plus the protocol crate's state machine; conversions only.
//!
//! Work in progress: see the repository README for status.
