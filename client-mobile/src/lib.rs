//! UniFFI binding of the Chorus client for Swift and Kotlin; conversions only.
//!
//! Work in progress: see the repository README for status.
