//! Keeps docs/protocol.md in step with the crate: the code tables, the operation
//! keys, and every example frame in it.
//!
//! * Every row of [`ERROR_CODES`] and [`CLOSE_CODES`] appears as a table line,
//!   exactly as generated from `codes.rs`, and the connect-error -> close-code
//!   mapping matches [`CloseCode::for_connect_error`].
//! * Every command, reply and push key (plus `pong` and `error`) appears in backticks.
//! * Every example line in a fenced block that starts with `> {` (client frame) or
//!   `< {` (server frame) decodes with the JSON codec and re-encodes byte for byte,
//!   and every operation has at least one such example; lines starting with `>! {`
//!   (deliberately invalid client frames) must fail to decode.

use std::collections::BTreeSet;

use chorus_protocol::codec::{JSON_SUBPROTOCOL, MSGPACK_SUBPROTOCOL};
use chorus_protocol::codes::{CLOSE_CODES, CodeInfo, ERROR_CODES};
use chorus_protocol::{
    ClientFrame, CloseCode, Codec, ErrorCode, Push, ReplyBody, Request, ServerFrame,
};

fn spec() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/protocol.md");
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

/// The table line a code row must appear as.
fn row_line(row: &CodeInfo) -> String {
    format!(
        "| {} | `{}` | {} | {} | {} |",
        row.code,
        row.name,
        yes_no(row.temporary),
        row.origin,
        row.description
    )
}

/// Cells of a Markdown table line, trimmed.
fn cells(line: &str) -> Vec<&str> {
    line.trim()
        .trim_matches('|')
        .split('|')
        .map(str::trim)
        .collect()
}

#[test]
fn every_code_row_is_in_a_table() {
    let doc = spec();
    let lines: Vec<&str> = doc.lines().map(str::trim).collect();
    let mut missing = Vec::new();
    for row in ERROR_CODES.iter().chain(CLOSE_CODES) {
        let code = row.code.to_string();
        let name = format!("`{}`", row.name);
        let same_line = lines.iter().filter(|l| l.starts_with('|')).any(|l| {
            let c = cells(l);
            c.first() == Some(&code.as_str()) && c.get(1) == Some(&name.as_str())
        });
        let expected = row_line(row);
        if !same_line || !lines.contains(&expected.as_str()) {
            missing.push(expected);
        }
    }
    assert!(
        missing.is_empty(),
        "docs/protocol.md lacks these code rows (generated from codes.rs):\n{}",
        missing.join("\n")
    );
}

#[test]
fn connect_error_close_mapping_matches() {
    let doc = spec();
    let mut missing = Vec::new();
    for row in ERROR_CODES.iter().filter(|r| r.origin == "server") {
        let close = CloseCode::for_connect_error(ErrorCode(row.code));
        let line = format!(
            "| {} `{}` | {} `{}` |",
            row.code,
            row.name,
            close.0,
            close.name()
        );
        if !doc.lines().any(|l| l.trim() == line) {
            missing.push(line);
        }
    }
    assert!(
        missing.is_empty(),
        "docs/protocol.md lacks these connect-error mappings:\n{}",
        missing.join("\n")
    );
}

#[test]
fn every_key_is_named() {
    let doc = spec();
    let keys = Request::KEYS
        .iter()
        .chain(ReplyBody::KEYS)
        .chain(Push::KEYS)
        .chain(&["pong", "error", JSON_SUBPROTOCOL, MSGPACK_SUBPROTOCOL]);
    let missing: Vec<_> = keys.filter(|k| !doc.contains(&format!("`{k}`"))).collect();
    assert!(
        missing.is_empty(),
        "docs/protocol.md never names these in backticks: {missing:?}"
    );
}

#[test]
fn example_frames_decode_and_reencode() {
    let doc = spec();
    let codec = Codec::Json;
    let mut in_fence = false;
    let mut errors = Vec::new();
    let mut seen_client = BTreeSet::new();
    let mut seen_server = BTreeSet::new();
    let mut checked = 0;
    for (n, line) in doc.lines().enumerate() {
        let n = n + 1;
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
            continue;
        }
        if !in_fence {
            continue;
        }
        if let Some(text) = line.strip_prefix(">! {").map(|_| &line[3..]) {
            if codec.decode_client(text.as_bytes()).is_ok() {
                errors.push(format!("line {n}: marked invalid but decodes"));
            }
        } else if let Some(text) = line.strip_prefix("> {").map(|_| &line[2..]) {
            checked += 1;
            match codec.decode_client(text.as_bytes()) {
                Ok(frame) => {
                    let again = codec.encode_client(&frame).expect("encodes");
                    if again != text.as_bytes() {
                        errors.push(format!(
                            "line {n}: re-encodes as {}",
                            String::from_utf8_lossy(&again)
                        ));
                    }
                    seen_client.insert(match &frame {
                        ClientFrame::Command(c) => c.request.key(),
                        ClientFrame::Pong => "pong",
                    });
                }
                Err(e) => errors.push(format!("line {n}: not a client frame: {e}")),
            }
        } else if let Some(text) = line.strip_prefix("< {").map(|_| &line[2..]) {
            checked += 1;
            match codec.decode_server(text.as_bytes()) {
                Ok(frame) => {
                    let again = codec.encode_server(&frame).expect("encodes");
                    if again != text.as_bytes() {
                        errors.push(format!(
                            "line {n}: re-encodes as {}",
                            String::from_utf8_lossy(&again)
                        ));
                    }
                    seen_server.insert(match &frame {
                        ServerFrame::Reply(r) => match &r.result {
                            Ok(body) => format!("reply {}", body.key()),
                            Err(_) => "reply error".to_owned(),
                        },
                        ServerFrame::Push(p) => format!("push {}", p.key()),
                    });
                }
                Err(e) => errors.push(format!("line {n}: not a server frame: {e}")),
            }
        }
    }
    assert!(
        errors.is_empty(),
        "bad example frames:\n{}",
        errors.join("\n")
    );
    assert!(checked >= 40, "only {checked} example frames found");

    let missing_client: Vec<_> = Request::KEYS
        .iter()
        .chain(&["pong"])
        .filter(|k| !seen_client.contains(*k))
        .collect();
    let missing_server: Vec<_> = ReplyBody::KEYS
        .iter()
        .map(|k| format!("reply {k}"))
        .chain(Push::KEYS.iter().map(|k| format!("push {k}")))
        .chain(["reply error".to_owned()])
        .filter(|k| !seen_server.contains(k))
        .collect();
    assert!(
        missing_client.is_empty() && missing_server.is_empty(),
        "operations without an example: client {missing_client:?}, server {missing_server:?}"
    );
}
