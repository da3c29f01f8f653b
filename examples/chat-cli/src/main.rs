//! `chorus-chat`: a terminal chat over Chorus, to try the Rust client by hand.
//!
//! ```text
//! cargo run --release -p chorus-server -- --dev          # in one terminal
//! cargo run -p chorus-example-chat-cli -- --name alice   # in two others
//! ```
//!
//! Lines typed are published to the channel; publications are printed as they
//! arrive, including those recovered after a reconnect.

use std::time::Duration;

use chorus_client::{Client, ClientError, Payload, Recovery, SubEvent};
use tokio::io::{AsyncBufReadExt, BufReader};

struct Args {
    url: String,
    channel: String,
    name: String,
    token: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        url: "ws://127.0.0.1:8000/ws".into(),
        channel: "demo:lobby".into(),
        name: format!("cli-{}", std::process::id() % 1000),
        token: std::env::var("CHORUS_TOKEN").ok(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--url" => args.url = value()?,
            "--channel" => args.channel = value()?,
            "--name" => args.name = value()?,
            "--token" => args.token = Some(value()?),
            "-h" | "--help" => {
                return Err(
                    "usage: chorus-chat [--url WS_URL] [--channel CH] [--name NAME] [--token JWT]"
                        .into(),
                );
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(args)
}

fn who(user: &str) -> &str {
    if user.is_empty() { "a guest" } else { user }
}

fn show(data: &Payload) -> String {
    match data.parse_json::<serde_json::Value>() {
        Ok(v) => format!(
            "{}: {}",
            v["name"].as_str().unwrap_or("?"),
            v["text"].as_str().unwrap_or_default()
        ),
        Err(_) => format!("{data:?}"),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args().map_err(|e| {
        eprintln!("{e}");
        std::process::exit(2)
    })?;
    let mut builder =
        Client::builder(&args.url).backoff(Duration::from_millis(300), Duration::from_secs(10));
    if let Some(token) = &args.token {
        builder = builder.token(token.clone());
    }
    let client = builder.build();
    client.connect().await?;
    let mut sub = client.subscribe(&args.channel).await?;
    eprintln!(
        "connected to {} as {}; type to chat, Ctrl-D to quit",
        args.channel, args.name
    );

    let printer = tokio::spawn(async move {
        while let Some(event) = sub.next().await {
            match event {
                SubEvent::Publication(p) => println!("{}", show(&p.data)),
                SubEvent::Subscribing => eprintln!("(reconnecting...)"),
                SubEvent::Subscribed(Recovery::Recovered) => eprintln!("(back; nothing missed)"),
                SubEvent::Subscribed(Recovery::Unrecoverable) => {
                    eprintln!("(back; some messages were missed)")
                }
                SubEvent::Subscribed(Recovery::Fresh) => {}
                SubEvent::Gap {
                    recovered: true, ..
                } => {}
                SubEvent::Gap { missed, .. } => {
                    eprintln!("({} messages were lost)", missed.end() - missed.start() + 1)
                }
                SubEvent::Join(m) => eprintln!("({} joined)", who(&m.info.user)),
                SubEvent::Leave(m) => eprintln!("({} left)", who(&m.info.user)),
                SubEvent::Unsubscribed(e) => {
                    eprintln!("(subscription ended: {e:?})");
                    break;
                }
            }
        }
    });

    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Some(line) = lines.next_line().await? {
        if line.trim().is_empty() {
            continue;
        }
        let data = Payload::json(&serde_json::json!({ "name": args.name, "text": line }))?;
        match client.publish(&args.channel, data).await {
            Ok(_) => {}
            Err(ClientError::Closed(reason)) => {
                eprintln!("closed: {reason}");
                break;
            }
            Err(e) => eprintln!("not sent: {e}"),
        }
    }
    client.disconnect().await?;
    printer.abort();
    Ok(())
}
