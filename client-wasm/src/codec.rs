//! The protocol's decoder as the client uses it, exposed so that JavaScript
//! tests can check that the wasm build decodes exactly like the native one
//! (the shared vectors in `conformance/vectors/`).
//!
//! Only the server-to-client direction is exposed: a client-side decoder of
//! client frames would ship about 23 KB of code no application needs.

use chorus_protocol::{Codec, ServerFrame};
use wasm_bindgen::prelude::*;

/// Decodes a server frame in codec `codec` (`json` or `msgpack`) and returns
/// its JSON text as the reference encoder writes it. A frame the protocol
/// rejects throws an error whose message starts with its error code.
#[wasm_bindgen(js_name = serverFrameToJson)]
pub fn server_frame_to_json(bytes: &[u8], codec: &str) -> Result<String, JsError> {
    let codec =
        Codec::from_name(codec).ok_or_else(|| JsError::new(&format!("unknown codec {codec:?}")))?;
    let frame: ServerFrame = codec
        .decode_server(bytes)
        .map_err(|e| JsError::new(&format!("{}: {e}", e.error_code().0)))?;
    serde_json::to_string(&frame).map_err(|e| JsError::new(&e.to_string()))
}
