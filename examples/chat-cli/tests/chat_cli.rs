//! The terminal chat as a user runs it: two copies of the real binary, as
//! alice and bob, against a real development node in this process. Each joins
//! the default channel (`demo:lobby`, open to anonymous users in the
//! development profile), a line typed into one is printed by the other with the
//! author's name, and closing stdin (Ctrl-D) quits cleanly.

use std::process::Stdio;
use std::time::Duration;

use chorus_example_support::testing::DevNode;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::mpsc;
use tokio::time::{Instant, timeout_at};

/// Generous: shared CI machines, debug builds, two processes starting at once.
const WAIT: Duration = Duration::from_secs(45);

/// Which of a client's outputs a line came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stream {
    /// Messages from the channel.
    Stdout,
    /// Status: the ready line, joins and leaves, reconnects.
    Stderr,
}

/// A running `chorus-chat`, its output read line by line.
struct ChatCli {
    name: &'static str,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::UnboundedReceiver<(Stream, String)>,
    /// Everything read so far, for failure messages.
    seen: Vec<(Stream, String)>,
}

impl ChatCli {
    /// Starts the binary as `name` against the node's WebSocket URL, on the
    /// default channel and without a token.
    fn start(node: &DevNode, name: &'static str) -> ChatCli {
        let mut child = Command::new(env!("CARGO_BIN_EXE_chorus-chat"))
            .args(["--url", &node.info.ws, "--name", name])
            .env_remove("CHORUS_TOKEN")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("the chat binary starts");
        let (tx, lines) = mpsc::unbounded_channel();
        forward(
            child.stdout.take().expect("piped stdout"),
            Stream::Stdout,
            tx.clone(),
        );
        forward(
            child.stderr.take().expect("piped stderr"),
            Stream::Stderr,
            tx,
        );
        let stdin = child.stdin.take();
        ChatCli {
            name,
            child,
            stdin,
            lines,
            seen: Vec::new(),
        }
    }

    /// Reads lines until one on `stream` satisfies `wanted`; panics, showing
    /// all output so far, if none does within [`WAIT`] or the process ends.
    async fn wait_for(&mut self, stream: Stream, wanted: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            match timeout_at(deadline, self.lines.recv()).await {
                Ok(Some((from, line))) => {
                    self.seen.push((from, line.clone()));
                    if from == stream && wanted(&line) {
                        return line;
                    }
                }
                Ok(None) => panic!(
                    "{} ended its output before the expected {stream:?} line; it printed {:#?}",
                    self.name, self.seen
                ),
                Err(_) => panic!(
                    "{} printed no expected {stream:?} line within {WAIT:?}; it printed {:#?}",
                    self.name, self.seen
                ),
            }
        }
    }

    /// Waits for the line the client prints once it is subscribed.
    async fn wait_ready(&mut self) {
        let ready = format!("connected to demo:lobby as {}", self.name);
        self.wait_for(Stream::Stderr, |line| line.starts_with(&ready))
            .await;
    }

    /// Types `text` and Enter.
    async fn say(&mut self, text: &str) {
        let stdin = self.stdin.as_mut().expect("stdin still open");
        stdin
            .write_all(format!("{text}\n").as_bytes())
            .await
            .expect("the client reads its stdin");
        stdin.flush().await.expect("stdin flushed");
    }

    /// Closes stdin (Ctrl-D) and checks that the client exits successfully.
    async fn quit(mut self) {
        drop(self.stdin.take());
        let status = timeout_at(Instant::now() + WAIT, self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("{} did not exit after Ctrl-D", self.name))
            .expect("the exit status");
        assert!(status.success(), "{} exited with {status}", self.name);
    }
}

/// Sends each line of `output` to `tx`, tagged with `stream`, until it ends.
fn forward(
    output: impl AsyncRead + Unpin + Send + 'static,
    stream: Stream,
    tx: mpsc::UnboundedSender<(Stream, String)>,
) {
    tokio::spawn(async move {
        let mut lines = BufReader::new(output).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if tx.send((stream, line)).is_err() {
                break;
            }
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_terminal_clients_chat_on_the_default_channel() {
    let node = DevNode::start().await;
    let mut alice = ChatCli::start(&node, "alice");
    let mut bob = ChatCli::start(&node, "bob");
    alice.wait_ready().await;
    bob.wait_ready().await;

    alice.say("hello from alice").await;
    bob.wait_for(Stream::Stdout, |line| line == "alice: hello from alice")
        .await;

    bob.say("hi alice, bob here").await;
    alice
        .wait_for(Stream::Stdout, |line| line == "bob: hi alice, bob here")
        .await;

    alice.quit().await;
    bob.quit().await;
}
