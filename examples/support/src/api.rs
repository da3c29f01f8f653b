//! The server API, as an app backend calls it (docs/api.md): a key in the
//! `Authorization` header, JSON in, JSON out, `{"error": {...}}` on failure.

use std::time::Duration;

use serde_json::{Value, json};

use crate::server::ServerInfo;

/// A server API call that failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The server could not be reached, or answered something unreadable.
    #[error("server API unreachable: {0}")]
    Transport(#[from] reqwest::Error),
    /// The server refused the call (`{"error": {"code", "message"}}`).
    #[error("server API refused ({status}): {body}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The error body.
        body: String,
    },
}

/// A client of one server's API.
#[derive(Debug, Clone)]
pub struct Api {
    http: reqwest::Client,
    base: String,
    auth: String,
}

impl Api {
    /// A client for `server`, with its API key.
    pub fn new(server: &ServerInfo) -> Result<Api, ApiError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()?;
        Ok(Api {
            http,
            base: server.http.clone(),
            auth: format!("apikey {}", server.api_key),
        })
    }

    /// `POST /api/<route>` with `body`; the answer's JSON.
    pub async fn call(&self, route: &str, body: &Value) -> Result<Value, ApiError> {
        let response = self
            .http
            .post(format!("{}/api/{route}", self.base))
            .header(reqwest::header::AUTHORIZATION, &self.auth)
            .json(body)
            .send()
            .await?;
        let status = response.status();
        if !status.is_success() {
            return Err(ApiError::Refused {
                status: status.as_u16(),
                body: response.text().await.unwrap_or_default(),
            });
        }
        Ok(response.json().await?)
    }

    /// Sends `data` to every connection of `user` (and to their inbox).
    pub async fn send(&self, user: &str, data: Value) -> Result<(), ApiError> {
        self.call("send", &json!({ "user": user, "data": data }))
            .await
            .map(drop)
    }

    /// Sends `data` to every connection on every node.
    pub async fn broadcast(&self, data: Value) -> Result<(), ApiError> {
        self.call("broadcast", &json!({ "data": data }))
            .await
            .map(drop)
    }
}
