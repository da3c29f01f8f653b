//! wasm-bindgen binding of the Chorus client for browsers and Node.js.
//!
//! A [`WasmClient`] owns the protocol crate's [`ClientMachine`] and performs its
//! actions with what the JavaScript host provides: a WebSocket
//! (module `transport`), one `setTimeout` timer, `performance.now` and
//! `crypto.getRandomValues` (module `host`). Every decision (reconnects, backoff,
//! recovery, timeouts) is the machine's; this crate only converts values
//! (modules `options` and `events`, whose TypeScript types are generated from
//! them) and forwards them. The npm package `@chorus/client` wraps it
//! in an idiomatic TypeScript API.
//!
//! Events reach JavaScript through one callback, in the order the machine
//! emitted them. The callback may call back into the client: calls made while
//! events are being delivered queue their events behind the current ones.

mod codec;
mod events;
mod host;
mod options;
mod transport;

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::{Rc, Weak};

use chorus_protocol::client::{Action, ClientMachine, SubscribeOptions};
use chorus_protocol::message::{
    BroadcastRequest, ChannelRequest, Empty, Error, HistoryRequest, PublishRequest, RefreshRequest,
    RpcRequest, SendRequest,
};
use chorus_protocol::{ErrorCode, Payload, Request};
use tsify::Ts;
use wasm_bindgen::prelude::*;

pub use codec::server_frame_to_json;

use crate::events::WasmEvent;
use crate::host::Timer;
pub use crate::options::WasmOptions;
use crate::transport::{SocketEvent, Transport};

/// A Chorus client driven from JavaScript.
#[wasm_bindgen]
pub struct WasmClient {
    shared: Rc<Shared>,
}

/// State reachable from the socket and timer callbacks (through a `Weak`, so
/// that freeing the client frees everything).
struct Shared {
    io: RefCell<Io>,
    on_event: js_sys::Function,
    outbox: RefCell<VecDeque<JsValue>>,
    delivering: Cell<bool>,
}

/// The machine and the resources that perform its actions.
struct Io {
    machine: ClientMachine,
    constructor: js_sys::Function,
    transport: Option<Transport>,
    /// Generation of the current transport; events of older ones are ignored.
    generation: u64,
    timer: Option<Timer>,
    me: Weak<Shared>,
}

#[wasm_bindgen]
impl WasmClient {
    /// A client for `url` with `options` (camelCase names of the protocol's
    /// `ClientConfig`); `web_socket` is the WebSocket constructor to use;
    /// `on_event` receives every event.
    #[wasm_bindgen(constructor)]
    pub fn new(
        url: String,
        options: Ts<WasmOptions>,
        web_socket: js_sys::Function,
        #[wasm_bindgen(unchecked_param_type = "(event: WasmEvent) => void")]
        on_event: js_sys::Function,
    ) -> Result<WasmClient, JsError> {
        let options: WasmOptions = options
            .to_rust()
            .map_err(|e| JsError::new(&format!("invalid options: {e}")))?;
        let config = options
            .into_config(url, host::random_seed())
            .map_err(|e| JsError::new(&e))?;
        let shared = Rc::new_cyclic(|me: &Weak<Shared>| {
            let weak = me.clone();
            let timer = Timer::new(move || {
                if let Some(shared) = weak.upgrade() {
                    shared.on_timer();
                }
            });
            Shared {
                io: RefCell::new(Io {
                    machine: ClientMachine::new(config),
                    constructor: web_socket,
                    transport: None,
                    generation: 0,
                    timer: Some(timer),
                    me: me.clone(),
                }),
                on_event,
                outbox: RefCell::new(VecDeque::new()),
                delivering: Cell::new(false),
            }
        });
        Ok(WasmClient { shared })
    }

    /// Starts connecting (and keeps reconnecting until `disconnect` or a terminal close).
    pub fn connect(&self) {
        self.shared.input(|m, now| m.connect(now));
    }

    /// Closes the connection and stops reconnecting; subscriptions are kept for the next `connect`.
    pub fn disconnect(&self) {
        self.shared.input(|m, now| m.disconnect(now));
    }

    /// The connection state: `disconnected`, `connecting`, `connected` or `closed`.
    #[wasm_bindgen(unchecked_return_type = "ConnectionState")]
    pub fn state(&self) -> String {
        self.shared.io.borrow().machine.state().name().to_owned()
    }

    /// Subscribes to `channel`, optionally with subscribe data (JSON text or
    /// bytes) and a position to recover from.
    pub fn subscribe(
        &self,
        channel: &str,
        data: Option<Vec<u8>>,
        since_offset: Option<f64>,
        since_epoch: Option<String>,
    ) -> Result<(), JsValue> {
        let options = SubscribeOptions {
            data: data.map(Payload::new),
            since: events::position(since_offset, since_epoch),
        };
        let result = self
            .shared
            .input(|m, now| m.subscribe(now, channel, options));
        result.map_err(|e| events::error_to_js(&e))
    }

    /// Leaves `channel`.
    pub fn unsubscribe(&self, channel: &str) {
        self.shared.input(|m, now| m.unsubscribe(now, channel));
    }

    /// The subscription state of `channel`: `unsubscribed`, `subscribing` or `subscribed`.
    #[wasm_bindgen(js_name = subscriptionState, unchecked_return_type = "SubscriptionState")]
    pub fn subscription_state(&self, channel: &str) -> String {
        let io = self.shared.io.borrow();
        io.machine.subscription_state(channel).name().to_owned()
    }

    /// Publishes `data` to `channel`; returns the request id its `reply` event carries.
    pub fn publish(
        &self,
        channel: String,
        data: Vec<u8>,
        idempotency_key: Option<String>,
    ) -> Result<f64, JsValue> {
        self.request(Request::Publish(PublishRequest {
            channel,
            data: Payload::new(data),
            idempotency_key,
        }))
    }

    /// Sends `data` to every connection of `user`.
    pub fn send(&self, user: String, data: Vec<u8>) -> Result<f64, JsValue> {
        self.request(Request::Send(SendRequest {
            user,
            data: Payload::new(data),
        }))
    }

    /// Sends `data` to every connection.
    pub fn broadcast(&self, data: Vec<u8>) -> Result<f64, JsValue> {
        self.request(Request::Broadcast(BroadcastRequest {
            data: Payload::new(data),
        }))
    }

    /// Lists the members of `channel`.
    pub fn presence(&self, channel: String) -> Result<f64, JsValue> {
        self.request(Request::Presence(ChannelRequest { channel }))
    }

    /// Counts the members of `channel`.
    #[wasm_bindgen(js_name = presenceStats)]
    pub fn presence_stats(&self, channel: String) -> Result<f64, JsValue> {
        self.request(Request::PresenceStats(ChannelRequest { channel }))
    }

    /// Reads the history of `channel`.
    pub fn history(
        &self,
        channel: String,
        limit: Option<u32>,
        since_offset: Option<f64>,
        since_epoch: Option<String>,
        reverse: bool,
    ) -> Result<f64, JsValue> {
        self.request(Request::History(HistoryRequest {
            channel,
            limit,
            since: events::position(since_offset, since_epoch),
            reverse,
        }))
    }

    /// Calls the server's RPC handler `method` with `data`.
    pub fn rpc(&self, method: String, data: Vec<u8>) -> Result<f64, JsValue> {
        self.request(Request::Rpc(RpcRequest {
            method,
            data: Payload::new(data),
        }))
    }

    /// Replaces the connection's token without reconnecting.
    pub fn refresh(&self, token: String) -> Result<f64, JsValue> {
        self.request(Request::Refresh(RefreshRequest { token }))
    }

    /// A round trip to the server.
    pub fn ping(&self) -> Result<f64, JsValue> {
        self.request(Request::Ping(Empty {}))
    }

    /// Answers a `fetch_token` event with a token.
    #[wasm_bindgen(js_name = setToken)]
    pub fn set_token(&self, token: String) {
        self.shared.input(|m, now| m.set_token(now, token));
    }

    /// Answers a `fetch_token` event with a failure; `temporary` says whether
    /// trying again later may help.
    #[wasm_bindgen(js_name = tokenFailed)]
    pub fn token_failed(&self, message: String, temporary: bool) {
        let mut error = Error::new(ErrorCode::UNAUTHORIZED, message);
        error.temporary = temporary;
        self.shared.input(|m, now| m.token_failed(now, error));
    }

    /// The inbox position `{offset, epoch}` to persist, or `undefined`.
    #[wasm_bindgen(js_name = inboxPosition, unchecked_return_type = "StreamPosition | undefined")]
    pub fn inbox_position(&self) -> JsValue {
        let io = self.shared.io.borrow();
        io.machine
            .inbox_position()
            .and_then(|p| events::to_js(&events::StreamPosition::from(p)).ok())
            .unwrap_or(JsValue::UNDEFINED)
    }

    fn request(&self, request: Request) -> Result<f64, JsValue> {
        let result = self.shared.input(|m, now| m.request(now, request));
        result
            .map(|id| id.0 as f64)
            .map_err(|e| events::error_to_js(&e))
    }
}

impl Shared {
    /// Feeds one input to the machine, performs what it asks, then delivers events.
    fn input<T>(&self, f: impl FnOnce(&mut ClientMachine, u64) -> T) -> T {
        let out = {
            let mut io = self.io.borrow_mut();
            let out = f(&mut io.machine, host::now_ms());
            io.perform(&mut self.outbox.borrow_mut());
            out
        };
        self.deliver();
        out
    }

    fn on_timer(&self) {
        if let Some(timer) = self.io.borrow_mut().timer.as_mut() {
            timer.fired();
        }
        self.input(|m, now| m.handle_timeout(now));
    }

    fn on_socket(&self, generation: u64, event: SocketEvent) {
        if self.io.borrow().generation != generation {
            return;
        }
        match event {
            SocketEvent::Open => self.input(|m, now| m.transport_opened(now)),
            SocketEvent::Message(bytes) => self.input(|m, now| m.handle_frame(now, &bytes)),
            SocketEvent::Close { code, reason } => {
                self.io.borrow_mut().transport = None;
                self.input(|m, now| m.transport_closed(now, code, &reason))
            }
        }
    }

    /// Hands queued events to JavaScript unless an outer call is already doing so.
    fn deliver(&self) {
        if self.delivering.replace(true) {
            return;
        }
        loop {
            let next = self.outbox.borrow_mut().pop_front();
            let Some(event) = next else { break };
            // An exception thrown by the application's handler is its own
            // business; the client goes on.
            let _ = self.on_event.call1(&JsValue::NULL, &event);
        }
        self.delivering.set(false);
    }
}

impl Io {
    /// Performs every pending action in order; events go to `outbox`.
    fn perform(&mut self, outbox: &mut VecDeque<JsValue>) {
        while let Some(action) = self.machine.poll_action() {
            match action {
                Action::OpenTransport { url, subprotocol } => self.open(&url, subprotocol),
                Action::Send { bytes, binary } => {
                    if let Some(t) = &self.transport {
                        t.send(&bytes, binary);
                    }
                }
                Action::CloseTransport(reason) => {
                    self.generation += 1;
                    if let Some(t) = self.transport.take() {
                        t.close(reason.code.0, &reason.reason);
                    }
                }
                Action::ArmTimer { at } => {
                    if let Some(timer) = self.timer.as_mut() {
                        timer.arm(at);
                    }
                }
                Action::FetchToken => outbox.extend(events::to_js(&WasmEvent::FetchToken).ok()),
                Action::Emit(event) => {
                    let inbox = self.machine.inbox_position();
                    match events::to_js(&WasmEvent::of(&event, inbox)) {
                        Ok(js) => outbox.push_back(js),
                        Err(e) => web_sys::console::error_1(&e),
                    }
                }
            }
        }
    }

    fn open(&mut self, url: &str, subprotocol: &str) {
        self.generation += 1;
        self.transport = None;
        let generation = self.generation;
        let me = self.me.clone();
        let sink: transport::Sink = Rc::new(move |generation, event| {
            if let Some(shared) = me.upgrade() {
                shared.on_socket(generation, event);
            }
        });
        match Transport::open(&self.constructor, url, subprotocol, generation, sink) {
            Ok(t) => self.transport = Some(t),
            Err(reason) => {
                let now = host::now_ms();
                self.machine.transport_closed(now, None, &reason);
            }
        }
    }
}
