//! Publication payloads that carry their send time.
//!
//! The publisher and every subscriber live in this one process, so they share
//! one monotonic clock: a payload records the time it was sent in nanoseconds
//! since the clock's start, and the receiver subtracts. The payload is a small
//! JSON object, `{"t":<ns>,"s":<seq>,"p":"xxxx"}`, that both servers carry
//! verbatim in their JSON protocols; `p` pads it to the configured size.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

const PREFIX: &[u8] = b"{\"t\":";

/// Nanoseconds since the process-wide benchmark clock started.
pub fn now_ns() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

/// A payload stamped with the current time, sequence number `seq`, padded
/// with `pad` bytes.
pub fn stamped(seq: u64, pad: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(48 + pad);
    out.extend_from_slice(PREFIX);
    out.extend_from_slice(now_ns().to_string().as_bytes());
    out.extend_from_slice(b",\"s\":");
    out.extend_from_slice(seq.to_string().as_bytes());
    out.extend_from_slice(b",\"p\":\"");
    out.resize(out.len() + pad, b'x');
    out.extend_from_slice(b"\"}");
    out
}

/// The send time of a payload made by [`stamped`], in [`now_ns`] units.
pub fn sent_at(data: &[u8]) -> Option<u64> {
    let digits = data.strip_prefix(PREFIX)?;
    let end = digits
        .iter()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(digits.len());
    std::str::from_utf8(&digits[..end]).ok()?.parse().ok()
}

/// Time from `sent` (a [`sent_at`] value) until now.
pub fn age(sent: u64) -> Duration {
    Duration::from_nanos(now_ns().saturating_sub(sent))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_round_trip() {
        let before = now_ns();
        let data = stamped(7, 10);
        let sent = sent_at(&data).unwrap();
        assert!(sent >= before);
        let value: serde_json::Value = serde_json::from_slice(&data).unwrap();
        assert_eq!(value["s"], 7);
        assert_eq!(value["p"], "xxxxxxxxxx");
        assert!(age(sent) < Duration::from_secs(5));
    }

    #[test]
    fn foreign_payloads_have_no_stamp() {
        assert_eq!(sent_at(b"{\"text\":\"hi\"}"), None);
        assert_eq!(sent_at(b""), None);
    }
}
