//! A raw NATS client over TCP, just enough for the testkit's own tests: they
//! check the servers are usable without depending on a NATS client crate.

#![allow(dead_code)] // each test file uses a part of it

use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;

/// How long to wait for any single reply.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(20);
/// How long to poll for an eventual condition.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// A connection after the INFO/CONNECT handshake.
pub struct RawNats {
    reader: BufReader<tokio::net::tcp::OwnedReadHalf>,
    writer: OwnedWriteHalf,
    next_sid: u64,
}

impl RawNats {
    /// Connects to `127.0.0.1:port` and completes the handshake (a PING/PONG
    /// round trip, so the server has processed CONNECT when this returns).
    pub async fn connect(port: u16) -> std::io::Result<RawNats> {
        let stream = TcpStream::connect(("127.0.0.1", port)).await?;
        let (read, writer) = stream.into_split();
        let mut conn = RawNats {
            reader: BufReader::new(read),
            writer,
            next_sid: 1,
        };
        let info = conn.read_line().await?;
        assert!(info.starts_with("INFO "), "expected INFO, got {info:?}");
        conn.send(b"CONNECT {\"verbose\":false,\"pedantic\":false,\"protocol\":1}\r\n")
            .await?;
        conn.flush().await?;
        Ok(conn)
    }

    /// Subscribes to `subject`; returns once the server has processed it.
    pub async fn subscribe(&mut self, subject: &str) -> std::io::Result<u64> {
        let sid = self.next_sid;
        self.next_sid += 1;
        self.send(format!("SUB {subject} {sid}\r\n").as_bytes())
            .await?;
        self.flush().await?;
        Ok(sid)
    }

    /// Publishes `payload` on `subject` with a reply subject, and returns the
    /// first message on the reply subject, parsed as JSON.
    pub async fn request(&mut self, subject: &str, payload: &[u8]) -> std::io::Result<Value> {
        let inbox = format!("_INBOX.testkit.{}", self.next_sid);
        let sid = self.subscribe(&inbox).await?;
        self.send(format!("PUB {subject} {inbox} {}\r\n", payload.len()).as_bytes())
            .await?;
        self.send(payload).await?;
        self.send(b"\r\n").await?;
        let reply = tokio::time::timeout(REPLY_TIMEOUT, self.next_msg(sid))
            .await
            .map_err(|_| std::io::Error::other(format!("no reply to {subject}")))??;
        self.send(format!("UNSUB {sid}\r\n").as_bytes()).await?;
        serde_json::from_slice(&reply).map_err(std::io::Error::other)
    }

    /// A JetStream API request, panicking on transport failures and on
    /// replies that carry an error.
    pub async fn js(&mut self, subject: &str, body: Value) -> Value {
        let reply = self
            .request(subject, body.to_string().as_bytes())
            .await
            .unwrap_or_else(|e| panic!("{subject}: {e}"));
        assert!(reply.get("error").is_none(), "{subject}: {reply}");
        reply
    }

    /// Reads until a MSG for `sid` arrives; answers PINGs on the way.
    async fn next_msg(&mut self, sid: u64) -> std::io::Result<Vec<u8>> {
        loop {
            let line = self.read_line().await?;
            if line == "PING" {
                self.send(b"PONG\r\n").await?;
                continue;
            }
            if line.starts_with("-ERR") {
                return Err(std::io::Error::other(line));
            }
            let Some(rest) = line.strip_prefix("MSG ") else {
                continue; // PONG, +OK, INFO
            };
            // MSG <subject> <sid> [reply-to] <#bytes>
            let fields: Vec<&str> = rest.split(' ').collect();
            let len: usize = fields.last().and_then(|n| n.parse().ok()).unwrap_or(0);
            let mut payload = vec![0; len + 2];
            self.reader.read_exact(&mut payload).await?;
            payload.truncate(len);
            if fields.get(1) == Some(&sid.to_string().as_str()) {
                return Ok(payload);
            }
        }
    }

    /// A PING/PONG round trip: everything sent before has been processed.
    async fn flush(&mut self) -> std::io::Result<()> {
        self.send(b"PING\r\n").await?;
        loop {
            match self.read_line().await?.as_str() {
                "PONG" => return Ok(()),
                "PING" => self.send(b"PONG\r\n").await?,
                line if line.starts_with("-ERR") => return Err(std::io::Error::other(line)),
                _ => {}
            }
        }
    }

    async fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.writer.write_all(bytes).await
    }

    async fn read_line(&mut self) -> std::io::Result<String> {
        let mut line = String::new();
        let n = tokio::time::timeout(REPLY_TIMEOUT, self.reader.read_line(&mut line))
            .await
            .map_err(|_| std::io::Error::other("read timed out"))??;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        Ok(line.trim_end().to_owned())
    }
}

/// Polls `check` until it returns true; panics with `what` after [`DEADLINE`].
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "not within {DEADLINE:?}: {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
