//! Load generator for Chorus, measured side by side with Centrifugo.
//!
//! `chorus-bench` starts the servers it measures as child processes (the
//! release `chorus` binary, and `centrifugo` when it is installed), opens many
//! WebSocket connections from one tokio process, and drives the same load
//! against each server in the same run:
//!
//! | scenario | load | figures |
//! | --- | --- | --- |
//! | [`idle`](scenarios::idle) | N idle connections, each subscribed to 2 channels | server memory per connection |
//! | [`fanout`](scenarios::fanout) | 1 publisher, 1 channel, N subscribers | deliveries per second, latency percentiles |
//! | [`rooms`](scenarios::rooms) | M channels x K members, each publishing at R per second | deliveries per second, latency percentiles, server CPU per million deliveries |
//! | [`cluster`](scenarios::cluster) | fanout and rooms over 2 nodes joined by NATS | the same figures |
//! | [`soak`](scenarios::soak) | rooms at constant load for minutes | server memory over time |
//!
//! The clients are deliberately lean: a raw WebSocket per connection
//! ([`client`]) speaking either server's JSON protocol through a small
//! [`Dialect`](targets::Dialect) (Chorus frames come from the
//! `chorus-protocol` codecs). Latency is measured from the publisher's send to
//! the subscriber's receive with one clock, since both ends live in this
//! process ([`payload`]). Server memory and CPU come from `/proc` ([`procstat`]).
//!
//! `bench/run.sh` builds everything, installs Centrifugo and runs the whole
//! comparison; docs/benchmarks.md records the results.

pub mod addrs;
pub mod cli;
pub mod client;
pub mod fleet;
pub mod metrics;
pub mod pace;
pub mod payload;
pub mod procstat;
pub mod report;
pub mod scenarios;
pub mod targets;

/// The error type of the benchmark: any error, with a message for the report.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
