//! `chorus-bench`: run the benchmark scenarios against Chorus and Centrifugo.

use std::process::ExitCode;

use chorus_bench::cli::Options;
use clap::Parser;

fn main() -> ExitCode {
    let mut options = Options::parse();
    if options.smoke {
        options.apply_smoke();
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("chorus-bench: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(chorus_bench::scenarios::run(options)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("chorus-bench: {e}");
            ExitCode::from(2)
        }
    }
}
