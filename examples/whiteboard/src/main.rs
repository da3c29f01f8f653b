//! `chorus-example-whiteboard`: serve the whiteboard page against a Chorus
//! server, with `--bots N` simulated clients beside it.

use std::process::ExitCode;
use std::sync::Arc;

use chorus_example_support::ServerArgs;
use chorus_example_support::web::{self, ListenArgs};
use chorus_example_whiteboard::{DEFAULT_PORT, app, bots::Bots};
use clap::Parser;

/// A shared whiteboard with live cursors on a Chorus server (by default
/// `chorus --dev` on port 8000), optionally with simulated clients drawing on it.
#[derive(Debug, Parser)]
#[command(name = "chorus-example-whiteboard")]
struct Cli {
    #[command(flatten)]
    server: ServerArgs,
    #[command(flatten)]
    listen: ListenArgs,
    /// Simulated clients (`bot-1`, `bot-2`, ...) that move cursors and draw.
    #[arg(long, default_value_t = 0)]
    bots: usize,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    // As `web::run` does, with the bots started once the page's port is bound.
    let server = match cli.server.discover() {
        Ok(s) => Arc::new(s),
        Err(e) => {
            eprintln!("whiteboard: {e}");
            return ExitCode::from(2);
        }
    };
    let served = async {
        let listener = web::bind(cli.listen.listen, DEFAULT_PORT).await?;
        // Kept until the page stops being served; dropping them disconnects them.
        let _bots = Bots::spawn(server.clone(), cli.bots);
        if cli.bots > 0 {
            println!("whiteboard: {} bots drawing", cli.bots);
        }
        web::serve(listener, app(server.clone()), "whiteboard", &server).await
    };
    match served.await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("whiteboard: {e}");
            ExitCode::FAILURE
        }
    }
}
