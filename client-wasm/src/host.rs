//! What the JavaScript host provides: a monotonic clock, randomness and timers.
//!
//! Bound to the globals that browsers and Node.js 20+ share (`performance.now`,
//! `crypto.getRandomValues`, `setTimeout`), so one build serves both.

use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = performance, js_name = now)]
    fn performance_now() -> f64;

    #[wasm_bindgen(js_namespace = crypto, js_name = getRandomValues)]
    fn get_random_values(buffer: &js_sys::Uint8Array);

    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(handler: &js_sys::Function, delay_ms: f64) -> JsValue;

    #[wasm_bindgen(js_name = clearTimeout)]
    fn clear_timeout(handle: &JsValue);
}

/// Milliseconds on the host's monotonic clock, the state machine's `now`.
pub fn now_ms() -> u64 {
    performance_now().max(0.0) as u64
}

/// A random seed for the backoff jitter, from the host's CSPRNG.
pub fn random_seed() -> u64 {
    let buffer = js_sys::Uint8Array::new_with_length(8);
    get_random_values(&buffer);
    let mut bytes = [0u8; 8];
    buffer.copy_to(&mut bytes);
    u64::from_le_bytes(bytes)
}

/// The machine's single timer: one JS callback, created once and re-armed with
/// `setTimeout`, so arming never allocates a new closure.
pub struct Timer {
    callback: Closure<dyn FnMut()>,
    handle: Option<JsValue>,
}

impl Timer {
    /// A disarmed timer that calls `on_fire` when it fires.
    pub fn new(on_fire: impl FnMut() + 'static) -> Self {
        Timer {
            callback: Closure::new(on_fire),
            handle: None,
        }
    }

    /// (Re)arms the timer for `at` on the [`now_ms`] clock.
    pub fn arm(&mut self, at: u64) {
        self.cancel();
        let delay = at.saturating_sub(now_ms()) as f64;
        self.handle = Some(set_timeout(self.callback.as_ref().unchecked_ref(), delay));
    }

    /// Forgets the pending firing, if any.
    pub fn cancel(&mut self) {
        if let Some(handle) = self.handle.take() {
            clear_timeout(&handle);
        }
    }

    /// Called from the callback: the firing is no longer pending.
    pub fn fired(&mut self) {
        self.handle = None;
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        self.cancel();
    }
}
