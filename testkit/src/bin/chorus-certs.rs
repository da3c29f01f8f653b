//! `chorus-certs DIR`: writes a CA (`ca.pem`) and a certificate it signed for
//! 127.0.0.1 and localhost (`cert.pem`, `key.pem`) into DIR, for tests in other
//! languages that need a TLS node (the Kotlin and browser tests).

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(dir) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: chorus-certs DIR");
        return ExitCode::from(2);
    };
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("chorus-certs: {}: {e}", dir.display());
        return ExitCode::FAILURE;
    }
    chorus_testkit::write_certificates(&dir);
    println!("{}", dir.display());
    ExitCode::SUCCESS
}
