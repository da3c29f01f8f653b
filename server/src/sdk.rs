//! The browser SDK (`@chorus/client`) served at `/sdk/` for the demo page.
//!
//! A copy of the built package lives in `server/assets/sdk/`, committed so that
//! `cargo run -p chorus-server -- --dev` needs no wasm toolchain;
//! `scripts/build-client-ts` refreshes it and the test command fails while the
//! committed copy differs from a fresh build.

use axum::Router;
use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// Every file of the copy: its path under `/sdk/` and its bytes.
macro_rules! files {
    ($($path:literal),* $(,)?) => {
        &[$(($path, include_bytes!(concat!("../assets/sdk/", $path)) as &[u8])),*]
    };
}

/// The package's browser ES modules and its wasm module, as `npm pack` ships them.
pub const FILES: &[(&str, &[u8])] = files![
    "dist/api.js",
    "dist/client.js",
    "dist/data.js",
    "dist/emitter.js",
    "dist/errors.js",
    "dist/index.js",
    "dist/init.js",
    "dist/manual.js",
    "dist/subscription.js",
    "dist/types.js",
    "dist/wasm.js",
    "wasm/chorus_wasm.js",
    "wasm/chorus_wasm_bg.wasm",
];

/// The `/sdk/...` routes.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new().route("/sdk/{*path}", get(file))
}

async fn file(Path(path): Path<String>) -> Response {
    let Some((_, body)) = FILES.iter().find(|(p, _)| *p == path) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let content_type = if path.ends_with(".wasm") {
        "application/wasm"
    } else {
        "text/javascript; charset=utf-8"
    };
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        *body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::FILES;

    #[test]
    fn every_file_of_the_committed_copy_is_served() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/sdk");
        let mut on_disk = Vec::new();
        for dir in ["dist", "wasm"] {
            for entry in std::fs::read_dir(format!("{root}/{dir}")).unwrap() {
                let name = entry.unwrap().file_name().into_string().unwrap();
                on_disk.push(format!("{dir}/{name}"));
            }
        }
        on_disk.sort();
        let served: Vec<String> = FILES.iter().map(|(p, _)| (*p).to_owned()).collect();
        assert_eq!(on_disk, served);
        let wasm = FILES.iter().find(|(p, _)| p.ends_with(".wasm")).unwrap().1;
        assert_eq!(&wasm[..4], b"\0asm");
    }
}
