//! Writes the shared test vectors, or checks that the files on disk are current.
//!
//! ```text
//! cargo run -p chorus-conformance --bin gen-vectors            # write conformance/vectors/
//! cargo run -p chorus-conformance --bin gen-vectors -- --check # exit 1 if they are stale
//! cargo run -p chorus-conformance --bin gen-vectors -- DIR     # write elsewhere
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use chorus_conformance::vectors;

fn main() -> ExitCode {
    let mut check = false;
    let mut dir = None;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--check" => check = true,
            "-h" | "--help" => {
                println!("usage: gen-vectors [--check] [DIR]");
                return ExitCode::SUCCESS;
            }
            _ if dir.is_none() && !arg.starts_with('-') => dir = Some(PathBuf::from(arg)),
            _ => {
                eprintln!("gen-vectors: unexpected argument `{arg}`");
                return ExitCode::from(2);
            }
        }
    }
    let dir = dir.unwrap_or_else(vectors::default_dir);
    if check {
        match vectors::check(&dir) {
            Ok(()) => {
                println!("vectors in {} are up to date", dir.display());
                ExitCode::SUCCESS
            }
            Err(stale) => {
                for file in stale {
                    eprintln!("stale: {file}");
                }
                eprintln!("run `cargo run -p chorus-conformance --bin gen-vectors` to regenerate");
                ExitCode::FAILURE
            }
        }
    } else {
        match vectors::write(&dir) {
            Ok(names) => {
                for name in names {
                    println!("wrote {}", dir.join(name).display());
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("gen-vectors: {e}");
                ExitCode::FAILURE
            }
        }
    }
}
