//! Keeps docs/configuration.md and docs/api.md in step with the server.
//!
//! * Configuration: every ```` ```toml ```` block parses with [`Config::from_toml`],
//!   the complete example also validates, and the environment example loads with
//!   [`Config::load`]. The option names listed in this file are checked against
//!   the config structs in both directions (each one parses with a plausible
//!   value, and the structs' own list of accepted names, read from the "unknown
//!   field" error, equals the list here), and every option has a row in the
//!   page's tables whose default is the real one, and a line in the complete
//!   example.
//! * API: every route named in docs/api.md exists on a running server with the
//!   method of its heading, every route of `server/src/api.rs` is documented, and
//!   every `curl` example succeeds.
//! * Both pages: ```` ```json ```` blocks are JSON, and links to other files and
//!   to headings (their own, each other's, docs/protocol.md's) resolve.
//!
//! That docs/grafana-dashboard.json and docs/operations.md name only metrics
//! that `/metrics` exports is a unit test of `server/src/metrics.rs`.

mod markdown;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use chorus_server::config::NamespaceConfig;
use chorus_server::{Config, ServerBuilder};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

use markdown::{fenced, is_fence, shell_commands, shell_words};

const CONFIGURATION_MD: &str = include_str!("../../docs/configuration.md");
const API_MD: &str = include_str!("../../docs/api.md");
const API_RS: &str = include_str!("../src/api.rs");

/// Where the curl examples of docs/api.md send their requests.
const EXAMPLE_BASE: &str = "http://127.0.0.1:8000";
/// The header the curl examples use for the API key.
const EXAMPLE_AUTH: &str = "Authorization: apikey $CHORUS_API_KEY";
const KEY: &str = "docs-test-api-key-0123456789";
const SECRET: &str = "docs-test-hmac-secret-of-enough-length";
const WAIT: Duration = Duration::from_secs(20);

// ---- configuration ----

/// One TOML table of the configuration and every option it accepts.
struct OptionTable {
    /// The TOML table header (`""` for the top level).
    header: &'static str,
    /// The heading of the section of docs/configuration.md that documents it.
    section: &'static str,
    /// Every option, with a plausible TOML value.
    options: &'static [(&'static str, &'static str)],
}

const NAMESPACE_OPTIONS: &[(&str, &str)] = &[
    ("history_size", "100"),
    ("history_ttl_ms", "60000"),
    ("presence", "true"),
    ("join_leave", "true"),
    ("anonymous", "true"),
    ("subscribe", r#""grants""#),
    ("publish", r#""any""#),
    ("max_members", "10"),
];

const TABLES: &[OptionTable] = &[
    OptionTable {
        header: "",
        section: "## Top-level options",
        options: &[
            ("listen", r#""0.0.0.0:9000""#),
            ("ws_path", r#""/socket""#),
            ("api_key", r#""an-api-key-of-enough-length""#),
            ("admin", "false"),
            ("nats", r#"["nats://127.0.0.1:4222"]"#),
            ("cluster", "{}"),
            ("users", "{}"),
            ("dev", "true"),
            ("allowed_origins", r#"["https://app.example.com"]"#),
            ("log", "{}"),
            ("auth", "{}"),
            ("limits", "{}"),
            ("default_namespace", "{}"),
            ("namespaces", "{}"),
            ("tls", "{}"),
        ],
    },
    OptionTable {
        header: "tls",
        section: "## `[tls]`",
        options: &[
            ("cert_file", r#""/etc/chorus/cert.pem""#),
            ("key_file", r#""/etc/chorus/key.pem""#),
        ],
    },
    OptionTable {
        header: "cluster",
        section: "## `[cluster]`",
        options: &[
            ("prefix", r#""chat-prod""#),
            ("replicas", "3"),
            ("storage", r#""memory""#),
            ("history_max_bytes", "1048576"),
            ("node_ttl_ms", "5000"),
            ("request_timeout_ms", "2000"),
            ("publish_timeout_ms", "6000"),
            ("nats_ca_file", r#""/etc/chorus/nats-ca.pem""#),
        ],
    },
    OptionTable {
        header: "users",
        section: "## `[users]`",
        options: &[
            ("inbox_size", "500"),
            ("inbox_ttl_ms", "3600000"),
            ("status_namespace", r#""chat""#),
            ("client_inbox_for_unseen", "true"),
            ("inbox_max_bytes", "1048576"),
        ],
    },
    OptionTable {
        header: "log",
        section: "## `[log]`",
        options: &[("format", r#""json""#), ("level", r#""debug""#)],
    },
    OptionTable {
        header: "auth",
        section: "## `[auth]`",
        options: &[
            ("hmac_secret", r#""0123456789abcdef0123456789abcdef""#),
            ("rsa_public_key", r#""-----BEGIN PUBLIC KEY-----""#),
            ("ecdsa_public_key", r#""-----BEGIN PUBLIC KEY-----""#),
            ("audience", r#""chat.example.com""#),
            ("issuer", r#""https://auth.example.com""#),
            ("leeway_secs", "10"),
        ],
    },
    OptionTable {
        header: "limits",
        section: "## `[limits]`",
        options: &[
            ("max_message_size", "1024"),
            ("outbound_queue", "16"),
            ("handshake_timeout_ms", "5000"),
            ("ping_interval_ms", "20000"),
            ("pong_timeout_ms", "5000"),
            ("rate_per_second", "10"),
            ("rate_burst", "20"),
            ("max_channels_per_connection", "8"),
            ("max_connections_per_user", "4"),
            ("max_connections", "1000"),
            ("header_timeout_ms", "5000"),
            ("max_pending_connections", "100"),
            ("max_connections_per_ip", "10"),
            ("history_memory_bytes", "1048576"),
            ("idempotency_window_ms", "60000"),
            ("shutdown_timeout_ms", "5000"),
            ("write_delay_ms", "5"),
        ],
    },
    OptionTable {
        header: "default_namespace",
        section: "## `[default_namespace]` and `[namespaces.NAME]`",
        options: NAMESPACE_OPTIONS,
    },
    OptionTable {
        header: "namespaces.chat",
        section: "## `[default_namespace]` and `[namespaces.NAME]`",
        options: NAMESPACE_OPTIONS,
    },
];

/// A TOML document that sets one option of `header`'s table.
fn toml_setting(header: &str, key: &str, value: &str) -> String {
    if header.is_empty() {
        format!("{key} = {value}\n")
    } else {
        format!("[{header}]\n{key} = {value}\n")
    }
}

/// The text of the section that starts with the heading line `heading`, up to
/// the next heading of the same or a higher level (outside code blocks).
fn section<'a>(markdown: &'a str, heading: &str) -> &'a str {
    let level = heading.split(' ').next().unwrap_or("##").len();
    let mut start = None;
    let mut in_fence = false;
    let mut offset = 0;
    for line in markdown.split_inclusive('\n') {
        let here = offset;
        offset += line.len();
        let line = line.trim_end_matches('\n');
        if is_fence(line) {
            in_fence = !in_fence;
            continue;
        }
        if in_fence {
            continue;
        }
        let hashes = line.split(' ').next().unwrap_or("");
        let is_heading = !hashes.is_empty() && hashes.chars().all(|c| c == '#');
        match start {
            None if line == heading => start = Some(offset),
            Some(begin) if is_heading && hashes.len() <= level => {
                return &markdown[begin..here];
            }
            _ => {}
        }
    }
    match start {
        Some(begin) => &markdown[begin..],
        None => panic!("no heading {heading:?}"),
    }
}

/// The complete example of docs/configuration.md.
fn complete_example() -> String {
    fenced(section(CONFIGURATION_MD, "## Complete example"), "toml")
        .into_iter()
        .next()
        .expect("a ```toml block under \"## Complete example\"")
}

/// The option names a table accepts, as the config structs themselves list them
/// when refusing an unknown option.
fn accepted_options(header: &str) -> BTreeSet<String> {
    let doc = toml_setting(header, "no_such_option", "1");
    let error = Config::from_toml(&doc)
        .expect_err("an unknown option must be refused")
        .to_string();
    assert!(error.contains("no_such_option"), "{error}");
    let expected = error
        .split_once("expected")
        .map_or("", |(_, rest)| rest.lines().next().unwrap_or(""));
    let names: BTreeSet<String> = expected
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect();
    assert!(
        !names.is_empty(),
        "cannot read the accepted options of [{header}] from {error:?}"
    );
    names
}

/// `(option, default cell)` of each row of the option tables in `text`.
fn documented_rows(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter(|line| line.starts_with("| `"))
        .map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let name = cells[1].trim_matches('`').to_owned();
            let default = cells.get(3).copied().unwrap_or("").to_owned();
            (name, default)
        })
        .collect()
}

/// The configuration that setting an option of `header` to its default must give.
fn default_config_for(header: &str) -> Config {
    let mut config = Config::default();
    if let Some(name) = header.strip_prefix("namespaces.") {
        config
            .namespaces
            .insert(name.to_owned(), NamespaceConfig::default());
    }
    config
}

#[test]
fn every_toml_block_parses_and_the_complete_example_validates() {
    let blocks = fenced(CONFIGURATION_MD, "toml");
    assert!(
        !blocks.is_empty(),
        "docs/configuration.md has no ```toml block"
    );
    for block in &blocks {
        if let Err(e) = Config::from_toml(block) {
            panic!("a ```toml block of docs/configuration.md does not parse: {e}\n{block}");
        }
    }
    let example = complete_example();
    let config = Config::from_toml(&example).expect("the complete example parses");
    if let Err(e) = config.validate() {
        panic!("the complete example of docs/configuration.md is invalid: {e}");
    }
}

#[test]
fn environment_example_loads() {
    let block = fenced(section(CONFIGURATION_MD, "## Environment overrides"), "sh")
        .into_iter()
        .next()
        .expect("a ```sh block under \"## Environment overrides\"");
    let mut vars = Vec::new();
    for line in block.lines() {
        let Some(assignment) = line.strip_prefix("export ") else {
            continue;
        };
        let (name, value) = assignment
            .split_once('=')
            .unwrap_or_else(|| panic!("not NAME=VALUE: {line:?}"));
        let value = value
            .strip_prefix('\'')
            .and_then(|v| v.strip_suffix('\''))
            .unwrap_or(value);
        assert!(
            !value.contains('$') && !value.starts_with('"'),
            "keep the environment example literal (no quotes or expansions): {line:?}"
        );
        vars.push((name.to_owned(), value.to_owned()));
    }
    assert!(
        vars.iter().any(|(name, _)| name.contains("__")),
        "the environment example should show a nested option"
    );
    let config = match Config::load(None, vars) {
        Ok(config) => config,
        Err(e) => panic!("the environment example does not load: {e}"),
    };
    if let Err(e) = config.validate() {
        panic!("the environment example is invalid: {e}");
    }
}

#[test]
fn every_option_is_listed_parses_and_is_documented() {
    let example_text = complete_example();
    let example: toml::Table = example_text.parse().expect("the example is TOML");
    for table in TABLES {
        let header = table.header;
        let listed: BTreeSet<String> = table
            .options
            .iter()
            .map(|(key, _)| (*key).to_owned())
            .collect();

        // The list here follows the structs: each listed option parses...
        for (key, value) in table.options {
            let doc = toml_setting(header, key, value);
            if let Err(e) = Config::from_toml(&doc) {
                panic!("[{header}] {key} = {value} does not parse: {e}");
            }
        }
        // ...and nothing else is accepted.
        assert_eq!(
            accepted_options(header),
            listed,
            "the options of [{header}] changed: update this test and docs/configuration.md"
        );

        // The page has one table row per option, with the real default.
        let text = section(CONFIGURATION_MD, table.section);
        let rows = documented_rows(text);
        let documented: BTreeSet<String> = rows.iter().map(|(name, _)| name.clone()).collect();
        assert_eq!(
            documented, listed,
            "docs/configuration.md, section {:?}: the option rows differ from the code",
            table.section
        );
        let expected = default_config_for(header);
        for (name, default) in &rows {
            // Defaults written as one TOML value in backticks; others ("unset",
            // a table) are prose.
            let Some(value) = default
                .strip_prefix('`')
                .and_then(|d| d.strip_suffix('`'))
                .filter(|d| !d.contains('`'))
            else {
                continue;
            };
            let doc = toml_setting(header, name, value);
            let parsed = Config::from_toml(&doc)
                .unwrap_or_else(|e| panic!("documented default of [{header}] {name}: {e}"));
            assert_eq!(
                parsed, expected,
                "docs/configuration.md: the documented default of [{header}] {name} is wrong"
            );
        }

        // The complete example shows every option (commented out at least).
        let example_tables: Vec<&toml::Table> = match header {
            "" => vec![&example],
            "default_namespace" | "namespaces.chat" => {
                let mut tables = Vec::new();
                if let Some(t) = example.get("default_namespace").and_then(|v| v.as_table()) {
                    tables.push(t);
                }
                if let Some(all) = example.get("namespaces").and_then(|v| v.as_table()) {
                    tables.extend(all.values().filter_map(|v| v.as_table()));
                }
                tables
            }
            other => example
                .get(other)
                .and_then(|v| v.as_table())
                .into_iter()
                .collect(),
        };
        for key in &listed {
            let set = example_tables.iter().any(|t| t.contains_key(key));
            let commented = example_text
                .lines()
                .any(|line| line.starts_with(&format!("# {key} = ")));
            assert!(
                set || commented,
                "the complete example of docs/configuration.md does not show [{header}] {key}"
            );
        }
    }
}

#[test]
fn configuration_page_mentions_loading_details() {
    for needle in [
        "--config",
        "CHORUS_CONFIG",
        "CHORUS_LOG",
        "--log-json",
        "--dev",
        "`demo`",
        "__",
    ] {
        assert!(
            CONFIGURATION_MD.contains(needle),
            "docs/configuration.md never mentions {needle}"
        );
    }
}

/// The token signers of docs/configuration.md are the code the tests sign with:
/// each block (its imports aside) appears verbatim in that file.
#[test]
fn token_signing_snippets_are_the_tested_code() {
    const SOURCES: &[(&str, &str, &str)] = &[
        (
            "js",
            "testkit/js/harness.mjs",
            include_str!("../../testkit/js/harness.mjs"),
        ),
        (
            "rust",
            "server/tests/token_command.rs",
            include_str!("token_command.rs"),
        ),
        (
            "kotlin",
            "client-mobile/kotlin/src/test/kotlin/dev/chorus/SignToken.kt",
            include_str!("../../client-mobile/kotlin/src/test/kotlin/dev/chorus/SignToken.kt"),
        ),
    ];
    for (lang, path, source) in SOURCES {
        let blocks = fenced(CONFIGURATION_MD, lang);
        let [block] = &blocks[..] else {
            panic!(
                "docs/configuration.md has one ```{lang} block, not {}",
                blocks.len()
            );
        };
        let is_import = |l: &str| l.starts_with("import ") || l.starts_with("use ");
        let code: Vec<&str> = block
            .lines()
            .skip_while(|l| is_import(l) || l.is_empty())
            .collect();
        assert!(
            source.contains(&code.join("\n")),
            "the ```{lang} token signer of docs/configuration.md is not the code of {path}"
        );
        for import in block.lines().filter(|l| is_import(l)) {
            let names = import.split(['{', '}']).nth(1).unwrap_or(import);
            assert!(
                source
                    .lines()
                    .any(|l| is_import(l) && names.split(',').all(|n| l.contains(n.trim()))),
                "{path} does not import what docs/configuration.md's {import:?} does"
            );
        }
    }
}

/// The React hooks of docs/browser.md are the file the bundler test builds a
/// StrictMode app on.
#[test]
fn the_react_hooks_of_the_browser_page_are_the_tested_ones() {
    let page = include_str!("../../docs/browser.md");
    let hooks = include_str!("../../client-ts/test/bundlers/app/react/chorus-react.js");
    let blocks = fenced(page, "jsx");
    assert!(
        blocks.iter().any(|b| b.trim_end() == hooks.trim_end()),
        "docs/browser.md shows client-ts/test/bundlers/app/react/chorus-react.js verbatim in a ```jsx block"
    );
}

/// Every name of docs/sdks.md's vocabulary table exists in that SDK's code.
#[test]
fn the_sdk_vocabulary_table_names_what_the_code_has() {
    let rust = [
        include_str!("../../client-core/src/lib.rs"),
        include_str!("../../client-core/src/builder.rs"),
        include_str!("../../client-core/src/subscription.rs"),
        include_str!("../../client-core/src/error.rs"),
        include_str!("../../protocol/src/client/event.rs"),
    ]
    .concat();
    let ts = [
        include_str!("../../client-ts/src/client.ts"),
        include_str!("../../client-ts/src/subscription.ts"),
        include_str!("../../client-ts/src/errors.ts"),
        include_str!("../../client-ts/src/types.ts"),
    ]
    .concat();
    let kotlin =
        include_str!("../../client-mobile/kotlin/src/main/kotlin/dev/chorus/chorus_mobile.kt");
    let swift = include_str!("../../client-mobile/swift/Sources/Chorus/Chorus.swift");
    let sources = [
        ("Rust", rust.as_str()),
        ("TypeScript", ts.as_str()),
        ("Kotlin", kotlin),
        ("Swift", swift),
    ];
    let page = include_str!("../../docs/sdks.md");
    let rows: Vec<Vec<&str>> = page
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| concept") && !l.starts_with("| ---"))
        .map(|l| l.trim_matches('|').split(" | ").map(str::trim).collect())
        .collect();
    assert!(rows.len() >= 15, "docs/sdks.md has its table");
    for row in &rows {
        assert_eq!(row.len(), 5, "five columns: {row:?}");
        for ((sdk, source), cell) in sources.iter().zip(&row[1..]) {
            for span in cell.split('`').skip(1).step_by(2) {
                for name in span
                    .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .filter(|n| n.len() > 2 && n.chars().next().is_some_and(char::is_alphabetic))
                {
                    assert!(
                        source.contains(name),
                        "docs/sdks.md names `{name}` for {sdk} ({}), which its code does not have",
                        row[0]
                    );
                }
            }
        }
    }
}

// ---- API ----

/// `(method, path)` of every route heading (``### `METHOD /path` ``) in docs/api.md.
fn documented_routes() -> BTreeSet<(String, String)> {
    API_MD
        .lines()
        .filter_map(|line| {
            let rest = line.strip_prefix("### ")?.trim().trim_matches('`');
            let (method, path) = rest.split_once(' ')?;
            (matches!(method, "GET" | "POST") && path.starts_with('/'))
                .then(|| (method.to_owned(), path.to_owned()))
        })
        .collect()
}

/// Every `/api/NAME` path mentioned anywhere in docs/api.md.
fn mentioned_api_paths() -> BTreeSet<String> {
    API_MD
        .match_indices("/api/")
        .filter_map(|(at, prefix)| {
            let name: String = API_MD[at + prefix.len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            (!name.is_empty()).then(|| format!("/api/{name}"))
        })
        .collect()
}

/// `(method, path)` of every `.route("/api/...", get(...))` in server/src/api.rs.
fn routes_in_code() -> BTreeSet<(String, String)> {
    API_RS
        .match_indices(".route(\"")
        .map(|(at, prefix)| {
            let rest = &API_RS[at + prefix.len()..];
            let (path, rest) = rest.split_once('"').expect("a closing quote");
            let method = rest
                .trim_start_matches([',', ' '])
                .split('(')
                .next()
                .unwrap_or("")
                .to_ascii_uppercase();
            (method, path.to_owned())
        })
        .collect()
}

/// A running node as the examples assume: the development profile (its
/// `demo` namespace, which the examples use) with an API key.
struct Running {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    async fn start() -> Running {
        let mut config = Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            api_key: Some(KEY.to_owned()),
            admin: Some(true),
            ..Config::default()
        };
        config.auth.hmac_secret = Some(SECRET.to_owned());
        config.apply_dev_profile();
        let source = config.clone();
        let server = ServerBuilder::new(config)
            .reload_source(move || Ok(source.clone()))
            .bind()
            .await
            .expect("the server starts");
        let addr = server.local_addr();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server.run_until(async move {
            let _ = stopped.await;
        }));
        Running { addr, stop, task }
    }

    async fn shut_down(self) {
        let _ = self.stop.send(());
        let _ = tokio::time::timeout(WAIT, self.task).await;
    }
}

/// A minimal HTTP/1.1 request: the status and the body.
async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    key: Option<&str>,
    body: Option<&str>,
) -> (u16, String) {
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(key) = key {
        head.push_str(&format!("Authorization: apikey {key}\r\n"));
    }
    let body = body.unwrap_or("");
    if method == "POST" {
        head.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    let request = format!("{head}\r\n{body}");
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await?;
        stream.write_all(request.as_bytes()).await?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await?;
        Ok::<_, std::io::Error>(response)
    };
    let response = tokio::time::timeout(WAIT, exchange)
        .await
        .expect("an HTTP answer in time")
        .expect("an HTTP answer");
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {text:?}"));
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// A `curl` command of the examples.
#[derive(Debug)]
struct Curl {
    method: String,
    path: String,
    headers: Vec<String>,
    body: Option<String>,
}

/// Every `curl` command in the ```` ```sh ```` blocks of `markdown`.
fn curl_examples(markdown: &str) -> Vec<Curl> {
    let commands: Vec<String> = fenced(markdown, "sh")
        .iter()
        .flat_map(|block| shell_commands(block))
        .collect();
    commands
        .iter()
        .filter(|command| command.trim_start().starts_with("curl "))
        .map(|command| {
            let words = shell_words(command);
            let mut curl = Curl {
                method: String::new(),
                path: String::new(),
                headers: Vec::new(),
                body: None,
            };
            let mut words = words.into_iter().skip(1);
            while let Some(word) = words.next() {
                match word.as_str() {
                    "-X" | "--request" => curl.method = words.next().unwrap_or_default(),
                    "-H" | "--header" => curl.headers.extend(words.next()),
                    "-d" | "--data" | "--data-binary" | "--data-raw" => curl.body = words.next(),
                    flag if flag.starts_with('-') => {}
                    url => {
                        curl.path = url
                            .strip_prefix(EXAMPLE_BASE)
                            .unwrap_or_else(|| {
                                panic!("examples use {EXAMPLE_BASE}, not {url:?}: {command}")
                            })
                            .to_owned();
                    }
                }
            }
            if curl.method.is_empty() {
                curl.method = if curl.body.is_some() { "POST" } else { "GET" }.to_owned();
            }
            assert!(!curl.path.is_empty(), "no URL in {command:?}");
            curl
        })
        .collect()
}

#[test]
fn documented_routes_match_the_code() {
    let documented = documented_routes();
    let api: BTreeSet<(String, String)> = documented
        .iter()
        .filter(|(_, path)| path.starts_with("/api/"))
        .cloned()
        .collect();
    assert_eq!(
        api,
        routes_in_code(),
        "docs/api.md route headings differ from the routes in server/src/api.rs"
    );
    let headed: BTreeSet<String> = documented.iter().map(|(_, p)| p.clone()).collect();
    let unheaded: Vec<String> = mentioned_api_paths()
        .into_iter()
        .filter(|p| !headed.contains(p))
        .collect();
    assert!(
        unheaded.is_empty(),
        "docs/api.md mentions routes without a `### `METHOD /path`` section: {unheaded:?}"
    );
}

#[tokio::test]
async fn documented_routes_exist() {
    let server = Running::start().await;
    let addr = server.addr;

    // The check below means something: an unknown route is a 404.
    let (status, _) = http(addr, "GET", "/api/no_such_route", Some(KEY), None).await;
    assert_eq!(status, 404);

    let routes = documented_routes();
    for needed in ["/healthz", "/readyz", "/metrics"] {
        assert!(
            routes.iter().any(|(_, path)| path == needed),
            "docs/api.md has no section for {needed}"
        );
    }
    for (method, path) in &routes {
        let body = (method == "POST").then_some("{}");
        let (status, text) = http(addr, method, path, Some(KEY), body).await;
        assert!(
            status != 404 && status != 405,
            "{method} {path} (documented in docs/api.md) answers {status}: {text}"
        );
        if path.starts_with("/api/") {
            let (status, text) = http(addr, method, path, None, body).await;
            assert_eq!(status, 401, "{method} {path} without the key: {text}");
            assert!(text.contains("\"code\":101"), "{text}");
        }
    }
    server.shut_down().await;
}

#[tokio::test]
async fn curl_examples_succeed() {
    let examples = curl_examples(API_MD);
    let documented = documented_routes();
    let server = Running::start().await;
    for curl in &examples {
        if curl.path.starts_with("/api/") {
            assert!(
                curl.headers.iter().any(|h| h == EXAMPLE_AUTH),
                "{curl:?} lacks the header {EXAMPLE_AUTH:?}"
            );
        }
        if curl.body.is_some() {
            assert!(
                curl.headers
                    .iter()
                    .any(|h| h.eq_ignore_ascii_case("Content-Type: application/json")),
                "{curl:?} sends a body without Content-Type: application/json"
            );
        }
        assert!(
            documented.contains(&(curl.method.clone(), curl.path.clone())),
            "{curl:?} uses a route without a section in docs/api.md"
        );
        let (status, body) = http(
            server.addr,
            &curl.method,
            &curl.path,
            Some(KEY),
            curl.body.as_deref(),
        )
        .await;
        assert_eq!(status, 200, "{curl:?} answered {status}: {body}");
        if curl.path.starts_with("/api/") {
            if let Err(e) = serde_json::from_str::<serde_json::Value>(&body) {
                panic!("{curl:?} answered non-JSON ({e}): {body}");
            }
        }
    }
    // Every documented route has an example.
    for (method, path) in &documented {
        assert!(
            examples
                .iter()
                .any(|c| &c.method == method && &c.path == path),
            "docs/api.md has no curl example for {method} {path}"
        );
    }
    server.shut_down().await;
}

#[test]
fn json_examples_are_json() {
    for doc in [API_MD, CONFIGURATION_MD] {
        for block in fenced(doc, "json") {
            if let Err(e) = serde_json::from_str::<serde_json::Value>(&block) {
                panic!("a ```json block is not JSON ({e}):\n{block}");
            }
        }
    }
}

// ---- links ----

const PROTOCOL_MD: &str = include_str!("../../docs/protocol.md");
const CLUSTER_MD: &str = include_str!("../../docs/cluster.md");
const USERS_MD: &str = include_str!("../../docs/users.md");
const OPERATIONS_MD: &str = include_str!("../../docs/operations.md");

/// The anchor GitHub gives a heading: lower case, letters, digits, `-` and `_`
/// kept, spaces turned into `-`, everything else dropped.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c.to_ascii_lowercase()),
            _ => None,
        })
        .collect()
}

/// The anchors of every heading of `markdown` (outside code blocks).
fn anchors(markdown: &str) -> BTreeSet<String> {
    let mut in_fence = false;
    let mut found = BTreeSet::new();
    for line in markdown.lines() {
        if is_fence(line) {
            in_fence = !in_fence;
        } else if !in_fence && line.starts_with('#') {
            found.insert(slug(line.trim_start_matches('#')));
        }
    }
    found
}

#[test]
fn links_between_the_docs_resolve() {
    let docs = [
        ("configuration.md", CONFIGURATION_MD),
        ("api.md", API_MD),
        ("protocol.md", PROTOCOL_MD),
        ("cluster.md", CLUSTER_MD),
        ("users.md", USERS_MD),
        ("operations.md", OPERATIONS_MD),
    ];
    let docs_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs");
    for (name, text) in &docs[..2] {
        for (at, _) in text.match_indices("](") {
            let target: String = text[at + 2..].chars().take_while(|c| *c != ')').collect();
            if target.starts_with("http://") || target.starts_with("https://") {
                continue;
            }
            let (file, anchor) = target.split_once('#').unwrap_or((&target, ""));
            let body = if file.is_empty() {
                Some(*text)
            } else {
                docs.iter().find(|(n, _)| *n == file).map(|(_, t)| *t)
            };
            if body.is_none() {
                assert!(
                    docs_dir.join(file).exists(),
                    "docs/{name}: the link target {target:?} does not exist"
                );
            }
            if !anchor.is_empty() {
                let body = body.unwrap_or_else(|| panic!("docs/{name}: anchor into {file:?}"));
                assert!(
                    anchors(body).contains(anchor),
                    "docs/{name}: the link {target:?} names no heading"
                );
            }
        }
    }
}
