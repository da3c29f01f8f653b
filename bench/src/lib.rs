//! Load generator for Chorus, measured side by side with Centrifugo.
//!
//! Work in progress: see the repository README for status.
