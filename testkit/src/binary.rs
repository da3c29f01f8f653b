//! Finding the `nats-server` binary, and refusing one too old for Chorus.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// Oldest usable server: Chorus nodes use batched direct reads and
/// per-message TTLs (2.11) and atomic batch publishes (2.12), and async-nats
/// 0.51 fails against 2.9 outright.
const MIN_VERSION: (u32, u32) = (2, 12);

/// The `nats-server` binary to run.
///
/// Looked up, in order: the environment variable `CHORUS_NATS_SERVER` (an
/// explicit choice, used even if broken so that a mistake is reported rather
/// than silently bypassed); `target/tools/bin/nats-server` in the workspace,
/// where `./scripts/setup` installs the pinned version; `nats-server` on
/// `PATH`. The binary must run and report version 2.12 or newer.
///
/// # Panics
///
/// If no usable binary is found, with a message saying to run `./scripts/setup`.
pub fn nats_server_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(find_nats_server).clone()
}

fn find_nats_server() -> PathBuf {
    const HINT: &str = "run ./scripts/setup (it installs the pinned nats-server into \
                        target/tools/bin), or set CHORUS_NATS_SERVER to a nats-server binary";
    if let Some(path) = std::env::var_os("CHORUS_NATS_SERVER").filter(|v| !v.is_empty()) {
        let path = PathBuf::from(path);
        if let Err(e) = check_version(&path) {
            panic!("CHORUS_NATS_SERVER={}: {e}; {HINT}", path.display());
        }
        return path;
    }
    let tools = workspace_root().join("target/tools/bin/nats-server");
    let on_path = std::env::var_os("PATH").and_then(|dirs| {
        std::env::split_paths(&dirs)
            .map(|dir| dir.join("nats-server"))
            .find(|p| p.is_file())
    });
    let mut problems = Vec::new();
    for candidate in [Some(tools.clone()), on_path].into_iter().flatten() {
        if !candidate.exists() {
            continue;
        }
        match check_version(&candidate) {
            Ok(()) => return candidate,
            Err(e) => problems.push(format!("{}: {e}", candidate.display())),
        }
    }
    if problems.is_empty() {
        panic!(
            "nats-server not found (not set in CHORUS_NATS_SERVER, not at {}, not on PATH); {HINT}",
            tools.display()
        );
    }
    panic!("no usable nats-server ({}); {HINT}", problems.join("; "));
}

/// Runs `<bin> --version` and checks it reports at least [`MIN_VERSION`].
fn check_version(bin: &Path) -> Result<(), String> {
    let out = Command::new(bin)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run it: {e}"))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = text.trim();
    if !out.status.success() {
        return Err(format!("`--version` failed ({}): {text}", out.status));
    }
    check_version_text(text)
}

/// Checks a `--version` output such as `nats-server: v2.15.1`.
fn check_version_text(text: &str) -> Result<(), String> {
    let version = text
        .rsplit('v')
        .next()
        .unwrap_or_default()
        .split('.')
        .map(|n| n.trim().parse::<u32>().ok())
        .collect::<Vec<_>>();
    match version.as_slice() {
        [Some(major), Some(minor), ..] if (*major, *minor) >= MIN_VERSION => Ok(()),
        [Some(_), Some(_), ..] => Err(format!(
            "{text} is too old (need {}.{} or newer; Debian's package is 2.9)",
            MIN_VERSION.0, MIN_VERSION.1
        )),
        _ => Err(format!("cannot read a version from `--version`: {text:?}")),
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the testkit crate lives in a folder of the workspace")
        .to_path_buf()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_older_than_2_12_are_refused() {
        for (text, ok) in [
            ("nats-server: v2.9.10", false),
            ("nats-server: v2.10.29", false),
            ("nats-server: v2.11.9", false),
            ("nats-server: v2.12.0", true),
            ("nats-server: v2.15.1", true),
            ("nats-server: v3.0.0-beta", true),
            ("something else", false),
        ] {
            assert_eq!(check_version_text(text).is_ok(), ok, "{text}");
        }
    }
}
