//! Centrifugo v6: the `centrifugo` binary, spoken to in its JSON protocol.
//!
//! The configuration allows anonymous connections without a token and opens
//! one namespace, `bench`, to anonymous subscribe and publish, without
//! history; everything else keeps Centrifugo's defaults (25 s pings, 1 MiB
//! client queue, 128 channels per connection). In cluster mode the nodes use
//! Centrifugo's NATS broker (`broker.type = "nats"`), which, like Chorus for
//! channels without history, is at-most-once NATS publish/subscribe.
//!
//! The JSON protocol at `/connection/websocket`: a command is
//! `{"id":1,"connect":{}}`, its reply `{"id":1,"connect":{...}}` or
//! `{"id":1,"error":{"code":103,"message":"..."}}`; a publication arrives as
//! `{"push":{"channel":"bench:a","pub":{"data":{...}}}}`; a ping is `{}`,
//! answered with `{}`. One WebSocket message may hold several of these frames,
//! one per line.

use std::net::SocketAddr;
use std::path::Path;

use serde::Deserialize;
use serde_json::json;
use serde_json::value::RawValue;
use tokio::process::Command;
use tokio_tungstenite::tungstenite::Message;

use super::{Dialect, ErrorBody, Event, Node, PublicationBody, write_config};
use crate::Result;

/// The namespace every benchmark channel lives in (the same as Chorus's).
pub const NAMESPACE: &str = super::chorus::NAMESPACE;

/// The configuration file of one node, in Centrifugo v6's JSON format.
pub fn config(addr: SocketAddr, nats: Option<&str>, prefix: &str) -> String {
    let mut config = json!({
        "http_server": { "address": addr.ip().to_string(), "port": addr.port() },
        "log": { "level": "error" },
        "client": {
            "allow_anonymous_connect_without_token": true,
            // Unused (all connections are anonymous) but keeps startup quiet.
            "token": { "hmac_secret_key": "chorus-bench-unused-secret-0123456789" }
        },
        "http_api": { "key": "chorus-bench-unused-api-key-0123456789" },
        "channel": {
            "namespaces": [{
                "name": NAMESPACE,
                "allow_subscribe_for_anonymous": true,
                "allow_subscribe_for_client": true,
                "allow_publish_for_anonymous": true,
                "allow_publish_for_client": true
            }]
        }
    });
    if let Some(url) = nats {
        config["broker"] = json!({
            "enabled": true,
            "type": "nats",
            "nats": { "url": url, "prefix": prefix }
        });
    }
    serde_json::to_string_pretty(&config).expect("JSON values serialize")
}

/// Starts a node listening on `addr`.
pub fn start(
    bin: &Path,
    addr: SocketAddr,
    nats: Option<&str>,
    prefix: &str,
    work: &Path,
    name: &str,
) -> Result<Node> {
    let config_path = write_config(work, &format!("{name}.json"), &config(addr, nats, prefix))?;
    let mut command = Command::new(bin);
    command.arg("--config").arg(config_path);
    for (key, _) in std::env::vars() {
        if key.starts_with("CENTRIFUGO_") {
            command.env_remove(key);
        }
    }
    Node::spawn(command, addr, work.join(format!("{name}.log")))
}

/// Centrifugo's JSON client protocol.
#[derive(Debug, Clone, Copy)]
pub struct CentrifugoJson;

/// `{"id":<id>,"<op>":<body>}`, written by hand so that `data` keeps its
/// bytes (a `serde_json::Value` would reorder the payload's keys).
fn command(id: u64, op: &str, body: String) -> Message {
    Message::text(format!("{{\"id\":{id},\"{op}\":{body}}}"))
}

fn quoted(s: &str) -> String {
    serde_json::to_string(s).expect("strings serialize")
}

/// The fields of a server frame the benchmark reads; unknown ones are skipped.
#[derive(Debug, Deserialize)]
struct Frame<'a> {
    #[serde(default)]
    id: u64,
    #[serde(borrow, default)]
    error: Option<ErrorBody<'a>>,
    #[serde(borrow, default)]
    push: Option<PushBody<'a>>,
}

#[derive(Debug, Deserialize)]
struct PushBody<'a> {
    #[serde(borrow, default, rename = "pub")]
    publication: Option<PublicationBody<'a>>,
    #[serde(borrow, default)]
    disconnect: Option<&'a RawValue>,
}

impl Dialect for CentrifugoJson {
    fn path(&self) -> &'static str {
        "/connection/websocket"
    }

    fn subprotocol(&self) -> Option<&'static str> {
        None
    }

    fn connect(&self, id: u64) -> Message {
        command(id, "connect", r#"{"name":"chorus-bench"}"#.to_owned())
    }

    fn subscribe(&self, id: u64, channel: &str) -> Message {
        command(
            id,
            "subscribe",
            format!("{{\"channel\":{}}}", quoted(channel)),
        )
    }

    fn publish(&self, id: u64, channel: &str, data: &[u8]) -> Message {
        let data = std::str::from_utf8(data).expect("benchmark payloads are JSON text");
        let body = format!("{{\"channel\":{},\"data\":{data}}}", quoted(channel));
        command(id, "publish", body)
    }

    fn pong(&self) -> Message {
        Message::text("{}")
    }

    fn decode(&self, message: &[u8], on: &mut dyn FnMut(Event)) -> Result<()> {
        for line in message.split(|&b| b == b'\n') {
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let frame: Frame = serde_json::from_slice(line)?;
            let event = match frame {
                Frame {
                    error: Some(e), id, ..
                } => e.reply(id),
                Frame { id, .. } if id > 0 => Event::Reply { id, error: None },
                Frame {
                    push: Some(push), ..
                } => match push {
                    PushBody {
                        publication: Some(publication),
                        ..
                    } => publication.event(),
                    PushBody {
                        disconnect: Some(d),
                        ..
                    } => Event::Disconnect(d.get().to_owned()),
                    _ => Event::Other,
                },
                // `{}`: a ping.
                _ => Event::Ping,
            };
            on(event);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn decode(message: &str) -> Vec<Event> {
        let mut events = Vec::new();
        CentrifugoJson
            .decode(message.as_bytes(), &mut |e| events.push(e))
            .unwrap();
        events
    }

    #[test]
    fn writes_commands() {
        assert_eq!(
            CentrifugoJson.connect(1).to_text().unwrap(),
            r#"{"id":1,"connect":{"name":"chorus-bench"}}"#
        );
        assert_eq!(
            CentrifugoJson
                .publish(3, "bench:a", b"{\"t\":1,\"s\":2,\"p\":\"x\"}")
                .to_text()
                .unwrap(),
            r#"{"id":3,"publish":{"channel":"bench:a","data":{"t":1,"s":2,"p":"x"}}}"#
        );
        assert_eq!(CentrifugoJson.pong().to_text().unwrap(), "{}");
    }

    #[test]
    fn reads_batched_frames() {
        let message = concat!(
            r#"{"id":1,"connect":{"client":"c","version":"6.3.1","ping":25,"pong":true}}"#,
            "\n",
            r#"{"push":{"channel":"bench:a","pub":{"data":{"t":42,"s":1,"p":""}}}}"#,
            "\n",
            "{}",
            "\n",
            r#"{"id":2,"error":{"code":103,"message":"permission denied"}}"#
        );
        assert_eq!(
            decode(message),
            [
                Event::Reply { id: 1, error: None },
                Event::Publication { sent_at: Some(42) },
                Event::Ping,
                Event::Reply {
                    id: 2,
                    error: Some("103: permission denied".to_owned())
                },
            ]
        );
    }

    #[test]
    fn config_is_v6_shaped() {
        let addr: SocketAddr = "127.0.0.1:9000".parse().unwrap();
        let single: Value = serde_json::from_str(&config(addr, None, "p")).unwrap();
        assert_eq!(single["http_server"]["port"], 9000);
        assert_eq!(
            single["client"]["allow_anonymous_connect_without_token"],
            true
        );
        assert_eq!(single["channel"]["namespaces"][0]["name"], "bench");
        assert!(single.get("broker").is_none());
        let cluster: Value =
            serde_json::from_str(&config(addr, Some("nats://127.0.0.1:4222"), "p")).unwrap();
        assert_eq!(cluster["broker"]["type"], "nats");
        assert_eq!(cluster["broker"]["nats"]["url"], "nats://127.0.0.1:4222");
    }
}
