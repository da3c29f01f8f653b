//! Failed attempts are visible: while `connect` keeps trying, every failure
//! reaches `Client::failures` with its cause (refused, an HTTP error, a silent
//! peer's timeout), its URL and the count of consecutive failures.

use std::net::SocketAddr;
use std::time::Duration;

use chorus_client::{Client, ClientError, ConnectionState};
use chorus_protocol::CloseCode;
use chorus_server::{Config, ServerBuilder};
use tokio::net::TcpListener;

const WAIT: Duration = Duration::from_secs(30);

async fn server() -> SocketAddr {
    let config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..Default::default()
    };
    let server = ServerBuilder::new(config).bind().await.unwrap();
    let addr = server.local_addr();
    tokio::spawn(server.run_until(std::future::pending()));
    addr
}

/// A TCP peer that accepts connections and never says a word.
async fn silent_peer() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    addr
}

#[tokio::test]
async fn every_failed_attempt_is_reported_while_connect_waits() {
    let refused = {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap()
    };
    let node = server().await;
    let silent = silent_peer().await;
    let urls = [
        format!("ws://{refused}/ws"),
        format!("ws://{node}/no-such-path"),
        format!("ws://{silent}/ws"),
    ];
    let client = Client::builder(urls[0].clone())
        .urls(urls.clone())
        .backoff(Duration::from_millis(10), Duration::from_millis(50))
        .connect_timeout(Duration::from_secs(2))
        .build();
    let mut failures = client.failures();
    let connecting = tokio::spawn({
        let client = client.clone();
        async move { client.connect().await }
    });

    for (i, url) in urls.iter().enumerate() {
        let f = tokio::time::timeout(WAIT, failures.recv())
            .await
            .expect("a failure is reported")
            .unwrap();
        assert_eq!((&f.url, f.attempt), (url, i as u32 + 1), "{f:?}");
        assert!(f.retry_in_ms.is_some(), "{f:?}");
        let cause = f.reason.reason.to_lowercase();
        match i {
            0 => assert!(
                f.reason.code == CloseCode(1006) && cause.contains("refused"),
                "{f:?}"
            ),
            1 => assert!(
                f.reason.code == CloseCode(1006) && cause.contains("404"),
                "{f:?}"
            ),
            _ => assert_eq!(f.reason.code, CloseCode::REQUEST_TIMEOUT, "{f:?}"),
        }
    }
    assert_eq!(client.state(), ConnectionState::Connecting);
    assert!(!connecting.is_finished(), "connect still waits for a node");

    client.disconnect().await.unwrap();
    let result = tokio::time::timeout(WAIT, connecting)
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(result, Err(ClientError::Closed(_))), "{result:?}");
}

#[tokio::test]
async fn settings_that_cannot_work_are_refused_by_connect() {
    let bad_url = Client::builder("http://127.0.0.1:1/ws");
    assert!(matches!(bad_url.validate(), Err(ClientError::Config(_))));
    let err = bad_url.build().connect().await.unwrap_err();
    assert!(err.to_string().contains("ws://"), "{err}");
    let delays = Client::builder("ws://127.0.0.1:1/ws")
        .backoff(Duration::from_secs(5), Duration::from_secs(1))
        .build();
    let err = delays.connect().await.unwrap_err();
    assert!(matches!(err, ClientError::Config(_)), "{err:?}");
    assert_eq!(delays.state(), ConnectionState::Disconnected);
}
