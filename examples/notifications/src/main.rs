//! `chorus-example-notifications`: serve the notifications page and its
//! backend against a Chorus server.

use std::process::ExitCode;

use chorus_example_support::ServerArgs;
use chorus_example_support::web::{self, ListenArgs};
use clap::Parser;

/// Live notifications from a backend through the server API: per user (kept in
/// the user's inbox while they are offline) and broadcast (live only), on a
/// Chorus server (by default `chorus --dev` on port 8000).
#[derive(Debug, Parser)]
#[command(name = "chorus-example-notifications")]
struct Cli {
    #[command(flatten)]
    server: ServerArgs,
    #[command(flatten)]
    listen: ListenArgs,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let port = chorus_example_notifications::DEFAULT_PORT;
    web::run(
        "notifications",
        port,
        &cli.server,
        &cli.listen,
        chorus_example_notifications::app,
    )
    .await
}
