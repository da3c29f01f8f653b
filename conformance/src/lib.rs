//! Conformance suite that checks any Chorus server against the protocol, plus the
//! shared test vectors read by every SDK's tests.
//!
//! * [`suite`]: scenarios run against a live server over WebSocket (the
//!   `chorus-conformance` binary is a command-line front end to it);
//! * [`vectors`]: the generator of the language-neutral test vectors in
//!   `conformance/vectors/` (format described in `conformance/vectors/README.md`).
//!   Regenerate them with `cargo run -p chorus-conformance --bin gen-vectors`.

pub mod suite;
pub mod vectors;
