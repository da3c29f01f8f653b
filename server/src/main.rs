//! `chorus`: run a Chorus node.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use chorus_server::config::{ConfigError, LogFormat};
use chorus_server::dev::{CredentialsFile, DevCredentials, WrittenFile, credentials_dir};
use chorus_server::{Config, ServerBuilder};
use clap::Parser;

/// A Chorus node: WebSocket messaging with channels, presence, history and recovery.
///
/// Options come from the config file, then `CHORUS_*` environment variables
/// (`CHORUS_LIMITS__OUTBOUND_QUEUE=512`), then these flags. See docs/configuration.md.
#[derive(Debug, Clone, Parser)]
#[command(name = "chorus", version)]
struct Cli {
    /// TOML configuration file.
    #[arg(long, env = "CHORUS_CONFIG", global = true)]
    config: Option<PathBuf>,
    /// Address for HTTP and WebSocket (default 127.0.0.1:8000).
    #[arg(long, global = true)]
    listen: Option<SocketAddr>,
    /// Key for the server API (at least 16 characters); visible in the process list, so prefer
    /// CHORUS_API_KEY.
    #[arg(long)]
    api_key: Option<String>,
    /// Comma-separated NATS URLs: run as one node of a cluster.
    #[arg(long, value_delimiter = ',')]
    nats: Vec<String>,
    /// Development profile: anonymous users may chat in the `demo` namespace,
    /// and the demo page is served at `/`. Never use in production.
    #[arg(long, global = true)]
    dev: bool,
    /// Print log lines as JSON.
    #[arg(long)]
    log_json: bool,
    /// Forget the development keys (API key, token secret) kept from earlier
    /// runs and start with new ones: every token signed with the old secret
    /// stops working.
    #[arg(long)]
    reset_dev_keys: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

/// What to do instead of running a node.
#[derive(Debug, Clone, clap::Subcommand)]
enum Command {
    /// Print a connection token signed with the node's HMAC secret
    /// (`auth.hmac_secret`, `CHORUS_AUTH__HMAC_SECRET`); with `--dev`, the
    /// secret of the development node running on this port (`--listen`).
    Token(TokenArgs),
}

/// The claims of `chorus token`.
#[derive(Debug, Clone, clap::Args)]
struct TokenArgs {
    /// The user id (`sub`).
    user: String,
    /// How long it is valid: seconds, or with a unit (90s, 15m, 24h, 7d).
    #[arg(long, default_value = "1h", value_parser = chorus_server::gentoken::parse_ttl)]
    ttl: std::time::Duration,
    /// A channel grant for subscribing (`chat:*`, `chat:lobby`); repeatable.
    #[arg(long = "subscribe", value_name = "GRANT")]
    subscribe: Vec<String>,
    /// A channel grant for publishing; repeatable.
    #[arg(long = "publish", value_name = "GRANT")]
    publish: Vec<String>,
    /// Allow the `broadcast` command.
    #[arg(long)]
    broadcast: bool,
    /// Connection info shown to others, as JSON (`{"name":"Alice"}`).
    #[arg(long, value_parser = parse_json)]
    info: Option<serde_json::Value>,
    /// A token id (`jti`), to revoke this token on its own.
    #[arg(long)]
    jti: Option<String>,
}

fn parse_json(text: &str) -> Result<serde_json::Value, String> {
    serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))
}

/// `chorus token`: prints the token alone, so that `TOKEN=$(chorus token alice)` works.
fn token(cli: &Cli, args: &TokenArgs) -> ExitCode {
    let config = match load(cli, None) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("chorus: invalid configuration: {e}");
            return ExitCode::from(2);
        }
    };
    // A development node's generated secret is in its credentials file.
    let dev_secret = config
        .dev
        .then(|| CredentialsFile::read(&credentials_dir(), config.listen.port()).ok())
        .flatten()
        .and_then(|file| file.hmac_secret);
    let request = chorus_server::gentoken::TokenRequest {
        user: args.user.clone(),
        ttl: args.ttl,
        subscribe: args.subscribe.clone(),
        publish: args.publish.clone(),
        broadcast: args.broadcast,
        info: args.info.clone(),
        jti: args.jti.clone(),
    };
    let now = chorus_server::clock::unix_secs();
    match chorus_server::gentoken::mint(&config, dev_secret.as_deref(), &request, now) {
        Ok(token) => {
            println!("{token}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("chorus token: {e}");
            ExitCode::from(2)
        }
    }
}

/// The configuration from the file, then the environment, then the flags.
/// Runs at startup and again on every reload (SIGHUP, `POST /api/reload`);
/// `dev` holds the keys a development node without its own gets for the run
/// (none for `chorus token`, which reads a running node's).
fn load(cli: &Cli, dev: Option<&DevCredentials>) -> Result<Config, ConfigError> {
    let mut config = Config::load(cli.config.as_deref(), std::env::vars())?;
    if let Some(listen) = cli.listen {
        config.listen = listen;
    }
    if cli.api_key.is_some() {
        config.api_key = cli.api_key.clone();
    }
    if !cli.nats.is_empty() {
        config.nats = cli.nats.clone();
    }
    if cli.log_json {
        config.log.format = LogFormat::Json;
    }
    if cli.dev || config.dev {
        config.apply_dev_profile();
    }
    if let Some(dev) = dev {
        dev.apply(&mut config);
    }
    config.validate()?;
    Ok(config)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::Token(args)) = &cli.command {
        return token(&cli, args);
    }
    let (dev, kept) = dev_keys(&cli);
    let config = match load(&cli, Some(&dev)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("chorus: invalid configuration: {e}");
            return ExitCode::from(2);
        }
    };
    init_logging(&config);
    if config.dev {
        tracing::warn!(
            "development profile: anonymous users may subscribe and publish in namespace `demo`; do not use in production"
        );
        match kept {
            Ok(Some(dir)) => tracing::info!(
                path = %dir.join(chorus_server::dev::KEYS_FILE).display(),
                "development keys kept across restarts (new ones: --reset-dev-keys)"
            ),
            Ok(None) => tracing::info!(
                "development keys for this run only: neither XDG_STATE_HOME nor HOME is set"
            ),
            Err(e) => tracing::warn!("development keys for this run only: {e}"),
        }
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("chorus: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let source = cli.clone();
        let reload_dev = dev.clone();
        let builder =
            ServerBuilder::new(config).reload_source(move || load(&source, Some(&reload_dev)));
        let server = match builder.bind().await {
            Ok(s) => s,
            Err(e) => {
                tracing::error!("cannot start: {e}");
                eprintln!("chorus: {e}");
                return ExitCode::from(2);
            }
        };
        let addr = server.local_addr();
        let config = server.node().config();
        let path = &config.ws_path;
        // A node that bound with both TLS files serves TLS (one alone fails
        // to bind), and a reload cannot turn it off.
        let ws = if config.tls.cert_file.is_some() {
            "wss"
        } else {
            "ws"
        };
        tracing::info!(%addr, "listening; WebSocket at {ws}://{addr}{path}");
        if let Some(notice) = chorus_server::admin::startup_notice(&config, addr, &dev.api_key) {
            tracing::info!("{notice}");
        }
        // Kept until the node stops: dropping it removes the file.
        let _credentials = write_dev_credentials(&config, addr);
        if config.dev {
            log_demo_token(&config, addr);
        }
        spawn_reload_on_sighup(server.node());
        server.run_until(shutdown_signal()).await;
        ExitCode::SUCCESS
    })
}

/// The keys a development node without its own uses: kept from an earlier
/// run in the user's state directory (forgotten first with
/// `--reset-dev-keys`), else generated for this run; with where they are kept,
/// or why they are not. A node that is not a development node touches no file.
fn dev_keys(cli: &Cli) -> (DevCredentials, std::io::Result<Option<PathBuf>>) {
    let dev = cli.dev || Config::load(cli.config.as_deref(), std::env::vars()).is_ok_and(|c| c.dev);
    let Some(dir) = chorus_server::dev::state_dir().filter(|_| dev) else {
        return (DevCredentials::generate(), Ok(None));
    };
    let kept = (if cli.reset_dev_keys {
        DevCredentials::forget(&dir)
    } else {
        Ok(())
    })
    .and_then(|()| DevCredentials::kept(&dir));
    match kept {
        Ok(keys) => (keys, Ok(Some(dir))),
        Err(e) => (DevCredentials::generate(), Err(e)),
    }
}

/// A development node prints a token to try it with, and how to get others.
fn log_demo_token(config: &Config, addr: SocketAddr) {
    let request = chorus_server::gentoken::TokenRequest {
        user: "demo-user".to_owned(),
        ttl: std::time::Duration::from_secs(24 * 3600),
        ..Default::default()
    };
    let now = chorus_server::clock::unix_secs();
    if let Ok(token) = chorus_server::gentoken::mint(config, None, &request, now) {
        let port = addr.port();
        tracing::info!(
            "a token for user `demo-user`, valid 24 h: {token} (others: `chorus token --dev --listen 127.0.0.1:{port} USER`)"
        );
    }
}

/// Writes the credentials file of a development node, for app backends on
/// this machine (see `chorus_server::dev`); a failure only costs them that.
fn write_dev_credentials(config: &Config, addr: SocketAddr) -> Option<WrittenFile> {
    let contents = DevCredentials::file_contents(config, addr)?;
    match contents.write(&credentials_dir(), addr.port()) {
        Ok(file) => {
            tracing::info!(
                path = %file.path().display(),
                "development credentials for local app backends (the example apps)"
            );
            Some(file)
        }
        Err(e) => {
            tracing::warn!("cannot write the development credentials file: {e}");
            None
        }
    }
}

fn init_logging(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CHORUS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&config.log.level));
    // Colours only for a terminal: a log file or a pipe gets plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi);
    match config.log.format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}

/// Reloads the configuration on every SIGHUP; a refused one is logged and the
/// old one stays in force.
fn spawn_reload_on_sighup(node: std::sync::Arc<chorus_server::Node>) {
    #[cfg(unix)]
    tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut hup) = signal(SignalKind::hangup()) else {
            return;
        };
        while hup.recv().await.is_some() {
            match node.reload_from_source().await {
                Ok(()) => tracing::info!("SIGHUP: configuration reloaded"),
                Err(e) => {
                    tracing::error!("SIGHUP: reload refused, keeping the old configuration: {e}")
                }
            }
        }
    });
    #[cfg(not(unix))]
    let _ = node;
}
