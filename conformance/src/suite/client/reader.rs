//! The background reader: reads the connection as frames arrive, answers
//! server pings at once, and hands frames and the close to the [`Conn`](super::Conn).
//! After the close it reads on until the transport ends, so that the close
//! handshake completes and the end can be awaited.

use chorus_protocol::message::Disconnect;
use chorus_protocol::{ClientFrame, Codec, Push, Reply, ReplyBody, ServerFrame};
use futures_util::stream::SplitStream;
use futures_util::{SinkExt, StreamExt};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use super::transport::{Sink, Ws};
use super::wire::{data_message, is_unknown_push, show};

/// How a connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Closed {
    /// The WebSocket close code (1005 when the close frame had none, 1006 when
    /// the transport dropped without a close frame).
    pub code: u16,
    /// The close frame's reason (empty when it had none); with 1006, why the
    /// connection dropped, if known.
    pub reason: String,
    /// The last `disconnect` push received on the connection, if any.
    pub pushed: Option<Disconnect>,
}

impl std::fmt::Display for Closed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "close {} {:?}", self.code, self.reason)?;
        match &self.pushed {
            Some(d) => write!(f, " after a disconnect push with code {}", d.code.0),
            None => write!(f, " without a disconnect push"),
        }
    }
}

/// One decoded server frame with the bytes it came in.
#[derive(Debug, Clone)]
pub struct Received {
    /// The WebSocket message's payload.
    pub raw: Vec<u8>,
    /// `raw` decoded with the connection's codec.
    pub frame: ServerFrame,
    /// When the background reader received it.
    pub at: Instant,
}

/// What the background reader hands over.
pub(super) enum Event {
    Frame(Received),
    Closed(Closed),
    Bad(String),
}

/// Reads the connection until it ends, answering pings and forwarding frames
/// (none after the close).
pub(super) async fn read_loop(
    mut stream: SplitStream<Ws>,
    sink: Sink,
    tx: mpsc::UnboundedSender<Event>,
    codec: Codec,
    mut paused: watch::Receiver<bool>,
    may_answer_pings: bool,
) {
    let mut answer_pings = false;
    loop {
        if paused.wait_for(|p| !*p).await.is_err() {
            return;
        }
        let msg = tokio::select! {
            changed = paused.changed() => {
                if changed.is_err() {
                    return;
                }
                continue;
            }
            msg = stream.next() => msg,
        };
        let raw = match msg {
            Some(Ok(Message::Text(t))) if !codec.is_binary() => t.as_bytes().to_vec(),
            Some(Ok(Message::Binary(b))) if codec.is_binary() => b.to_vec(),
            Some(Ok(Message::Text(_))) => {
                let _ = tx.send(Event::Bad(
                    "the server sent a text message on a MessagePack connection".into(),
                ));
                continue;
            }
            Some(Ok(Message::Binary(_))) => {
                let _ = tx.send(Event::Bad(
                    "the server sent a binary message on a JSON connection".into(),
                ));
                continue;
            }
            Some(Ok(Message::Close(frame))) => {
                let (code, reason) = frame.map_or((1005, String::new()), |f| {
                    (u16::from(f.code), f.reason.to_string())
                });
                let _ = tx.send(Event::Closed(Closed {
                    code,
                    reason,
                    pushed: None,
                }));
                // Read on until the transport ends: the next read sends
                // tungstenite's answer to the close, and the end tells
                // `Conn::wait_eof` that the server has let go.
                while let Some(Ok(_)) = stream.next().await {}
                return;
            }
            Some(Ok(_)) => continue,
            Some(Err(e)) => {
                let _ = tx.send(Event::Closed(Closed {
                    code: 1006,
                    reason: e.to_string(),
                    pushed: None,
                }));
                return;
            }
            None => {
                let _ = tx.send(Event::Closed(Closed {
                    code: 1006,
                    reason: String::new(),
                    pushed: None,
                }));
                return;
            }
        };
        let at = Instant::now();
        match codec.decode_server(&raw) {
            Ok(frame) => {
                match &frame {
                    ServerFrame::Reply(Reply {
                        result: Ok(ReplyBody::Connect(r)),
                        ..
                    }) => answer_pings = may_answer_pings && r.pong,
                    ServerFrame::Push(Push::Ping(_)) if answer_pings => {
                        if let Ok(bytes) = codec.encode_client(&ClientFrame::Pong) {
                            let _ = sink.lock().await.send(data_message(codec, bytes)).await;
                        }
                    }
                    _ => {}
                }
                if tx.send(Event::Frame(Received { raw, frame, at })).is_err() {
                    return;
                }
            }
            Err(_) if is_unknown_push(codec, &raw) => {}
            Err(e) => {
                let _ = tx.send(Event::Bad(format!(
                    "undecodable server frame {}: {e}",
                    show(&raw, codec)
                )));
            }
        }
    }
}
