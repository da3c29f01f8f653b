//! Simulated clients, so that one person with one browser sees many at once.
//!
//! Each bot is an ordinary client of the Chorus server, as a Rust service
//! would be one: signed in like a user (`bot-1`, `bot-2`, ...), connected with
//! `chorus-client`, subscribed to both channels (only subscribers may publish
//! in `demo`). It moves its cursor along a smooth curve of its own at about
//! 15 Hz and now and then draws a short stroke along that curve, so its cursor
//! traces what it draws. That is about 15 commands a second per connection,
//! well under the server's 100.
//!
//! The client reconnects by itself; a bot only starts over (new token, new
//! client) when the server refused something for good, and gives up after
//! [`MAX_RETRIES`] failures in a row, saying why on stderr.

use std::sync::Arc;
use std::time::Duration;

use chorus_client::{Client, ClientError, ConnectionState, Payload, SubEvent};
use chorus_example_support::ServerInfo;
use chorus_example_support::session::{SessionError, sign_in};
use serde::Serialize;
use tokio::task::JoinSet;
use tokio::time::{Instant, MissedTickBehavior};

use crate::{BOARD_CHANNEL, CURSORS_CHANNEL, Cursor};

mod motion;

use motion::{Path, Pen, Rng};

/// How often a bot moves its cursor (about 15 times a second).
pub const TICK: Duration = Duration::from_millis(66);

/// Failures in a row after which a bot gives up.
pub const MAX_RETRIES: u32 = 5;

/// How long a bot waits for the server before it counts a failure.
const CONNECT_WAIT: Duration = Duration::from_secs(30);

/// A run this long resets the failure count: the bot was working.
const STABLE: Duration = Duration::from_secs(60);

/// The bots' stroke colours, one per bot in turn.
const PALETTE: [&str; 6] = [
    "#e53935", "#1e88e5", "#43a047", "#fb8c00", "#8e24aa", "#00897b",
];

/// Why a bot's run ended.
#[derive(Debug, thiserror::Error)]
pub enum BotError {
    /// The bot could not be signed in (the server's key, not the network).
    #[error("cannot sign in: {0}")]
    SignIn(#[from] SessionError),
    /// The server refused or the client stopped.
    #[error("{0}")]
    Client(#[from] ClientError),
    /// No connection within [`CONNECT_WAIT`].
    #[error("the server is not reachable")]
    Unreachable,
    /// A subscription ended (the server ended it, or the client closed).
    #[error("subscription ended: {0}")]
    Ended(String),
    /// A message could not be encoded (a bug, not a network problem).
    #[error("cannot encode: {0}")]
    Encode(#[from] serde_json::Error),
}

/// Running bots; dropping this stops them (their connections close, so
/// everyone else sees them leave).
#[derive(Debug)]
pub struct Bots {
    tasks: JoinSet<()>,
}

impl Bots {
    /// Starts `count` bots, `bot-1` to `bot-<count>`, against `server`.
    pub fn spawn(server: Arc<ServerInfo>, count: usize) -> Bots {
        let mut tasks = JoinSet::new();
        for index in 1..=count {
            tasks.spawn(run(server.clone(), index));
        }
        Bots { tasks }
    }

    /// How many bots are still running.
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    /// Whether every bot has ended (or none was started).
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }
}

/// The user name of bot `index`.
pub fn name(index: usize) -> String {
    format!("bot-{index}")
}

/// One bot: runs, and starts over after a failure, a bounded number of times.
async fn run(server: Arc<ServerInfo>, index: usize) {
    let name = name(index);
    let mut failures = 0;
    loop {
        let started = Instant::now();
        let Err(e) = session(&server, &name, index).await;
        if matches!(e, BotError::SignIn(_) | BotError::Encode(_)) {
            eprintln!("whiteboard: {name} stops: {e}");
            return;
        }
        failures = if started.elapsed() > STABLE {
            1
        } else {
            failures + 1
        };
        if failures > MAX_RETRIES {
            eprintln!("whiteboard: {name} gives up after {MAX_RETRIES} retries: {e}");
            return;
        }
        let delay = Duration::from_secs(1 << failures.min(5));
        eprintln!("whiteboard: {name}: {e}; starting over in {delay:?}");
        tokio::time::sleep(delay).await;
    }
}

/// One connection's life: connect, subscribe, then move and draw until
/// something fails for good.
async fn session(
    server: &Arc<ServerInfo>,
    name: &str,
    index: usize,
) -> Result<std::convert::Infallible, BotError> {
    let token = sign_in(&server.ws, &server.hmac_secret, name)?.token;
    let refresh = {
        let (server, name) = (server.clone(), name.to_owned());
        // Tokens expire after an hour; a new one is a signature away.
        move || {
            let token = sign_in(&server.ws, &server.hmac_secret, &name)
                .map(|s| s.token)
                .map_err(|e| ClientError::Closed(e.to_string()));
            async move { token }
        }
    };
    let client = Client::builder(server.ws.clone())
        .token(token)
        .token_provider(refresh)
        .build();
    tokio::time::timeout(CONNECT_WAIT, client.connect())
        .await
        .map_err(|_| BotError::Unreachable)??;
    let mut cursors = client.subscribe(CURSORS_CHANNEL).await?;
    let mut board = client.subscribe(BOARD_CHANNEL).await?;

    let mut rng = Rng::new(index);
    let mut path = Path::new(&mut rng);
    let mut pen = Pen::new(name, PALETTE[(index - 1) % PALETTE.len()], &mut rng);
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    loop {
        // What others publish is read and dropped: a subscription that is not
        // read would in the end stop the client reading its socket.
        tokio::select! {
            event = cursors.next() => still_live(event)?,
            event = board.next() => still_live(event)?,
            _ = tick.tick() => {
                match client.state() {
                    ConnectionState::Connected => {}
                    ConnectionState::Closed => {
                        let reason = client
                            .last_close()
                            .map(|r| format!("{}: {}", r.code, r.reason))
                            .unwrap_or_default();
                        return Err(ClientError::Closed(reason).into());
                    }
                    // Cursor moves made while reconnecting would only be stale.
                    _ => continue,
                }
                let (x, y) = path.step();
                publish(&client, CURSORS_CHANNEL, &Cursor { x, y }).await?;
                if let Some(stroke) = pen.step(x, y, &mut rng) {
                    publish(&client, BOARD_CHANNEL, &stroke).await?;
                }
            }
        }
    }
}

fn still_live(event: Option<SubEvent>) -> Result<(), BotError> {
    match event {
        None => Err(BotError::Ended("the client stopped".into())),
        Some(SubEvent::Unsubscribed(e)) => Err(BotError::Ended(
            e.map_or_else(|| "by the server".into(), |e| e.to_string()),
        )),
        Some(_) => Ok(()),
    }
}

/// Publishes `value`; a temporary failure (a timeout, a lost connection) loses
/// one move or stroke and is only logged.
async fn publish(client: &Client, channel: &str, value: &impl Serialize) -> Result<(), BotError> {
    match client.publish(channel, Payload::json(value)?).await {
        Ok(_) => Ok(()),
        Err(e) if e.is_temporary() => {
            eprintln!("whiteboard: a bot's publish to {channel} failed: {e}");
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}
