//! A single real nats-server: JetStream works, subscriptions are visible, the
//! store survives kill + restart, and drop cleans up.

mod common;

use chorus_testkit::{NatsServer, nats_server_bin};
use common::{RawNats, eventually};
use serde_json::json;

#[test]
fn the_binary_is_found_and_runs() {
    let bin = nats_server_bin();
    let out = std::process::Command::new(&bin)
        .arg("--version")
        .output()
        .expect("running nats-server --version");
    assert!(out.status.success(), "{}: {out:?}", bin.display());
}

#[tokio::test]
async fn a_server_starts_with_jetstream() {
    let server = NatsServer::start().await;
    assert_eq!(server.url(), format!("nats://127.0.0.1:{}", server.port()));
    assert_eq!(server.monitor("/healthz").await["status"], "ok");
    let varz = server.monitor("/varz").await;
    assert_eq!(varz["server_name"], server.name());
    assert_eq!(varz["port"], server.port());

    let mut nats = RawNats::connect(server.port()).await.unwrap();
    let info = nats.js("$JS.API.INFO", json!({})).await;
    assert_eq!(
        info["type"],
        "io.nats.jetstream.api.v1.account_info_response"
    );
}

#[tokio::test]
async fn subscriptions_are_listed_only_while_held() {
    let server = NatsServer::start().await;
    let subject = "chorus.testkit.channel";
    assert!(!server.subscriptions().await.contains(&subject.to_owned()));

    let mut nats = RawNats::connect(server.port()).await.unwrap();
    nats.subscribe(subject).await.unwrap();
    eventually("the subscription is listed", || async {
        server.subscriptions().await.contains(&subject.to_owned())
    })
    .await;

    drop(nats);
    eventually("the subscription is gone", || async {
        !server.subscriptions().await.contains(&subject.to_owned())
    })
    .await;
}

#[tokio::test]
async fn kill_and_restart_keep_ports_and_store() {
    let mut server = NatsServer::start().await;
    let url = server.url();
    let mut nats = RawNats::connect(server.port()).await.unwrap();
    nats.js(
        "$JS.API.STREAM.CREATE.KEEP",
        json!({"name": "KEEP", "subjects": ["keep.>"], "storage": "file"}),
    )
    .await;
    drop(nats);

    server.kill();
    assert!(!server.is_running());
    assert!(
        RawNats::connect(server.port()).await.is_err(),
        "still accepting after kill"
    );
    server.kill(); // a second kill is harmless

    server.restart().await;
    assert_eq!(server.url(), url);
    let mut nats = RawNats::connect(server.port()).await.unwrap();
    let info = nats.js("$JS.API.STREAM.INFO.KEEP", json!({})).await;
    assert_eq!(info["config"]["name"], "KEEP");
}

#[tokio::test]
async fn drop_kills_the_server_and_removes_its_directory() {
    let server = NatsServer::start().await;
    let port = server.port();
    let store = server.store_dir();
    assert!(store.is_dir());
    drop(server);
    assert!(!store.exists(), "{} left behind", store.display());
    assert!(
        RawNats::connect(port).await.is_err(),
        "still accepting after drop"
    );
}

#[tokio::test]
async fn servers_started_in_parallel_get_their_own_ports() {
    let (a, b, c, d) = tokio::join!(
        NatsServer::start(),
        NatsServer::start(),
        NatsServer::start(),
        NatsServer::start()
    );
    let mut ports = vec![a.port(), b.port(), c.port(), d.port()];
    ports.sort();
    ports.dedup();
    assert_eq!(ports.len(), 4);
    for server in [&a, &b, &c, &d] {
        let mut nats = RawNats::connect(server.port()).await.unwrap();
        nats.js("$JS.API.INFO", json!({})).await;
    }
}
