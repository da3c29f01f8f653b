//! `wss://` end to end: a node that terminates TLS itself, with a CA and a
//! certificate made for this run, and the Rust client trusting that CA. A
//! renewed certificate is picked up by a reload, without a restart.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use chorus_client::{Client, Codec, Payload, Recovery, SubEvent};
use chorus_server::auth::{Claims, mint};
use chorus_server::config::NamespaceConfig;
use chorus_server::tls::TlsConfig;
use chorus_server::{Config, ServerBuilder};

const WAIT: Duration = Duration::from_secs(30);
const SECRET: &str = "client-test-secret-of-at-least-32-bytes";

fn token(user: &str) -> String {
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    let claims = Claims {
        sub: user.into(),
        exp: Some(exp),
        ..Default::default()
    };
    mint::hs256(SECRET, &claims).unwrap()
}

/// A new CA, and a certificate it signed for 127.0.0.1 and localhost, in
/// `dir/cert.pem` and `dir/key.pem`; returns the CA's PEM.
fn make_certificates(dir: &Path) -> String {
    chorus_testkit::write_certificates(dir);
    std::fs::read_to_string(dir.join("ca.pem")).unwrap()
}

async fn tls_node(
    dir: &Path,
) -> (
    SocketAddr,
    chorus_server::Handle,
    std::sync::Arc<chorus_server::Node>,
    Config,
) {
    let mut config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..Default::default()
    };
    config.auth.hmac_secret = Some(SECRET.into());
    config.tls = TlsConfig {
        cert_file: Some(dir.join("cert.pem")),
        key_file: Some(dir.join("key.pem")),
    };
    config.namespaces.insert(
        "chat".into(),
        NamespaceConfig {
            history_size: 100,
            ..Default::default()
        },
    );
    let server = ServerBuilder::new(config.clone()).bind().await.unwrap();
    let addr = server.local_addr();
    let handle = server.handle();
    let node = server.node();
    tokio::spawn(server.run_until(std::future::pending()));
    (addr, handle, node, config)
}

fn wss_client(addr: SocketAddr, ca: &str) -> Client {
    Client::builder(format!("wss://localhost:{}/ws", addr.port()))
        .add_root_certificate(ca)
        .unwrap()
        .token(token("alice"))
        .codec(Codec::MessagePack)
        .connect_timeout(Duration::from_secs(5))
        .build()
}

#[tokio::test]
async fn the_client_talks_to_a_node_over_wss_and_a_renewed_certificate_takes_effect() {
    let dir = tempfile::tempdir().unwrap();
    let ca = make_certificates(dir.path());
    let (addr, handle, node, config) = tls_node(dir.path()).await;

    let alice = wss_client(addr, &ca);
    tokio::time::timeout(WAIT, alice.connect())
        .await
        .unwrap()
        .unwrap();
    let mut sub = alice.subscribe("chat:tls").await.unwrap();
    let req = chorus_protocol::message::PublishRequest {
        channel: "chat:tls".into(),
        data: Payload::from("\"over tls\""),
        idempotency_key: None,
    };
    handle.publish(req).await.unwrap();
    loop {
        match tokio::time::timeout(WAIT, sub.next())
            .await
            .unwrap()
            .unwrap()
        {
            SubEvent::Publication(p) => {
                assert_eq!(p.data, Payload::from("\"over tls\""));
                break;
            }
            SubEvent::Subscribed(Recovery::Fresh) => {}
            other => panic!("{other:?}"),
        }
    }

    // A client that does not trust the CA is never connected.
    let stranger = Client::builder(format!("wss://localhost:{}/ws", addr.port()))
        .token(token("bob"))
        .build();
    assert!(
        tokio::time::timeout(Duration::from_secs(3), stranger.connect())
            .await
            .is_err(),
        "connected to a certificate it does not trust"
    );

    // A renewed certificate (another CA here) is read by a reload: new
    // connections get it, the open one goes on.
    let renewed = make_certificates(dir.path());
    node.reload(config).await.unwrap();
    let fresh = wss_client(addr, &renewed);
    tokio::time::timeout(WAIT, fresh.connect())
        .await
        .unwrap()
        .unwrap();
    let old_ca_only = wss_client(addr, &ca);
    assert!(
        tokio::time::timeout(Duration::from_secs(3), old_ca_only.connect())
            .await
            .is_err(),
        "the old certificate is still served"
    );
    alice.ping().await.unwrap();
}

#[test]
fn a_root_certificate_must_be_a_pem_certificate() {
    let builder = Client::builder("wss://localhost:1/ws");
    assert!(builder.add_root_certificate("not a certificate").is_err());
}
