//! One benchmark client: a raw WebSocket connection and the task that runs it.
//!
//! There is no SDK here on purpose: no reconnects, no request bookkeeping, no
//! per-message allocation beyond decoding. A [`Conn`] is opened from a chosen
//! source address ([`crate::addrs`]), connects anonymously, subscribes, and
//! then [`run`](Conn::run)s until told to stop: it records every publication
//! it receives, answers the server's pings, and, when it is a publisher,
//! writes the publications handed to it.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::http::header::SEC_WEBSOCKET_PROTOCOL;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Bytes, Message};
use tokio_tungstenite::{WebSocketStream, client_async_with_config};

use crate::Result;
use crate::metrics::Recorder;
use crate::payload;
use crate::targets::{Dialect, Event};

/// Longest wait for the reply to a setup command (connect, subscribe).
const REPLY_TIMEOUT: Duration = Duration::from_secs(30);
/// Read buffer per connection: small, since thousands of clients share this
/// process, and the frames are small.
const READ_BUFFER: usize = 8 * 1024;

/// A publication for a publishing connection to send.
#[derive(Debug, Clone)]
pub struct Publish {
    /// The channel to publish to.
    pub channel: Arc<str>,
    /// The payload, stamped when the publication was due ([`payload::stamped`]).
    pub data: Vec<u8>,
}

/// What a running connection reports to and listens for.
#[derive(Debug)]
pub struct Role {
    /// Where observations go.
    pub recorder: Arc<Recorder>,
    /// This connection's number (picks a histogram shard).
    pub index: usize,
    /// Publications to send, for a publisher.
    pub publish: Option<mpsc::Receiver<Publish>>,
    /// Becomes true when the connection should close.
    pub stop: watch::Receiver<bool>,
}

/// An open, connected WebSocket client.
#[derive(Debug)]
pub struct Conn {
    ws: WebSocketStream<TcpStream>,
    dialect: Arc<dyn Dialect>,
    next_id: u64,
}

impl Conn {
    /// Opens a WebSocket from `source` to `server` and sends an anonymous
    /// `connect`; returns once the server accepted it.
    pub async fn open(
        server: SocketAddr,
        source: Ipv4Addr,
        dialect: Arc<dyn Dialect>,
    ) -> Result<Conn> {
        let socket = TcpSocket::new_v4()?;
        socket.bind(SocketAddr::from((source, 0)))?;
        let stream = socket.connect(server).await?;
        stream.set_nodelay(true)?;
        let mut request = format!("ws://{server}{}", dialect.path()).into_client_request()?;
        if let Some(subprotocol) = dialect.subprotocol() {
            request.headers_mut().insert(
                SEC_WEBSOCKET_PROTOCOL,
                HeaderValue::from_static(subprotocol),
            );
        }
        let config = WebSocketConfig::default()
            .read_buffer_size(READ_BUFFER)
            .write_buffer_size(0);
        let (ws, _) = client_async_with_config(request, stream, Some(config)).await?;
        let mut conn = Conn {
            ws,
            dialect,
            next_id: 1,
        };
        let id = conn.take_id();
        let connect = conn.dialect.connect(id);
        conn.request(id, connect).await?;
        Ok(conn)
    }

    /// Subscribes to `channel`; returns once the server confirmed it.
    pub async fn subscribe(&mut self, channel: &str) -> Result<()> {
        let id = self.take_id();
        let subscribe = self.dialect.subscribe(id, channel);
        self.request(id, subscribe).await
    }

    /// Closes the connection, without waiting long for the server's answer.
    pub async fn close(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(1), self.ws.close(None)).await;
    }

    /// Runs until `role.stop` turns true or the connection is lost (which is
    /// recorded as a disconnect).
    pub async fn run(mut self, mut role: Role) {
        loop {
            if *role.stop.borrow_and_update() {
                break;
            }
            let publish = async {
                match role.publish.as_mut() {
                    Some(rx) => rx.recv().await,
                    None => std::future::pending().await,
                }
            };
            let alive = tokio::select! {
                changed = role.stop.changed() => {
                    if changed.is_err() {
                        break;
                    }
                    true
                }
                item = publish => match item {
                    Some(p) => {
                        let id = self.take_id();
                        let frame = self.dialect.publish(id, &p.channel, &p.data);
                        self.ws.send(frame).await.is_ok()
                    }
                    None => {
                        role.publish = None;
                        true
                    }
                },
                message = self.ws.next() => match message {
                    Some(Ok(message)) => self.on_message(message, &role).await,
                    Some(Err(e)) => {
                        role.recorder.disconnect_reason(format!("read failed: {e}"));
                        false
                    }
                    None => false,
                },
            };
            if !alive {
                role.recorder.disconnect();
                return;
            }
        }
        self.close().await;
    }

    /// Handles a message while running; false when the connection ends.
    async fn on_message(&mut self, message: Message, role: &Role) -> bool {
        let bytes: Bytes = match message {
            Message::Text(text) => text.into(),
            Message::Binary(bytes) => bytes,
            Message::Close(frame) => {
                role.recorder
                    .disconnect_reason(format!("closed by the server: {frame:?}"));
                return false;
            }
            _ => return true,
        };
        let mut ping = false;
        let recorder = &role.recorder;
        let decoded = self.dialect.decode(&bytes, &mut |event| match event {
            Event::Publication { sent_at } => {
                recorder.delivery(role.index, sent_at.map(payload::age));
            }
            Event::Reply { error: Some(e), .. } => {
                recorder.error();
                recorder.disconnect_reason(format!("error reply: {e}"));
            }
            Event::Ping => ping = true,
            Event::Disconnect(reason) => recorder.disconnect_reason(reason),
            Event::Reply { error: None, .. } | Event::Other => {}
        });
        if let Err(e) = decoded {
            recorder.disconnect_reason(format!("undecodable frame: {e}"));
            return false;
        }
        if ping {
            let pong = self.dialect.pong();
            return self.ws.send(pong).await.is_ok();
        }
        true
    }

    fn take_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// Sends a setup command and waits for its reply, answering pings meanwhile.
    async fn request(&mut self, id: u64, command: Message) -> Result<()> {
        self.ws.send(command).await?;
        tokio::time::timeout(REPLY_TIMEOUT, self.await_reply(id))
            .await
            .map_err(|_| format!("no reply to request {id} within {REPLY_TIMEOUT:?}"))?
    }

    async fn await_reply(&mut self, id: u64) -> Result<()> {
        loop {
            let bytes: Bytes = match self.ws.next().await {
                Some(Ok(Message::Text(text))) => text.into(),
                Some(Ok(Message::Binary(bytes))) => bytes,
                Some(Ok(Message::Close(frame))) => {
                    return Err(format!("server closed the connection: {frame:?}").into());
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(e.into()),
                None => return Err("connection closed".into()),
            };
            let mut outcome = None;
            let mut ping = false;
            self.dialect.decode(&bytes, &mut |event| match event {
                Event::Reply { id: got, error } if got == id => outcome = Some(error),
                Event::Ping => ping = true,
                Event::Disconnect(reason) => outcome = Some(Some(reason)),
                _ => {}
            })?;
            if ping {
                let pong = self.dialect.pong();
                self.ws.send(pong).await?;
            }
            match outcome {
                Some(None) => return Ok(()),
                Some(Some(error)) => return Err(format!("request {id} refused: {error}").into()),
                None => {}
            }
        }
    }
}
