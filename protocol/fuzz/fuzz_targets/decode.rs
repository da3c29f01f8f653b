//! Decoding arbitrary bytes never panics, and whatever decodes re-encodes to a
//! frame that decodes to the same value. Run with `cargo +nightly fuzz run decode`
//! from `protocol/`.
#![no_main]

use chorus_protocol::Codec;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for codec in [Codec::Json, Codec::MessagePack] {
        if let Ok(frame) = codec.decode_client(data) {
            let bytes = codec.encode_client(&frame).expect("decoded frames encode");
            assert_eq!(codec.decode_client(&bytes).expect("re-decodes"), frame);
        }
        if let Ok(frame) = codec.decode_server(data) {
            let bytes = codec.encode_server(&frame).expect("decoded frames encode");
            assert_eq!(codec.decode_server(&bytes).expect("re-decodes"), frame);
        }
    }
});
