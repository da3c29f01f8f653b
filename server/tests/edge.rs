//! The node's edge before any client is authenticated: slow and silent peers
//! are closed on time, idle sockets cannot use up the node, and real clients
//! are served all the while.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use chorus_protocol::Codec;
use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Short enough for a test, far above a real client's needs.
const HEADER_TIMEOUT_MS: u64 = 600;

fn edge_config() -> chorus_server::Config {
    let mut c = config();
    c.limits.header_timeout_ms = HEADER_TIMEOUT_MS;
    c
}

/// Reads until the node closes the connection; how long that took (from
/// `since`), or `None` if it was still open after `wait`.
async fn closed_after(stream: &mut TcpStream, since: Instant, wait: Duration) -> Option<Duration> {
    let mut buf = [0u8; 1024];
    let read_to_end = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(wait, read_to_end)
        .await
        .ok()
        .map(|()| since.elapsed())
}

async fn connect(addr: SocketAddr) -> (TcpStream, Instant) {
    let stream = TcpStream::connect(addr).await.unwrap();
    (stream, Instant::now())
}

#[tokio::test]
async fn silent_dripping_unfinished_and_idle_connections_are_closed_on_time() {
    let server = TestServer::start(edge_config()).await;
    let addr = server.addr;
    let generous = Duration::from_secs(20);

    // Sends nothing at all.
    let (mut silent, t) = connect(addr).await;
    // Drips its request line, a byte every 100 ms (it would take seconds).
    let (mut dripping, t_drip) = connect(addr).await;
    let drip = tokio::spawn(async move {
        for b in b"GET /healthz HTTP/1.1\r\nHost: x\r\n".iter() {
            if dripping.write_all(&[*b]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        closed_after(&mut dripping, t_drip, generous).await
    });
    // Every header but the final blank line.
    let (mut unfinished, t_unfinished) = connect(addr).await;
    unfinished
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Padding: aaaaaaaa\r\n")
        .await
        .unwrap();
    // One request on a keep-alive connection, then idle.
    let (mut idle, _) = connect(addr).await;
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut answer = [0u8; 256];
    let n = idle.read(&mut answer).await.unwrap();
    assert!(
        answer[..n].starts_with(b"HTTP/1.1 200"),
        "{:?}",
        String::from_utf8_lossy(&answer[..n])
    );
    let t_idle = Instant::now();

    // Meanwhile a real client is served.
    assert_round_trip(&server, "chat:edge").await;

    let limit = Duration::from_millis(HEADER_TIMEOUT_MS);
    for (what, closed) in [
        ("silent", closed_after(&mut silent, t, generous).await),
        (
            "unfinished headers",
            closed_after(&mut unfinished, t_unfinished, generous).await,
        ),
        (
            "idle keep-alive",
            closed_after(&mut idle, t_idle, generous).await,
        ),
        ("dripping", drip.await.unwrap()),
    ] {
        let took = closed.unwrap_or_else(|| panic!("{what}: still open after {generous:?}"));
        assert!(took >= limit / 2, "{what}: closed after only {took:?}");
        // Closed by the deadline, not by anything slower (generous bound for
        // two shared cores).
        assert!(
            took < limit + Duration::from_secs(5),
            "{what}: closed after {took:?}"
        );
    }
    let metrics = http_get(addr, "/metrics").await.unwrap().1;
    assert!(
        metrics.contains("chorus_connections_refused_total{reason=\"header_timeout\"}"),
        "{metrics}"
    );
}

#[tokio::test]
async fn idle_sockets_cannot_use_up_the_node_and_authenticated_ones_leave_the_count() {
    let mut config = edge_config();
    config.limits.max_pending_connections = 4;
    config.limits.header_timeout_ms = 3_000;
    let server = TestServer::start(config).await;
    // Two authenticated clients: they do not count as pending.
    let mut a = server.user(Codec::Json, "alice").await;
    let _b = server.user(Codec::MessagePack, "bob").await;
    // Four silent sockets fill the pending count...
    let mut silent = Vec::new();
    for _ in 0..4 {
        silent.push(connect(server.addr).await.0);
    }
    // (the node counts a connection when it accepts it)
    let mut refused = None;
    for _ in 0..100 {
        let (mut extra, t) = connect(server.addr).await;
        // ...so one more is closed at once, without waiting for its headers.
        if let Some(took) = closed_after(&mut extra, t, Duration::from_millis(500)).await {
            refused = Some(took);
            break;
        }
        silent.push(extra);
    }
    let took = refused.expect("a connection beyond the pending cap was not refused");
    assert!(took < Duration::from_secs(2), "refused after {took:?}");
    // The authenticated clients go on working.
    assert!(a.request(ping_req()).await.is_ok());
    // Once the silent ones are closed by their deadline, new clients get in.
    let t = Instant::now();
    for s in &mut silent {
        closed_after(s, t, Duration::from_secs(20))
            .await
            .expect("closed by the header deadline");
    }
    let _c = server.user(Codec::Json, "carol").await;
    let metrics = http_get(server.addr, "/metrics").await.unwrap().1;
    assert!(
        metrics.contains("chorus_connections_refused_total{reason=\"pending\"}"),
        "{metrics}"
    );
}

#[tokio::test]
async fn connections_from_one_address_are_capped_when_asked() {
    let mut config = edge_config();
    config.limits.max_connections_per_ip = 3;
    config.limits.header_timeout_ms = 10_000;
    let server = TestServer::start(config).await;
    let _a = server.user(Codec::Json, "alice").await;
    let _b = server.user(Codec::Json, "bob").await;
    let (mut third, _) = connect(server.addr).await;
    let (mut fourth, t) = connect(server.addr).await;
    assert!(
        closed_after(&mut fourth, t, Duration::from_secs(5))
            .await
            .is_some(),
        "the fourth connection from 127.0.0.1 was not refused"
    );
    third
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    third.read_to_end(&mut answer).await.unwrap();
    assert!(answer.starts_with(b"HTTP/1.1 200"));
    let metrics = http_get(server.addr, "/metrics").await.unwrap().1;
    assert!(metrics.contains("reason=\"per_address\""), "{metrics}");
}
