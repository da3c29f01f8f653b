//! JWT verification for connections, secure by default.
//!
//! A client proves who it is with a JSON Web Token in its `connect` command (and
//! later in `refresh`). [`Verifier`] checks the token against the keys of the
//! `[auth]` config table and returns its [`Claims`]: the user id (`sub`), the
//! expiry (`exp`) and the channel grants the connection layer enforces.
//!
//! What "secure by default" means here:
//!
//! * Only HS256, RS256 and ES256 are accepted, and each algorithm is verified
//!   only with the one key configured for it. The `alg` header merely selects
//!   that key; it can never make the server verify an RS256 token with the HMAC
//!   secret (the classic algorithm-confusion attack) or accept `alg: none`.
//!   Keys are never taken from the token (`jwk`, `jku`, `x5u` headers are ignored).
//! * `exp` and a non-empty `sub` are required; `nbf` is checked when present;
//!   `aud` and `iss` must match when configured (and are then required).
//! * Weak or misplaced key material is refused at startup, naming the option:
//!   HMAC secrets shorter than [`MIN_HMAC_SECRET_LEN`] bytes, RSA keys under
//!   [`MIN_RSA_BITS`] bits, private keys pasted where a public key belongs, and
//!   curves other than P-256 for ES256.
//! * A forged token is never reported as expired: the signature is checked
//!   before any claim, so only genuine tokens can trigger a client's refresh.
//!
//! Layout: the `[auth]` table and its limits (`config`), what a token carries
//! (`claims`), checking a token (`verifier`), turning key text into keys
//! (`keys`), and signing tokens ([`mint`]). Which channels a grant admits is
//! decided in the crate's `permissions` module (`grant_matches`).

mod claims;
mod config;
#[cfg(test)]
mod fixtures;
mod keys;
pub mod mint;
mod verifier;

pub use claims::Claims;
pub use config::{
    AuthConfig, AuthConfigError, DEFAULT_LEEWAY_SECS, MAX_LEEWAY_SECS, MIN_HMAC_SECRET_LEN,
    MIN_RSA_BITS,
};
pub use verifier::{AuthError, Verifier};
