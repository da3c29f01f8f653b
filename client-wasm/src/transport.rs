//! The WebSocket: opened with the constructor the application chose (the
//! browser's, or a Node.js implementation such as `ws`), with its four handlers
//! owned here and detached when the transport is dropped, so a reconnect leaves
//! no closure behind.

use wasm_bindgen::prelude::*;
use web_sys::{BinaryType, CloseEvent, MessageEvent, WebSocket};

/// What the socket reports, tagged by the generation of the transport it came
/// from so that events of an abandoned socket are ignored.
pub enum SocketEvent {
    /// The WebSocket upgrade succeeded (`open`): the machine sends `connect` next.
    Open,
    /// One message (text frames as their UTF-8 bytes).
    Message(Vec<u8>),
    /// The socket closed (`code` is absent when the close had none).
    Close { code: Option<u16>, reason: String },
}

/// Where the socket's events go.
pub type Sink = std::rc::Rc<dyn Fn(u64, SocketEvent)>;

thread_local! {
    /// The `error` handler of every socket, never freed. A socket keeps it after
    /// it is dropped: Node.js's `ws` emits `error` when a socket still
    /// connecting is closed (a connect timeout, `disconnect()`), and an
    /// `error` with no listener there is an uncaught exception. The close
    /// event carries the news.
    static IGNORE_ERROR: Closure<dyn FnMut()> = Closure::new(|| {});
}

/// One WebSocket with its handlers.
pub struct Transport {
    socket: WebSocket,
    _on_open: Closure<dyn FnMut()>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_close: Closure<dyn FnMut(CloseEvent)>,
}

impl Transport {
    /// Opens `url` offering `subprotocol`; events go to `sink` tagged with `generation`.
    pub fn open(
        constructor: &js_sys::Function,
        url: &str,
        subprotocol: &str,
        generation: u64,
        sink: Sink,
    ) -> Result<Transport, String> {
        let args = js_sys::Array::of2(&url.into(), &subprotocol.into());
        let socket: WebSocket = js_sys::Reflect::construct(constructor, &args)
            .map_err(describe)?
            .unchecked_into();
        socket.set_binary_type(BinaryType::Arraybuffer);

        let s = sink.clone();
        let on_open = Closure::<dyn FnMut()>::new(move || s(generation, SocketEvent::Open));
        let s = sink.clone();
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
            let data = e.data();
            let bytes = match data.as_string() {
                Some(text) => text.into_bytes(),
                None => js_sys::Uint8Array::new(&data).to_vec(),
            };
            s(generation, SocketEvent::Message(bytes));
        });
        let s = sink.clone();
        let on_close = Closure::<dyn FnMut(CloseEvent)>::new(move |e: CloseEvent| {
            // 1005: no status was received; 1006: the connection dropped.
            let code = Some(e.code()).filter(|c| !matches!(c, 1005 | 1006));
            s(
                generation,
                SocketEvent::Close {
                    code,
                    reason: e.reason(),
                },
            );
        });

        socket.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        socket.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        socket.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        IGNORE_ERROR.with(|f| socket.set_onerror(Some(f.as_ref().unchecked_ref())));
        Ok(Transport {
            socket,
            _on_open: on_open,
            _on_message: on_message,
            _on_close: on_close,
        })
    }

    /// Sends one message; a socket that is not open drops it (its close event follows).
    pub fn send(&self, bytes: &[u8], binary: bool) {
        let _ = if binary {
            self.socket.send_with_u8_array(bytes)
        } else {
            match std::str::from_utf8(bytes) {
                Ok(text) => self.socket.send_with_str(text),
                Err(_) => return,
            }
        };
    }

    /// Closes with a code and reason; falls back to a plain close where the
    /// host refuses them (browsers accept only 1000 and 3000–4999, and reasons
    /// of at most 123 bytes).
    pub fn close(self, code: u16, reason: &str) {
        if self
            .socket
            .close_with_code_and_reason(code, truncate(reason, 123))
            .is_err()
        {
            let _ = self.socket.close();
        }
    }
}

impl Drop for Transport {
    fn drop(&mut self) {
        // Detach the handlers before their closures are freed: a late event of
        // this socket must find nothing to call (the `error` handler stays).
        self.socket.set_onopen(None);
        self.socket.set_onmessage(None);
        self.socket.set_onclose(None);
        if self.socket.ready_state() <= WebSocket::OPEN {
            let _ = self.socket.close();
        }
    }
}

/// The longest prefix of `s` of at most `max` bytes that ends on a char boundary.
fn truncate(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// A readable message for a JS exception.
pub fn describe(error: JsValue) -> String {
    error
        .dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| error.as_string())
        .unwrap_or_else(|| "WebSocket could not be opened".to_owned())
}
