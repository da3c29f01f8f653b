//! One raw protocol connection: opening it, sending on it, closing it.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::sync::Arc;

use chorus_protocol::message::{ConnectResult, Disconnect, Error};
use chorus_protocol::{ClientFrame, Codec, Command, Push, ReplyBody, Request};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::{Mutex, mpsc, watch};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::error::{Error as WsError, ProtocolError};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode as WsCloseCode;

use super::reader::{Closed, Event, read_loop};
use super::transport::{ConnOptions, Sink, Upgrade, upgrade_with};
use super::wire::data_message;
use super::{Failure, WAIT, fail};

/// A raw protocol connection with one codec.
pub struct Conn {
    sink: Sink,
    pub(super) events: mpsc::UnboundedReceiver<Event>,
    reader: tokio::task::JoinHandle<()>,
    paused: watch::Sender<bool>,
    /// The codec the connection was opened with: its subprotocol was offered
    /// in the upgrade, and it decides text or binary messages.
    pub codec: Codec,
    next_id: u64,
    /// Ids of commands sent and not yet answered.
    pub(super) pending: HashSet<u64>,
    /// Replies that arrived while waiting for something else.
    pub(super) replies: BTreeMap<u64, (Vec<u8>, Result<ReplyBody, Error>)>,
    /// Pushes received while waiting for something else, oldest first.
    pub(super) pushes: VecDeque<Push>,
    /// The last `disconnect` push seen.
    pub(super) disconnect: Option<Disconnect>,
    /// How the connection ended, once it has.
    pub(super) closed: Option<Closed>,
    /// The successful connect reply, once there is one.
    pub session: Option<ConnectResult>,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn")
            .field("codec", &self.codec)
            .field("session", &self.session)
            .field("closed", &self.closed)
            .finish_non_exhaustive()
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

impl Conn {
    /// Opens a connection with `codec`'s subprotocol; fails unless the server
    /// upgrades and echoes that subprotocol.
    pub async fn open(url: &str, codec: Codec) -> Result<Conn, Failure> {
        Conn::open_with(url, codec, ConnOptions::default()).await
    }

    /// Like [`Conn::open`], with options.
    pub async fn open_with(url: &str, codec: Codec, options: ConnOptions) -> Result<Conn, Failure> {
        let ws = match upgrade_with(url, Some(codec.subprotocol()), None, options).await? {
            Upgrade::Accepted(ws, Some(p)) if p == codec.subprotocol() => ws,
            Upgrade::Accepted(_, other) => {
                return Err(fail!(
                    "the server accepted the upgrade but echoed subprotocol {other:?}, expected {:?}",
                    codec.subprotocol()
                ));
            }
            Upgrade::Refused(status, body) => {
                return Err(fail!(
                    "upgrade with {} refused: HTTP {status} {body:?}",
                    codec.subprotocol()
                ));
            }
        };
        let (sink, stream) = (*ws).split();
        let sink: Sink = Arc::new(Mutex::new(sink));
        let (tx, events) = mpsc::unbounded_channel();
        let (paused, paused_rx) = watch::channel(false);
        let reader = tokio::spawn(read_loop(
            stream,
            Arc::clone(&sink),
            tx,
            codec,
            paused_rx,
            options.answer_pings,
        ));
        Ok(Conn {
            sink,
            events,
            reader,
            paused,
            codec,
            next_id: 1,
            pending: HashSet::new(),
            replies: BTreeMap::new(),
            pushes: VecDeque::new(),
            disconnect: None,
            closed: None,
            session: None,
        })
    }

    /// This connection's client id from the connect reply (empty before).
    pub fn client_id(&self) -> &str {
        self.session.as_ref().map_or("", |s| s.client.as_str())
    }

    /// This connection's user from the connect reply (empty before).
    pub fn user(&self) -> &str {
        self.session.as_ref().map_or("", |s| s.user.as_str())
    }

    /// Stops reading from the socket (what is already read stays available),
    /// so that the server's writes pile up as with a client that reads too slowly.
    pub fn pause_reading(&self) {
        let _ = self.paused.send(true);
    }

    /// Resumes reading after [`Conn::pause_reading`].
    pub fn resume_reading(&self) {
        let _ = self.paused.send(false);
    }

    /// Sends one WebSocket message as it is.
    pub async fn send_message(&mut self, msg: Message) -> Result<(), Failure> {
        self.write(msg)
            .await?
            .map_err(|e| fail!("send failed: {e}"))
    }

    /// Like [`Conn::send_message`], but a connection already closing (the
    /// server's close has been read, or the close handshake is over) is no
    /// failure: the message is dropped, as the server would not read it, and
    /// the answer is `false`. For a client that keeps sending while the
    /// server may close it (a flood, a pipeline).
    pub async fn send_if_open(&mut self, msg: Message) -> Result<bool, Failure> {
        match self.write(msg).await? {
            Ok(()) => Ok(true),
            Err(
                WsError::ConnectionClosed
                | WsError::AlreadyClosed
                | WsError::Protocol(ProtocolError::SendAfterClosing),
            ) => Ok(false),
            Err(e) => Err(fail!("send failed: {e}")),
        }
    }

    /// Writes one message; the failure is the timeout, the inner error the
    /// WebSocket's.
    async fn write(&mut self, msg: Message) -> Result<Result<(), WsError>, Failure> {
        let send = async { self.sink.lock().await.send(msg).await };
        tokio::time::timeout(WAIT, send)
            .await
            .map_err(|_| fail!("could not send within {} s", WAIT.as_secs()))
    }

    /// Sends `bytes` in the WebSocket message type of this connection's codec
    /// (text for JSON, binary for MessagePack). Non-UTF-8 bytes on a JSON
    /// connection go out as a raw text frame, unchecked.
    pub async fn send_bytes(&mut self, bytes: Vec<u8>) -> Result<(), Failure> {
        let msg = data_message(self.codec, bytes);
        self.send_message(msg).await
    }

    /// Encodes a frame for this codec.
    pub fn encode(&self, frame: &ClientFrame) -> Result<Vec<u8>, Failure> {
        self.codec
            .encode_client(frame)
            .map_err(|e| fail!("cannot encode {frame:?}: {e}"))
    }

    /// Encodes and sends a frame.
    pub async fn send_frame(&mut self, frame: &ClientFrame) -> Result<(), Failure> {
        let bytes = self.encode(frame)?;
        self.send_bytes(bytes).await
    }

    /// A fresh id for a command (ids count up from 1); a reply to it is expected.
    pub fn take_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.pending.insert(id);
        id
    }

    /// Expects a reply to `id`, for a command sent as raw bytes with an id
    /// not taken from [`Conn::take_id`].
    pub fn expect_reply_to(&mut self, id: u64) {
        self.pending.insert(id);
    }

    /// Sends a command; returns its id.
    pub async fn send(&mut self, request: Request) -> Result<u64, Failure> {
        let id = self.take_id();
        self.send_frame(&ClientFrame::Command(Command { id, request }))
            .await?;
        Ok(id)
    }

    /// Sends several commands in one write (a pipeline); returns their ids.
    pub async fn send_pipelined(&mut self, requests: Vec<Request>) -> Result<Vec<u64>, Failure> {
        let mut messages = Vec::with_capacity(requests.len());
        let mut ids = Vec::with_capacity(requests.len());
        for request in requests {
            let id = self.take_id();
            let bytes = self.encode(&ClientFrame::Command(Command { id, request }))?;
            messages.push(data_message(self.codec, bytes));
            ids.push(id);
        }
        let send = async {
            let mut sink = self.sink.lock().await;
            for msg in messages {
                sink.feed(msg).await?;
            }
            sink.flush().await
        };
        tokio::time::timeout(WAIT, send)
            .await
            .map_err(|_| fail!("could not send within {} s", WAIT.as_secs()))?
            .map_err(|e| fail!("send failed: {e}"))?;
        Ok(ids)
    }

    /// Closes with 1000 (best effort) and waits (boundedly) for the server's
    /// answering close, so that the server has seen the close when this returns.
    pub async fn close(mut self) {
        self.send_close().await;
    }

    /// [`Conn::close`], then [`Conn::wait_eof`]: the server has finished with
    /// the connection when this returns.
    pub async fn close_fully(mut self) -> Result<(), Failure> {
        self.send_close().await;
        self.wait_eof().await
    }

    /// Waits until the transport has ended (reading must not be paused). A
    /// server drops a connection once it is done with it, so after a close
    /// this says that the server no longer counts the connection. Frames not
    /// yet received stay available.
    pub async fn wait_eof(&mut self) -> Result<(), Failure> {
        if self.reader.is_finished() {
            return Ok(());
        }
        tokio::time::timeout(WAIT, &mut self.reader)
            .await
            .map_err(|_| fail!("the connection did not end within {} s", WAIT.as_secs()))?
            .map_err(|e| fail!("the reader failed: {e}"))
    }

    /// The body of [`Conn::close`].
    async fn send_close(&mut self) {
        if self.closed.is_some() {
            return;
        }
        let frame = CloseFrame {
            code: WsCloseCode::Normal,
            reason: "".into(),
        };
        let sent = {
            let mut sink = self.sink.lock().await;
            tokio::time::timeout(WAIT, sink.send(Message::Close(Some(frame)))).await
        };
        if matches!(sent, Ok(Ok(()))) {
            let _ = self.closed().await;
        }
    }

    /// Drops the TCP connection without a WebSocket close: what a client sees
    /// when its network goes away.
    pub async fn drop_transport(mut self) {
        self.reader.abort();
        if !self.reader.is_finished() {
            let reader = std::mem::replace(&mut self.reader, tokio::spawn(async {}));
            let _ = reader.await;
        }
        // The socket closes when both halves are gone: the reader's with the
        // aborted task, the sink's with `self`.
    }
}
