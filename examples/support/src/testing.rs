//! For the example apps' tests: a development node in this process, with the
//! keys a `chorus --dev` node would generate, and an app served beside it.
//! Real parts only: a real server on a loopback port, the app's real router.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use chorus_server::dev::DevCredentials;
use chorus_server::{Config, ServerBuilder};
use tokio::sync::oneshot;

use crate::ServerInfo;

/// A running development node; dropping it stops the node.
pub struct DevNode {
    /// The node as the apps see it.
    pub info: Arc<ServerInfo>,
    stop: Option<oneshot::Sender<()>>,
}

impl DevNode {
    /// Starts a development node (`chorus --dev` with generated keys) on a free
    /// loopback port.
    pub async fn start() -> DevNode {
        let mut config = Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            ..Config::default()
        };
        config.apply_dev_profile();
        let keys = DevCredentials::generate();
        keys.apply(&mut config);
        let server = ServerBuilder::new(config)
            .bind()
            .await
            .expect("the development node starts");
        let addr = server.local_addr();
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(server.run_until(async {
            let _ = stopped.await;
        }));
        DevNode {
            info: Arc::new(ServerInfo {
                http: format!("http://{addr}"),
                ws: format!("ws://{addr}/ws"),
                api_key: keys.api_key,
                hmac_secret: keys.hmac_secret,
            }),
            stop: Some(stop),
        }
    }
}

impl Drop for DevNode {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Serves `app` on a free loopback port; its base URL.
pub async fn serve_app(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free port");
    let addr = listener.local_addr().expect("bound");
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

/// Signs `user` in through the app at `base` (`POST /session`); the token.
pub async fn sign_in(base: &str, user: &str) -> String {
    let session: serde_json::Value = reqwest::Client::new()
        .post(format!("{base}/session"))
        .json(&serde_json::json!({ "user": user }))
        .send()
        .await
        .expect("the app answers")
        .error_for_status()
        .expect("signed in")
        .json()
        .await
        .expect("JSON");
    session["token"].as_str().expect("a token").to_owned()
}
