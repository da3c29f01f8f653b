//! Runs the embedded Chorus example: `chorus-example-embedded [--listen ADDR]`.

use std::net::SocketAddr;
use std::process::ExitCode;

use chorus_example_embedded::{CLOCK_CHANNEL, DEFAULT_LISTEN, spawn_clock, start};

/// The `--listen` address, or [`DEFAULT_LISTEN`].
fn listen_arg() -> Result<SocketAddr, String> {
    let mut args = std::env::args().skip(1);
    let mut listen = DEFAULT_LISTEN.to_owned();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--listen" => listen = args.next().ok_or("--listen needs an address")?,
            other => {
                return Err(format!(
                    "unknown argument {other:?}; usage: [--listen ADDR]"
                ));
            }
        }
    }
    listen
        .parse()
        .map_err(|e| format!("--listen {listen:?}: {e}"))
}

#[tokio::main]
async fn main() -> ExitCode {
    // Logging is the embedder's choice: the server only emits `tracing` events.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let listen = match listen_arg() {
        Ok(addr) => addr,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let server = match start(listen).await {
        Ok(server) => server,
        Err(e) => {
            eprintln!("cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let addr = server.local_addr();
    tracing::info!("listening: demo page at http://{addr}/, WebSocket at ws://{addr}/ws");
    tracing::info!("publishing a tick to {CLOCK_CHANNEL} every second");
    // The handle stays usable while the server runs, from any task.
    let clock = spawn_clock(server.handle());
    server
        .run_until(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await;
    clock.abort();
    ExitCode::SUCCESS
}
