//! Both codecs' decoders, for frames from clients (what a server reads) and
//! from servers (what every SDK reads): arbitrary bytes never panic, and
//! whatever decodes re-encodes to a frame that decodes to the same value, in
//! both the full and the compact server decoder. See `fuzz/README.md`.
#![no_main]

use chorus_protocol::Codec;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for codec in [Codec::Json, Codec::MessagePack] {
        if let Ok(frame) = codec.decode_client(data) {
            let bytes = codec.encode_client(&frame).expect("decoded frames encode");
            assert_eq!(codec.decode_client(&bytes).expect("re-decodes"), frame);
        }
        let full = codec.decode_server(data);
        assert_eq!(
            full.as_ref().ok(),
            codec.decode_server_compact(data).as_ref().ok(),
            "the compact decoder agrees"
        );
        if let Ok(frame) = full {
            let bytes = codec.encode_server(&frame).expect("decoded frames encode");
            assert_eq!(codec.decode_server(&bytes).expect("re-decodes"), frame);
        }
    }
});
