//! Every command in the repository's documentation is accounted for, so the
//! docs cannot rot unnoticed.
//!
//! The commands are the lines of every ```` ```sh ```` block of every Markdown
//! file (continuations joined, comments dropped). [`LEDGER`] says, for each one,
//! which test or script of `./scripts/test` runs it, or exercises what it does
//! in a smaller form, and the text in that file that shows it; or why it cannot
//! run on a Linux CI machine. The check goes both ways: a documented command
//! without a row fails, and so does a row whose command the docs no longer
//! show. On top of that, what can be checked cheaply is: the scripts named
//! exist and are executable, the `cargo -p` packages and `--bin` targets exist,
//! and the steps named in `./scripts/test STEP` are steps of `--list`.
//! (docs/api.md's curl examples and docs/configuration.md's environment example
//! are run by `docs.rs`.)

mod markdown;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use markdown::{fenced, shell_commands, shell_words, without_comment};

/// How a documented command is kept honest.
#[derive(Debug, Clone, Copy)]
enum Proof {
    /// `file` runs this command, or the same program with the same arguments
    /// on its own ports and directories; `shows` is the text in it that does.
    Runs {
        file: &'static str,
        shows: &'static str,
    },
    /// `file` exercises what the command does in a smaller or equivalent form
    /// (`how`); `shows` is the text in it that does.
    Covers {
        file: &'static str,
        shows: &'static str,
        how: &'static str,
    },
    /// Not run by the test command, and why.
    NotRun { why: &'static str },
}

use Proof::{Covers, NotRun, Runs};

/// One row per distinct documented command (compared after
/// [`without_comment`]); a row ending in `*` matches every command with that
/// prefix.
const LEDGER: &[(&str, Proof)] = &[
    // README.md: the quick start.
    (
        "cargo run --release -p chorus-server -- --dev",
        Runs {
            file: "server/tests/e2e/processes.mjs",
            shows: "['--dev', '--listen', '127.0.0.1:0']",
        },
    ),
    (
        "./scripts/build-client-ts --pack",
        Runs {
            file: "scripts/test",
            shows: "|./scripts/build-client-ts --pack\"",
        },
    ),
    (
        "CHORUS=$PWD && cd /path/to/my-app && npm install \"$CHORUS/target/npm/chorus-client-0.1.0.tgz\"",
        Runs {
            file: "client-ts/test/unit/package.test.mjs",
            shows: "['install', '--offline', '--no-audit', '--no-fund', `../${filename}`]",
        },
    ),
    (
        "./scripts/test",
        Runs {
            file: ".ci/run",
            shows: "scripts/test",
        },
    ),
    (
        "./scripts/test --list",
        Runs {
            file: "server/tests/doc_commands.rs",
            shows: "\"--list\"",
        },
    ),
    (
        "./scripts/test clippy",
        Runs {
            file: "scripts/test",
            shows: "\"clippy|",
        },
    ),
    (
        "./scripts/test setup wasm",
        Runs {
            file: "scripts/test",
            shows: "\"wasm|",
        },
    ),
    (
        "./scripts/setup",
        Runs {
            file: "scripts/test",
            shows: "|./scripts/setup\"",
        },
    ),
    (
        "./scripts/setup && cargo build -p chorus-server",
        Runs {
            file: "scripts/test-e2e",
            shows: "cargo build -p chorus-server",
        },
    ),
    (
        "cargo build -p chorus-server && ./scripts/setup",
        Runs {
            file: "scripts/test-kotlin",
            shows: "cargo build -p chorus-server",
        },
    ),
    // Tokens.
    (
        "cargo run --release -p chorus-server -- token --dev alice --subscribe 'chat:*' --ttl 1h",
        Covers {
            file: "server/tests/token_command.rs",
            shows: "\"--ttl\",",
            how: "the same subcommand of the built binary against a development node on its own port",
        },
    ),
    (
        "chorus token alice --subscribe 'chat:*' --publish chat:lobby --info '{\"name\":\"Alice\"}' --ttl 24h",
        Covers {
            file: "server/src/gentoken.rs",
            shows: "fn the_node_accepts_what_it_mints_with_issuer_and_audience",
            how: "the same claims minted from a configured secret and verified by the node's verifier",
        },
    ),
    (
        "chorus token --dev bob",
        Covers {
            file: "server/tests/token_command.rs",
            shows: "\"--dev\",",
            how: "`--dev` against a development node; the port is the test's own instead of 8000",
        },
    ),
    // Benchmarks.
    (
        "bench/run.sh --smoke",
        Runs {
            file: "scripts/test",
            shows: "|./bench/run.sh --smoke\"",
        },
    ),
    (
        "bench/run.sh",
        Covers {
            file: "scripts/test",
            shows: "./bench/run.sh --smoke",
            how: "every scenario at tiny size; the full run is a measurement of minutes, side by side with Centrifugo",
        },
    ),
    (
        "bench/run.sh --soak 300",
        Covers {
            file: "bench/src/cli.rs",
            shows: "fn documented_invocations_parse",
            how: "the documented options parse; the soak scenario runs in the smoke",
        },
    ),
    (
        "bench/run.sh --scenarios fanout --fanout-sizes 1000 --targets chorus",
        Covers {
            file: "bench/src/cli.rs",
            shows: "fn documented_invocations_parse",
            how: "the documented options parse; fan-out runs in the smoke",
        },
    ),
    (
        "bench/run.sh --scenarios fanout --fanout-sizes 1000 --duration 30",
        Covers {
            file: "bench/src/cli.rs",
            shows: "fn documented_invocations_parse",
            how: "the documented options parse; fan-out runs in the smoke",
        },
    ),
    (
        "bench/run.sh --targets chorus --chorus-bin CHORUS --scenarios fanout --fanout-sizes 1000,10000",
        Covers {
            file: "bench/src/cli.rs",
            shows: "fn documented_invocations_parse",
            how: "the documented options parse; fan-out runs in the smoke",
        },
    ),
    (
        "BENCH_IDLE_SIZES=10000,100000 bench/run.sh --scenarios idle",
        Covers {
            file: "bench/src/cli.rs",
            shows: "env = \"BENCH_IDLE_SIZES\"",
            how: "the variable is the option's source; idle runs in the smoke",
        },
    ),
    (
        "bench/run.sh --scenarios history",
        Covers {
            file: "bench/src/cli.rs",
            shows: "fn documented_invocations_parse",
            how: "the documented options parse; the history scenario runs in the smoke",
        },
    ),
    // The chaos suite.
    (
        "./scripts/chaos --short",
        Runs {
            file: "scripts/test",
            shows: "|./scripts/chaos --short\"",
        },
    ),
    (
        "./scripts/chaos",
        Covers {
            file: "scripts/test",
            shows: "./scripts/chaos --short",
            how: "the same suite, three of its scenarios at a smaller size; a full run of every scenario takes about ten minutes",
        },
    ),
    (
        "./scripts/chaos --runs *",
        Covers {
            file: "testkit/chaos/src/main.rs",
            shows: "fn documented_invocations_parse",
            how: "the documented options parse; the scenarios run in the test command's short runs",
        },
    ),
    // Fuzzing.
    (
        "./scripts/fuzz --short",
        Runs {
            file: "scripts/test",
            shows: "|./scripts/fuzz --short\"",
        },
    ),
    (
        "./scripts/fuzz",
        Covers {
            file: "scripts/test",
            shows: "./scripts/fuzz --short",
            how: "the same targets for 20 s each instead of 5 minutes",
        },
    ),
    (
        "./scripts/fuzz --seconds *",
        Covers {
            file: "scripts/test",
            shows: "./scripts/fuzz --short",
            how: "the same targets for a shorter time",
        },
    ),
    // Conformance.
    (
        "cargo run -p chorus-conformance --bin chorus-conformance -- *",
        Runs {
            file: "conformance/tests/cli.rs",
            shows: "env!(\"CARGO_BIN_EXE_chorus-conformance\")",
        },
    ),
    (
        "target/release/chorus-conformance --ws ws://127.0.0.1:8000/ws --api *",
        Runs {
            file: "conformance/tests/cli.rs",
            shows: "\"--report\"",
        },
    ),
    (
        "target/release/chorus-conformance --ws ws://node1:8000/ws *",
        Covers {
            file: "conformance/tests/cluster.rs",
            shows: "nats",
            how: "the suite against three nodes over a real NATS cluster, as a library",
        },
    ),
    (
        "cargo build --release -p chorus-conformance",
        Covers {
            file: "scripts/test",
            shows: "cargo test --workspace",
            how: "the tests build and run the binary (a debug build)",
        },
    ),
    (
        "cargo run -p chorus-conformance --bin gen-vectors",
        Covers {
            file: "conformance/src/vectors/mod.rs",
            shows: "fn checked_in_vectors_are_up_to_date",
            how: "the generator's output compared with the files on disk",
        },
    ),
    (
        "cargo run -p chorus-conformance --bin gen-vectors -- --check",
        Covers {
            file: "conformance/src/vectors/mod.rs",
            shows: "fn checked_in_vectors_are_up_to_date",
            how: "the same check `--check` makes, as a unit test",
        },
    ),
    // Server configuration and cluster.
    (
        "chorus",
        Covers {
            file: "server/tests/docs.rs",
            shows: "fn environment_example_loads",
            how: "the environment example loads and validates as `chorus` loads it",
        },
    ),
    (
        "chorus --config chorus.toml --nats *",
        Covers {
            file: "server/tests/e2e/admin.test.mjs",
            shows: "'--nats', natsUrl]",
            how: "nodes started with `--nats` over a real NATS server; the docs' hosts are examples",
        },
    ),
    (
        "./scripts/cluster",
        Runs {
            file: "server/tests/e2e/cluster-script.test.mjs",
            shows: "startCluster([])",
        },
    ),
    (
        "./scripts/cluster --nats-only",
        Runs {
            file: "server/tests/e2e/cluster-script.test.mjs",
            shows: "startCluster(['--nats-only'])",
        },
    ),
    // The wasm32 build.
    (
        "./scripts/build-wasm",
        Covers {
            file: "scripts/build-client-ts",
            shows: "./scripts/build-wasm chorus-wasm",
            how: "the same script for chorus-wasm, which builds chorus-protocol for wasm32",
        },
    ),
    (
        "./scripts/build-wasm chorus-protocol chorus-wasm",
        Covers {
            file: "scripts/build-client-ts",
            shows: "./scripts/build-wasm chorus-wasm",
            how: "the same script for chorus-wasm, which builds chorus-protocol for wasm32",
        },
    ),
    (
        "CARGO_TARGET_DIR=target/wasm *",
        Runs {
            file: "scripts/build-wasm",
            shows: "-Zbuild-std=std,panic_abort",
        },
    ),
    // Mobile.
    (
        "./scripts/build-mobile",
        Runs {
            file: "scripts/test-kotlin",
            shows: "./scripts/build-mobile",
        },
    ),
    (
        "cargo build --release -p chorus-mobile",
        Covers {
            file: "scripts/build-mobile",
            shows: "cargo build -p chorus-mobile",
            how: "a debug build of the same library",
        },
    ),
    (
        "mvn -f client-mobile/kotlin/pom.xml install -DskipTests -Dchorus.lib.dir=\"$PWD/target/release\"",
        Covers {
            file: "scripts/test-kotlin",
            shows: "-f client-mobile/kotlin/pom.xml install -DskipTests",
            how: "the same install with the debug library, then an app built against it runs",
        },
    ),
    (
        "strip -o /tmp/libchorus_mobile.so target/release/libchorus_mobile.so",
        NotRun {
            why: "measures the release library's size for docs/mobile.md; the tests build it in debug",
        },
    ),
    (
        "stat -c %s /tmp/libchorus_mobile.so; gzip -9 -c /tmp/libchorus_mobile.so | wc -c",
        NotRun {
            why: "measures the release library's size for docs/mobile.md; the tests build it in debug",
        },
    ),
    (
        "./scripts/build-xcframework",
        NotRun {
            why: "macOS with Xcode only",
        },
    ),
    (
        "cd client-mobile/swift && swift test",
        NotRun {
            why: "needs a Swift toolchain, which these Linux machines lack",
        },
    ),
    // Operations.
    (
        "cd server/tests/e2e && ADMIN_SCREENSHOT=*",
        Runs {
            file: "server/tests/e2e/admin.test.mjs",
            shows: "process.env.ADMIN_SCREENSHOT",
        },
    ),
    // Examples.
    (
        "cargo run -p chorus-example-chat-cli -- --name alice",
        Runs {
            file: "examples/chat-cli/tests/chat_cli.rs",
            shows: "\"--name\"",
        },
    ),
    (
        "cargo run -p chorus-example-chat-cli -- --name bob",
        Runs {
            file: "examples/chat-cli/tests/chat_cli.rs",
            shows: "\"--name\"",
        },
    ),
    (
        "cargo run -p chorus-example-chat",
        Runs {
            file: "server/tests/e2e/chat.test.mjs",
            shows: "startApp('chat'",
        },
    ),
    (
        "cargo run -p chorus-example-notifications",
        Runs {
            file: "server/tests/e2e/notifications.test.mjs",
            shows: "startApp('notifications'",
        },
    ),
    (
        "cargo run -p chorus-example-whiteboard",
        Covers {
            file: "server/tests/e2e/whiteboard.test.mjs",
            shows: "startApp('whiteboard'",
            how: "the app with bots added, the form below",
        },
    ),
    (
        "cargo run -p chorus-example-whiteboard -- --bots 5",
        Runs {
            file: "server/tests/e2e/whiteboard.test.mjs",
            shows: "['--bots', String(BOTS.length)]",
        },
    ),
    (
        "cargo run -p chorus-example-embedded",
        Covers {
            file: "examples/embedded/tests/embedded.rs",
            shows: "chorus_example_embedded",
            how: "the program's server, hooks and rpc, in process",
        },
    ),
    (
        "cargo test -p chorus-example-embedded",
        Covers {
            file: "scripts/test",
            shows: "cargo test --workspace",
            how: "every crate's tests",
        },
    ),
];

/// The repository's root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every Markdown file of the repository, relative to the root (build output,
/// installed packages and hidden folders left out).
fn markdown_files() -> Vec<PathBuf> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || name == "target" || name == "node_modules" {
                continue;
            }
            if path.is_dir() {
                walk(root, &path, out);
            } else if name.ends_with(".md") {
                out.extend(path.strip_prefix(root).ok().map(Path::to_path_buf));
            }
        }
    }
    let root = root();
    let mut files = Vec::new();
    walk(&root, &root, &mut files);
    files.sort();
    files
}

/// Every documented command, with the files that show it.
fn documented_commands() -> BTreeMap<String, BTreeSet<String>> {
    let mut commands: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in markdown_files() {
        let text = std::fs::read_to_string(root().join(&file)).unwrap_or_default();
        for tag in ["bash", "shell", "console", "zsh"] {
            assert!(
                fenced(&text, tag).is_empty(),
                "{}: write shell commands in ```sh blocks, which this test reads",
                file.display()
            );
        }
        for block in fenced(&text, "sh") {
            for command in shell_commands(&block) {
                let command = without_comment(&command);
                if command.is_empty() || covered_by_docs_test(&file, &command) {
                    continue;
                }
                commands
                    .entry(command)
                    .or_default()
                    .insert(file.display().to_string());
            }
        }
    }
    commands
}

/// Whether `docs.rs` runs `command` itself: docs/api.md's curl examples, and
/// docs/configuration.md's environment example.
fn covered_by_docs_test(file: &Path, command: &str) -> bool {
    (file == Path::new("docs/api.md") && command.starts_with("curl "))
        || (file == Path::new("docs/configuration.md") && command.starts_with("export CHORUS_"))
}

/// Whether the ledger row `pattern` matches `command`.
fn matches(pattern: &str, command: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => command.starts_with(prefix),
        None => command == pattern,
    }
}

/// The names of the workspace's packages, from each member's manifest.
fn workspace_packages() -> BTreeSet<String> {
    let manifest = std::fs::read_to_string(root().join("Cargo.toml")).unwrap_or_default();
    let members: Vec<String> = manifest
        .split_once("members = [")
        .and_then(|(_, rest)| rest.split_once(']'))
        .map(|(list, _)| {
            list.split(',')
                .map(|m| m.trim().trim_matches('"').to_owned())
                .filter(|m| !m.is_empty())
                .collect()
        })
        .unwrap_or_default();
    assert!(!members.is_empty(), "no workspace members in Cargo.toml");
    members
        .iter()
        .filter_map(|member| {
            let text = std::fs::read_to_string(root().join(member).join("Cargo.toml")).ok()?;
            let line = text.lines().find(|l| l.starts_with("name = "))?;
            Some(
                line.trim_start_matches("name = ")
                    .trim_matches('"')
                    .to_owned(),
            )
        })
        .collect()
}

#[test]
fn every_documented_command_has_a_row_and_every_row_a_command() {
    let documented = documented_commands();
    assert!(
        documented.len() > 20,
        "too few commands found: {documented:?}"
    );
    let mut problems = Vec::new();
    for (command, files) in &documented {
        let rows: Vec<_> = LEDGER.iter().filter(|(p, _)| matches(p, command)).collect();
        if rows.len() != 1 {
            problems.push(format!(
                "{command:?} (in {files:?}) matches {} rows of the ledger; it needs exactly one: \
                 name the test or script that runs it",
                rows.len()
            ));
        }
    }
    for (pattern, _) in LEDGER {
        if !documented.keys().any(|c| matches(pattern, c)) {
            problems.push(format!(
                "the ledger row {pattern:?} matches no documented command: drop it"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_row_names_a_file_that_shows_it() {
    for (pattern, proof) in LEDGER {
        let (file, shows) = match *proof {
            Runs { file, shows } => (file, shows),
            Covers { file, shows, how } => {
                assert!(!how.is_empty(), "{pattern:?}: say how {file} covers it");
                (file, shows)
            }
            NotRun { why } => {
                assert!(!why.is_empty(), "{pattern:?}: say why it is not run");
                continue;
            }
        };
        let text = std::fs::read_to_string(root().join(file))
            .unwrap_or_else(|e| panic!("{pattern:?}: {file} cannot be read: {e}"));
        assert!(
            text.contains(shows),
            "{pattern:?}: {file} no longer contains {shows:?}, which showed that it runs the command"
        );
    }
}

#[test]
fn scripts_packages_and_binaries_named_exist() {
    let packages = workspace_packages();
    for command in documented_commands().keys() {
        for part in command.split("&&").flat_map(|c| c.split(';')) {
            let words = shell_words(part);
            let mut words = words
                .iter()
                .skip_while(|w| w.contains('=') && !w.starts_with('-'));
            let Some(program) = words.next() else {
                continue;
            };
            if program.starts_with("./scripts/") || program.starts_with("bench/") {
                let path = root().join(program.trim_start_matches("./"));
                let mode = std::fs::metadata(&path)
                    .unwrap_or_else(|e| panic!("{command:?}: {} is missing: {e}", path.display()))
                    .permissions();
                assert!(
                    std::os::unix::fs::PermissionsExt::mode(&mode) & 0o111 != 0,
                    "{command:?}: {program} is not executable"
                );
            }
            let rest: Vec<&String> = words.collect();
            if program == "cargo" {
                for pair in rest.windows(2) {
                    if pair[0] == "-p" {
                        assert!(
                            packages.contains(pair[1].as_str()),
                            "{command:?}: no workspace package {}",
                            pair[1]
                        );
                    }
                    if pair[0] == "--bin" {
                        let bin = root()
                            .join("conformance/src/bin")
                            .join(format!("{}.rs", pair[1]));
                        assert!(bin.exists(), "{command:?}: no binary {}", pair[1]);
                    }
                }
            }
        }
    }
}

#[test]
fn documented_test_steps_exist() {
    let output = std::process::Command::new(root().join("scripts/test"))
        .arg("--list")
        .output()
        .expect("scripts/test runs");
    assert!(output.status.success(), "scripts/test --list failed");
    let listed = String::from_utf8_lossy(&output.stdout);
    let steps: BTreeSet<&str> = listed
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(steps.contains("e2e"), "steps: {steps:?}");
    for command in documented_commands().keys() {
        if let Some(args) = command.strip_prefix("./scripts/test ") {
            for step in args.split_whitespace().filter(|a| !a.starts_with('-')) {
                assert!(
                    steps.contains(step),
                    "{command:?}: no step {step:?} in {steps:?}"
                );
            }
        }
    }
}

#[test]
fn comments_and_continuations_are_read_as_the_shell_does() {
    let block = "cargo run -p x -- \\\n    --flag 'a # b'   # why\n# only a comment\n";
    let commands: Vec<_> = shell_commands(block)
        .iter()
        .map(|c| without_comment(c))
        .collect();
    assert_eq!(commands, ["cargo run -p x -- --flag 'a # b'", ""]);
    assert!(matches("cd x && ADMIN=*", "cd x && ADMIN=1 node"));
    assert!(!matches("chorus", "chorus --dev"));
}
