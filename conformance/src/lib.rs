//! Conformance suite that checks any Chorus server against the protocol, plus the
//! shared test vectors read by every SDK's tests.
//!
//! The suite that runs against a live server is not written yet. What exists is
//! [`vectors`]: the generator of the language-neutral test vectors in
//! `conformance/vectors/` (format described in `conformance/vectors/README.md`).
//! Regenerate them with `cargo run -p chorus-conformance --bin gen-vectors`.

pub mod vectors;
