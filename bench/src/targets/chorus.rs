//! Chorus: the release `chorus` binary, spoken to in `chorus.v1.json`
//! (commands written by the protocol crate's codec, server frames read with a
//! minimal borrowed parse, as the Centrifugo dialect's).
//!
//! The configuration opens one namespace, `bench`, to anonymous clients for
//! subscribing and publishing, without history (as Centrifugo's namespace).
//! Limits made for chat clients are raised for a load generator, which sends
//! many more commands per connection than a person does:
//!
//! | option | value | why |
//! | --- | --- | --- |
//! | `limits.rate_per_second`, `rate_burst` | 1,000,000 | the rooms publishers send several commands per second each, the fanout publisher thousands |
//! | `limits.max_connections_per_user` | 0 (none) | for completeness: anonymous connections are not counted anyway |
//! | `limits.outbound_queue` | 8192 frames | about the 1 MiB per-connection queue Centrifugo allows by default, at the benchmark's ~100-byte frames |
//!
//! Everything else keeps its default (25 s pings, 64 KiB messages, 128
//! channels per connection).

use std::borrow::Cow;
use std::net::SocketAddr;
use std::path::Path;

use chorus_protocol::codec::JSON_SUBPROTOCOL;
use chorus_protocol::message::{ConnectRequest, PublishRequest, SubscribeRequest};
use chorus_protocol::{ClientFrame, Codec, Command, Payload, Request};
use serde::Deserialize;
use serde_json::value::RawValue;
use tokio::process::Command as Process;
use tokio_tungstenite::tungstenite::Message;

use super::{Dialect, ErrorBody, Event, Node, PublicationBody, write_config};
use crate::Result;

/// The namespace every benchmark channel lives in.
pub const NAMESPACE: &str = "bench";

/// The configuration file of one node.
pub fn config(addr: SocketAddr, nats: Option<&str>, prefix: &str) -> String {
    let mut text = format!("listen = \"{addr}\"\n");
    if let Some(url) = nats {
        text += &format!("nats = [\"{url}\"]\n");
    }
    text += &format!(
        r#"
[log]
level = "warn"

[limits]
rate_per_second = 1000000
rate_burst = 1000000
max_connections_per_user = 0
outbound_queue = 8192

[cluster]
prefix = "{prefix}"
storage = "memory"

[namespaces.{NAMESPACE}]
anonymous = true
subscribe = "any"
publish = "any"
"#
    );
    text
}

/// Starts a node listening on `addr`, with `settings` (`CHORUS_...`
/// environment variables) on top of its configuration file.
pub fn start(
    bin: &Path,
    settings: &[(String, String)],
    addr: SocketAddr,
    nats: Option<&str>,
    prefix: &str,
    work: &Path,
    name: &str,
) -> Result<Node> {
    let config_path = write_config(work, &format!("{name}.toml"), &config(addr, nats, prefix))?;
    let mut command = Process::new(bin);
    command.arg("--config").arg(config_path);
    // The bench's own environment must not reconfigure the server.
    for (key, _) in std::env::vars() {
        if key.starts_with("CHORUS_") {
            command.env_remove(key);
        }
    }
    command.envs(settings.iter().map(|(k, v)| (k, v)));
    Node::spawn(command, addr, work.join(format!("{name}.log")))
}

/// The `chorus.v1.json` protocol, through the `chorus-protocol` codec.
#[derive(Debug, Clone, Copy)]
pub struct ChorusJson;

impl ChorusJson {
    fn command(id: u64, request: Request) -> Message {
        let frame = ClientFrame::Command(Command { id, request });
        text(Codec::Json.encode_client(&frame))
    }
}

fn text(encoded: Result<Vec<u8>, chorus_protocol::EncodeError>) -> Message {
    let bytes = encoded.expect("benchmark commands always encode");
    Message::text(String::from_utf8(bytes).expect("the JSON codec writes UTF-8"))
}

impl Dialect for ChorusJson {
    fn path(&self) -> &'static str {
        "/ws"
    }

    fn subprotocol(&self) -> Option<&'static str> {
        Some(JSON_SUBPROTOCOL)
    }

    fn connect(&self, id: u64) -> Message {
        ChorusJson::command(
            id,
            Request::Connect(ConnectRequest {
                name: Some("chorus-bench".to_owned()),
                ..ConnectRequest::default()
            }),
        )
    }

    fn subscribe(&self, id: u64, channel: &str) -> Message {
        ChorusJson::command(
            id,
            Request::Subscribe(SubscribeRequest {
                channel: channel.to_owned(),
                ..SubscribeRequest::default()
            }),
        )
    }

    fn publish(&self, id: u64, channel: &str, data: &[u8]) -> Message {
        ChorusJson::command(
            id,
            Request::Publish(PublishRequest {
                channel: channel.to_owned(),
                data: Payload::new(data.to_vec()),
                idempotency_key: None,
            }),
        )
    }

    fn pong(&self) -> Message {
        text(Codec::Json.encode_client(&ClientFrame::Pong))
    }

    fn decode(&self, message: &[u8], on: &mut dyn FnMut(Event)) -> Result<()> {
        let frame: Frame = serde_json::from_slice(message)?;
        let event = match frame {
            Frame {
                error: Some(e), id, ..
            } => e.reply(id),
            Frame { id, .. } if id > 0 => Event::Reply { id, error: None },
            Frame {
                publication: Some(publication),
                ..
            } => publication.event(),
            Frame { ping: Some(_), .. } => Event::Ping,
            Frame {
                disconnect: Some(d),
                ..
            } => Event::Disconnect(format!("{} {}", d.code, d.reason)),
            _ => Event::Other,
        };
        on(event);
        Ok(())
    }
}

/// The fields of a server frame the benchmark reads, borrowed from the
/// message; unknown ones are skipped. The same kind of parse as the
/// Centrifugo dialect's, so the load generator spends alike on both servers
/// (the protocol crate's decoder builds every field of the frame).
#[derive(Debug, Deserialize)]
struct Frame<'a> {
    #[serde(default)]
    id: u64,
    #[serde(borrow, default)]
    error: Option<ErrorBody<'a>>,
    #[serde(borrow, default)]
    publication: Option<PublicationBody<'a>>,
    #[serde(borrow, default)]
    ping: Option<&'a RawValue>,
    #[serde(borrow, default)]
    disconnect: Option<DisconnectBody<'a>>,
}

#[derive(Debug, Deserialize)]
struct DisconnectBody<'a> {
    code: u16,
    #[serde(borrow, default)]
    reason: Cow<'a, str>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_one(frame: &str) -> Event {
        let mut events = Vec::new();
        ChorusJson
            .decode(frame.as_bytes(), &mut |e| events.push(e))
            .unwrap();
        assert_eq!(events.len(), 1);
        events.pop().unwrap()
    }

    #[test]
    fn writes_commands() {
        assert_eq!(
            ChorusJson.subscribe(2, "bench:a").to_text().unwrap(),
            r#"{"id":2,"subscribe":{"channel":"bench:a"}}"#
        );
        assert_eq!(
            ChorusJson
                .publish(3, "bench:a", b"{\"t\":1}")
                .to_text()
                .unwrap(),
            r#"{"id":3,"publish":{"channel":"bench:a","data":{"t":1}}}"#
        );
        assert_eq!(ChorusJson.pong().to_text().unwrap(), r#"{"pong":{}}"#);
    }

    #[test]
    fn reads_frames() {
        assert_eq!(
            decode_one(
                r#"{"id":1,"connect":{"client":"c","user":"","version":"chorus 0.1.0","ping_interval_ms":25000,"pong":true}}"#
            ),
            Event::Reply { id: 1, error: None }
        );
        assert!(matches!(
            decode_one(r#"{"id":2,"error":{"code":103,"message":"permission denied"}}"#),
            Event::Reply {
                id: 2,
                error: Some(_)
            }
        ));
        assert_eq!(
            decode_one(r#"{"publication":{"channel":"bench:a","data":{"t":42,"s":1,"p":""}}}"#),
            Event::Publication { sent_at: Some(42) }
        );
        assert_eq!(decode_one(r#"{"ping":{}}"#), Event::Ping);
        assert_eq!(
            decode_one(
                r#"{"disconnect":{"code":4005,"reason":"slow \"consumer\"","reconnect":true}}"#
            ),
            Event::Disconnect("4005 slow \"consumer\"".to_owned())
        );
        assert_eq!(
            decode_one(r#"{"join":{"channel":"bench:a","info":{"client":"c","user":""}}}"#),
            Event::Other
        );
    }

    #[test]
    fn config_names_the_namespace_and_nats() {
        let addr: SocketAddr = "127.0.0.1:9000".parse().unwrap();
        let single = config(addr, None, "bench1");
        assert!(single.contains("listen = \"127.0.0.1:9000\""));
        assert!(single.contains("[namespaces.bench]"));
        assert!(!single.contains("nats ="));
        let cluster = config(addr, Some("nats://127.0.0.1:4222"), "bench1");
        assert!(cluster.contains("nats = [\"nats://127.0.0.1:4222\"]"));
    }
}
