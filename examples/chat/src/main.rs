//! `chorus-example-chat`: serve the chat page against a Chorus server.

use std::process::ExitCode;

use chorus_example_support::ServerArgs;
use chorus_example_support::web::{self, ListenArgs};
use clap::Parser;

/// A browser chat with rooms, presence, history, typing indicators and direct
/// messages, on a Chorus server (by default `chorus --dev` on port 8000).
#[derive(Debug, Parser)]
#[command(name = "chorus-example-chat")]
struct Cli {
    #[command(flatten)]
    server: ServerArgs,
    #[command(flatten)]
    listen: ListenArgs,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let port = chorus_example_chat::DEFAULT_PORT;
    web::run(
        "chat",
        port,
        &cli.server,
        &cli.listen,
        chorus_example_chat::app,
    )
    .await
}
