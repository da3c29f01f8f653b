//! The chaos suite of Chorus (`chorus-chaos`).
//!
//! Each run starts three `nats-server` processes as one JetStream cluster
//! (file storage, `sync_interval: always`), three `chorus` nodes on it
//! (history stream with three replicas), then subscribers and publishers on
//! `chorus-client` spread over the nodes, each client knowing every node's
//! URL. In the middle of the load it injects one fault:
//!
//! | scenario | fault |
//! | --- | --- |
//! | `baseline` | none: nothing may fail at all |
//! | `kill-node` | SIGKILL a node, start it again after the down time |
//! | `term-node` | SIGTERM a node (it drains), start it again |
//! | `stop-node` | SIGSTOP a node for the down time, then SIGCONT |
//! | `kill-nats-leader` | SIGKILL the NATS server leading the history stream, restart it |
//! | `kill-nats-follower` | SIGKILL a NATS server following it, restart it |
//! | `rolling-restart` | SIGTERM and restart every node in turn |
//!
//! At the end every acknowledged publication is checked against every
//! subscriber of its channel: lost, duplicated, out of order, at another
//! offset than acknowledged. A run fails on any of those, on a subscriber
//! left unsubscribed, and (the baseline only) on any failed publish. Every
//! process listens on 127.0.0.1 and is stopped by its pid when the run ends;
//! a run that exceeds its time budget is stopped and fails.
//!
//! `./scripts/chaos` builds the binaries and runs it; docs/reliability.md
//! holds the figures.

pub mod load;
pub mod nodes;
pub mod run;
pub mod system;
pub mod verdict;
