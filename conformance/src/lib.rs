//! Conformance suite that checks any Chorus server against the protocol, plus the shared test vectors read by every SDK's tests.
//!
//! Work in progress: see the repository README for status.
