//! Dialling a server and upgrading to a WebSocket, with every step bounded by
//! [`WAIT`].

use std::sync::Arc;

use futures_util::stream::SplitSink;
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::{Failure, WAIT, fail};

/// A WebSocket over plain TCP.
pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;
pub(super) type Sink = Arc<Mutex<SplitSink<Ws, Message>>>;

/// The answer to a WebSocket upgrade request.
#[derive(Debug)]
pub enum Upgrade {
    /// `101 Switching Protocols`: the connection and the subprotocol the
    /// server echoed, if any.
    Accepted(Box<Ws>, Option<String>),
    /// The server answered with another HTTP status: status and body.
    Refused(u16, String),
}

/// How a connection is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnOptions {
    /// `SO_RCVBUF` for the socket, to make a client that stops reading fill
    /// its buffers quickly (slow consumers). `None`: the system default.
    pub recv_buffer: Option<u32>,
    /// Whether to answer server pings when the connect reply asks for pongs.
    pub answer_pings: bool,
}

impl Default for ConnOptions {
    fn default() -> Self {
        ConnOptions {
            recv_buffer: None,
            answer_pings: true,
        }
    }
}

/// Opens a TCP connection to the host of a `ws://` URL.
async fn dial(url: &str, recv_buffer: Option<u32>) -> Result<TcpStream, Failure> {
    let req = url
        .into_client_request()
        .map_err(|e| fail!("invalid WebSocket URL {url:?}: {e}"))?;
    let uri = req.uri();
    if uri.scheme_str() != Some("ws") {
        return Err(fail!(
            "unsupported URL {url:?}: the suite speaks plain ws:// (test a TLS-terminated server on its plain port)"
        ));
    }
    let host = uri
        .host()
        .ok_or_else(|| fail!("no host in {url:?}"))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = uri.port_u16().unwrap_or(80);
    let connect = async {
        let mut last = None;
        for addr in tokio::net::lookup_host((host.as_str(), port)).await? {
            let socket = if addr.is_ipv4() {
                TcpSocket::new_v4()?
            } else {
                TcpSocket::new_v6()?
            };
            if let Some(size) = recv_buffer {
                socket.set_recv_buffer_size(size)?;
            }
            // Nagle's algorithm off: pipelined frames go out at once rather
            // than wait on delayed ACKs.
            socket.set_nodelay(true)?;
            match socket.connect(addr).await {
                Ok(stream) => return Ok(stream),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| std::io::Error::other("the host resolves to no address")))
    };
    tokio::time::timeout(WAIT, connect)
        .await
        .map_err(|_| fail!("cannot connect to {url} within {} s", WAIT.as_secs()))?
        .map_err(|e| fail!("cannot connect to {url}: {e}"))
}

/// Sends a WebSocket upgrade to `url` offering `protocol` (if any; a
/// comma-separated list offers several). Transport errors (connection refused,
/// timeout) are failures; an HTTP answer other than 101 is [`Upgrade::Refused`].
pub async fn upgrade(url: &str, protocol: Option<&str>) -> Result<Upgrade, Failure> {
    upgrade_with(url, protocol, None, ConnOptions::default()).await
}

/// Like [`upgrade`], with an `Origin` header as a browser sends it (`None`:
/// none, as from a client outside a browser), for checks of the server's
/// origin policy.
pub async fn upgrade_with_origin(
    url: &str,
    protocol: Option<&str>,
    origin: Option<&str>,
) -> Result<Upgrade, Failure> {
    upgrade_with(url, protocol, origin, ConnOptions::default()).await
}

pub(super) async fn upgrade_with(
    url: &str,
    protocol: Option<&str>,
    origin: Option<&str>,
    options: ConnOptions,
) -> Result<Upgrade, Failure> {
    let mut req = url
        .into_client_request()
        .map_err(|e| fail!("invalid WebSocket URL {url:?}: {e}"))?;
    if let Some(p) = protocol {
        let value =
            HeaderValue::from_str(p).map_err(|e| fail!("invalid subprotocol {p:?}: {e}"))?;
        req.headers_mut().insert("Sec-WebSocket-Protocol", value);
    }
    if let Some(o) = origin {
        let value = HeaderValue::from_str(o).map_err(|e| fail!("invalid origin {o:?}: {e}"))?;
        req.headers_mut().insert("Origin", value);
    }
    let stream = dial(url, options.recv_buffer).await?;
    let handshake = tokio_tungstenite::client_async(req, MaybeTlsStream::Plain(stream));
    let result = tokio::time::timeout(WAIT, handshake).await.map_err(|_| {
        fail!(
            "no answer to the upgrade of {url} within {} s",
            WAIT.as_secs()
        )
    })?;
    match result {
        Ok((ws, resp)) => {
            let selected = resp
                .headers()
                .get("sec-websocket-protocol")
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
            Ok(Upgrade::Accepted(Box::new(ws), selected))
        }
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
            let body = resp
                .body()
                .as_ref()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default();
            Ok(Upgrade::Refused(resp.status().as_u16(), body))
        }
        Err(tokio_tungstenite::tungstenite::Error::Protocol(e)) => {
            // tungstenite refuses a 101 whose subprotocol does not match the
            // offer; report it as such rather than as a transport error.
            Err(fail!("the upgrade of {url} was answered wrongly: {e}"))
        }
        Err(e) => Err(fail!("cannot open {url}: {e}")),
    }
}
