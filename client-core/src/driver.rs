//! The background task: a WebSocket, a timer and a clock around the protocol's
//! state machine. It performs the machine's actions and feeds it inputs; all
//! decisions (reconnects, timeouts, recovery) are the machine's.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use chorus_protocol::client::{
    Action, ClientMachine, CloseReason, ConnectionState, Event, Failure, Millis, RequestId,
    SubscribeOptions, UnsubscribeReason,
};
use chorus_protocol::message::{Error, StreamPosition};
use chorus_protocol::{ReplyBody, Request};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::time::{Instant, sleep_until};
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};

use crate::InboxState;
use crate::builder::{ClientBuilder, TokenProvider};
use crate::error::ClientError;
use crate::subscription::SubEvent;
use crate::{Client, Shared};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;
type Opening = Pin<Box<dyn Future<Output = Result<Ws, String>> + Send>>;
type TokenFuture = Pin<Box<dyn Future<Output = Result<String, ClientError>> + Send>>;

/// What a new subscription hands back: its event stream and its first outcome.
pub(crate) type SubscribeReply = Result<
    (
        u64,
        mpsc::Receiver<SubEvent>,
        oneshot::Receiver<Result<(), ClientError>>,
    ),
    ClientError,
>;

/// Requests from [`Client`] handles to the task.
pub(crate) enum Cmd {
    /// Answered once the state the connect led to is visible to watchers.
    Connect {
        reply: oneshot::Sender<()>,
    },
    Disconnect {
        reply: oneshot::Sender<()>,
    },
    Request {
        request: Request,
        reply: oneshot::Sender<Result<ReplyBody, ClientError>>,
    },
    Subscribe {
        channel: String,
        since: Option<StreamPosition>,
        reply: oneshot::Sender<SubscribeReply>,
    },
    /// From a dropped [`crate::Subscription`]; `id` tells it from a newer one.
    Unsubscribe {
        channel: String,
        id: u64,
    },
}

/// Where a channel's events go.
struct SubSink {
    id: u64,
    tx: mpsc::Sender<SubEvent>,
    /// Resolved by the machine's `Ready`, or by a refusal.
    ready: Option<oneshot::Sender<Result<(), ClientError>>>,
}

struct Driver {
    machine: ClientMachine,
    /// The TLS configuration for `wss://` URLs, or why there is none.
    tls: Result<Arc<rustls::ClientConfig>, String>,
    provider: Option<TokenProvider>,
    cmds: mpsc::UnboundedReceiver<Cmd>,
    state: watch::Sender<ConnectionState>,
    messages: broadcast::Sender<chorus_protocol::message::Message>,
    failures: broadcast::Sender<Failure>,
    inbox: watch::Sender<InboxState>,
    ws: Option<Ws>,
    opening: Option<Opening>,
    token: Option<TokenFuture>,
    timer: Option<Millis>,
    replies: HashMap<RequestId, oneshot::Sender<Result<ReplyBody, ClientError>>>,
    subs: HashMap<String, SubSink>,
    sub_buffer: usize,
    next_sub_id: u64,
    close: watch::Sender<Option<CloseReason>>,
    /// `connect` calls to answer after the next [`Driver::perform`].
    connect_acks: Vec<oneshot::Sender<()>>,
    start: Instant,
}

pub(crate) fn spawn(builder: ClientBuilder) -> Client {
    let invalid = builder.config.validate().err();
    let (cmds_tx, cmds) = mpsc::unbounded_channel();
    let (state, state_rx) = watch::channel(ConnectionState::Disconnected);
    let (messages, _) = broadcast::channel(1024);
    let (failures, _) = broadcast::channel(64);
    let (close, close_rx) = watch::channel(None);
    let (inbox, inbox_rx) = watch::channel(InboxState {
        position: builder.config.inbox_since.clone(),
        recovery: None,
    });
    let driver = Driver {
        tls: crate::tls::client_config(&builder.roots).map_err(|e| e.to_string()),
        machine: ClientMachine::new(builder.config),
        provider: builder.token_provider,
        cmds,
        state,
        messages: messages.clone(),
        failures: failures.clone(),
        inbox,
        ws: None,
        opening: None,
        token: None,
        timer: None,
        replies: HashMap::new(),
        subs: HashMap::new(),
        sub_buffer: builder.subscription_buffer,
        next_sub_id: 1,
        close,
        connect_acks: Vec::new(),
        start: Instant::now(),
    };
    tokio::spawn(driver.run());
    Client {
        inner: Arc::new(Shared {
            cmds: cmds_tx,
            state: state_rx,
            messages,
            failures,
            invalid,
            inbox: inbox_rx,
            close: close_rx,
        }),
    }
}

/// Opens a WebSocket offering one subprotocol (over TLS for `wss://`).
async fn open(
    url: String,
    subprotocol: &'static str,
    tls: Result<Arc<rustls::ClientConfig>, String>,
) -> Result<Ws, String> {
    let mut request = url.into_client_request().map_err(|e| e.to_string())?;
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        HeaderValue::from_static(subprotocol),
    );
    let connector = if request.uri().scheme_str() == Some("wss") {
        Some(Connector::Rustls(tls.map_err(|e| format!("TLS: {e}"))?))
    } else {
        None
    };
    let config = WebSocketConfig::default().read_buffer_size(16 * 1024);
    let (ws, _) =
        tokio_tungstenite::connect_async_tls_with_config(request, Some(config), true, connector)
            .await
            .map_err(|e| e.to_string())?;
    Ok(ws)
}

impl Driver {
    fn now(&self) -> Millis {
        self.start.elapsed().as_millis() as Millis
    }

    async fn run(mut self) {
        loop {
            self.perform().await;
            for ack in self.connect_acks.drain(..) {
                let _ = ack.send(());
            }
            let timer = self.timer.map(|at| self.start + Duration::from_millis(at));
            let ws = self.ws.as_mut();
            let opening = self.opening.as_mut();
            let token = self.token.as_mut();
            tokio::select! {
                cmd = self.cmds.recv() => match cmd {
                    Some(cmd) => self.on_cmd(cmd),
                    None => {
                        let now = self.now();
                        self.machine.disconnect(now);
                        self.perform().await;
                        return;
                    }
                },
                opened = async move { match opening { Some(f) => f.await, None => std::future::pending().await } } => {
                    self.opening = None;
                    let now = self.now();
                    match opened {
                        Ok(ws) => {
                            self.ws = Some(ws);
                            self.machine.transport_opened(now);
                        }
                        Err(e) => self.machine.transport_closed(now, None, &e),
                    }
                }
                msg = async move { match ws { Some(ws) => ws.next().await, None => std::future::pending().await } } => {
                    self.on_ws(msg);
                }
                _ = async move { match timer { Some(at) => sleep_until(at).await, None => std::future::pending().await } } => {
                    self.timer = None;
                    let now = self.now();
                    self.machine.handle_timeout(now);
                }
                fetched = async move { match token { Some(f) => f.await, None => std::future::pending().await } } => {
                    self.token = None;
                    let now = self.now();
                    match fetched {
                        Ok(token) => self.machine.set_token(now, token),
                        Err(e) => {
                            let error = Error { code: e.code(), message: e.to_string(), temporary: e.is_temporary() };
                            self.machine.token_failed(now, error);
                        }
                    }
                }
            }
        }
    }

    fn on_ws(&mut self, msg: Option<Result<WsMessage, tokio_tungstenite::tungstenite::Error>>) {
        let now = self.now();
        match msg {
            Some(Ok(WsMessage::Text(t))) => self.machine.handle_frame(now, t.as_bytes()),
            Some(Ok(WsMessage::Binary(b))) => self.machine.handle_frame(now, &b),
            Some(Ok(WsMessage::Close(frame))) => {
                self.ws = None;
                let (code, reason) = frame.map_or((None, String::new()), |f| {
                    (Some(u16::from(f.code)), f.reason.to_string())
                });
                self.machine.transport_closed(now, code, &reason);
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => {
                self.ws = None;
                self.machine.transport_closed(now, None, &e.to_string());
            }
            None => {
                self.ws = None;
                self.machine
                    .transport_closed(now, None, "connection closed");
            }
        }
    }

    fn on_cmd(&mut self, cmd: Cmd) {
        let now = self.now();
        match cmd {
            Cmd::Connect { reply } => {
                self.machine.connect(now);
                self.connect_acks.push(reply);
            }
            Cmd::Disconnect { reply } => {
                self.machine.disconnect(now);
                let _ = reply.send(());
            }
            Cmd::Request { request, reply } => match self.machine.request(now, request) {
                Ok(id) => {
                    self.replies.insert(id, reply);
                }
                Err(e) => {
                    let _ = reply.send(Err(e.into()));
                }
            },
            Cmd::Subscribe {
                channel,
                since,
                reply,
            } => {
                let options = SubscribeOptions { data: None, since };
                match self.machine.subscribe(now, &channel, options) {
                    Ok(()) => {
                        let (tx, rx) = mpsc::channel(self.sub_buffer);
                        let (ready, first) = oneshot::channel();
                        let id = self.next_sub_id;
                        self.next_sub_id += 1;
                        self.subs.insert(
                            channel,
                            SubSink {
                                id,
                                tx,
                                ready: Some(ready),
                            },
                        );
                        let _ = reply.send(Ok((id, rx, first)));
                    }
                    Err(e) => {
                        let _ = reply.send(Err(e.into()));
                    }
                }
            }
            Cmd::Unsubscribe { channel, id } => {
                if self.subs.get(&channel).is_some_and(|s| s.id == id) {
                    self.subs.remove(&channel);
                    self.machine.unsubscribe(now, &channel);
                }
            }
        }
    }

    /// Performs every pending action, in order.
    async fn perform(&mut self) {
        let mut fed = false;
        while let Some(action) = self.machine.poll_action() {
            match action {
                Action::OpenTransport { url, subprotocol } => {
                    self.ws = None;
                    self.opening = Some(Box::pin(open(url, subprotocol, self.tls.clone())));
                }
                Action::Send { bytes, binary } => {
                    let Some(ws) = self.ws.as_mut() else { continue };
                    let msg = if binary {
                        WsMessage::Binary(bytes.into())
                    } else {
                        match String::from_utf8(bytes) {
                            Ok(text) => WsMessage::Text(text.into()),
                            Err(_) => continue,
                        }
                    };
                    // A failed write shows up on the read side as a closed transport.
                    fed |= ws.feed(msg).await.is_ok();
                }
                Action::CloseTransport(reason) => {
                    self.opening = None;
                    self.close.send_replace(Some(reason.clone()));
                    if let Some(mut ws) = self.ws.take() {
                        let frame = CloseFrame {
                            code: reason.code.0.into(),
                            reason: reason.reason.into(),
                        };
                        tokio::spawn(async move {
                            let _ =
                                tokio::time::timeout(Duration::from_secs(1), ws.close(Some(frame)))
                                    .await;
                        });
                    }
                }
                Action::ArmTimer { at } => self.timer = Some(at),
                Action::FetchToken => match &self.provider {
                    Some(provider) => self.token = Some(provider()),
                    None => {
                        let now = self.now();
                        let error = Error::new(
                            chorus_protocol::ErrorCode::UNAUTHORIZED,
                            "no token provider",
                        );
                        self.machine.token_failed(now, error);
                    }
                },
                Action::Emit(event) => self.emit(event).await,
            }
        }
        if fed {
            if let Some(ws) = self.ws.as_mut() {
                let _ = ws.flush().await;
            }
        }
    }

    async fn forward(&mut self, channel: &str, event: SubEvent) {
        let Some(sink) = self.subs.get_mut(channel) else {
            return;
        };
        // Waiting here is deliberate backpressure: an application that does not
        // keep up stops the socket being read, and recovery covers the rest.
        if sink.tx.send(event).await.is_err() {
            self.subs.remove(channel);
        }
    }

    async fn emit(&mut self, event: Event) {
        match event {
            Event::State { state, reason } => {
                if reason.is_some() {
                    self.close.send_replace(reason);
                }
                self.state.send_replace(state);
            }
            Event::Connected(_) => {}
            Event::Failure(failure) => {
                tracing::debug!(?failure, "chorus client");
                let _ = self.failures.send(failure);
            }
            Event::Warning(w) => tracing::debug!(warning = %w, "chorus client"),
            // Before anything the subscription delivers: `subscribe` returns the
            // stream before its buffer can fill.
            Event::Ready { channel } => {
                if let Some(ready) = self.subs.get_mut(&channel).and_then(|s| s.ready.take()) {
                    let _ = ready.send(Ok(()));
                }
            }
            Event::Subscribing { channel } => {
                let started = self.subs.get(&channel).is_some_and(|s| s.ready.is_none());
                if started {
                    self.forward(&channel, SubEvent::Subscribing).await;
                }
            }
            Event::Subscribed {
                channel, recovery, ..
            } => {
                self.forward(&channel, SubEvent::Subscribed(recovery)).await;
            }
            Event::Unsubscribed { channel, reason } => {
                let error = match reason {
                    UnsubscribeReason::Client => None,
                    UnsubscribeReason::Server(e) | UnsubscribeReason::Refused(e) => {
                        Some(ClientError::from(e))
                    }
                };
                if let Some(mut sink) = self.subs.remove(&channel) {
                    match (sink.ready.take(), error) {
                        (Some(ready), Some(e)) => {
                            let _ = ready.send(Err(e));
                        }
                        (_, error) => {
                            let _ = sink.tx.send(SubEvent::Unsubscribed(error)).await;
                        }
                    }
                }
            }
            Event::Publication(p) => {
                let channel = p.channel.clone();
                self.forward(&channel, SubEvent::Publication(p)).await;
            }
            Event::Gap {
                channel,
                first,
                last,
                recovered,
            } => {
                let gap = SubEvent::Gap {
                    missed: first..=last,
                    recovered,
                };
                self.forward(&channel, gap).await;
            }
            Event::Join(m) => {
                let channel = m.channel.clone();
                self.forward(&channel, SubEvent::Join(m)).await;
            }
            Event::Leave(m) => {
                let channel = m.channel.clone();
                self.forward(&channel, SubEvent::Leave(m)).await;
            }
            Event::Message(m) => {
                let position = self.machine.inbox_position().cloned();
                self.inbox.send_if_modified(|s| {
                    let changed = s.position != position;
                    s.position = position;
                    changed
                });
                let _ = self.messages.send(m);
            }
            Event::Inbox(recovery) => {
                let position = self.machine.inbox_position().cloned();
                self.inbox.send_replace(InboxState {
                    position,
                    recovery: Some(recovery),
                });
            }
            Event::Reply { request, result } => {
                if let Some(reply) = self.replies.remove(&request) {
                    let _ = reply.send(result.map_err(ClientError::from));
                }
            }
        }
    }
}
