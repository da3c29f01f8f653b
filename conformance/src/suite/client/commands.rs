//! Command helpers: a command sent and its reply awaited, `connect` and
//! `ping` with what the suite always sends.

use chorus_protocol::message::{ConnectRequest, ConnectResult, Empty, Error};
use chorus_protocol::{ReplyBody, Request};

use super::conn::Conn;
use super::wire::show;
use super::{Failure, fail};

impl Conn {
    /// Sends a command and waits for its reply.
    pub async fn request(&mut self, request: Request) -> Result<Result<ReplyBody, Error>, Failure> {
        let id = self.send(request).await?;
        self.reply(id).await
    }

    /// Sends a command and requires a successful reply under the command's own key.
    pub async fn request_ok(&mut self, request: Request) -> Result<ReplyBody, Failure> {
        let op = request.key();
        match self.request(request).await? {
            Ok(body) if body.key() == op => Ok(body),
            Ok(body) => Err(fail!(
                "the reply to `{op}` has op `{}`, expected `{op}`",
                body.key()
            )),
            Err(e) => Err(fail!("`{op}` failed: error {} {:?}", e.code.0, e.message)),
        }
    }

    /// Sends `connect` with `token` and the suite's client name.
    pub async fn connect(
        &mut self,
        token: Option<String>,
    ) -> Result<Result<ConnectResult, Error>, Failure> {
        let request = ConnectRequest {
            token,
            name: Some("chorus-conformance".into()),
            version: Some(env!("CARGO_PKG_VERSION").into()),
            ..Default::default()
        };
        Ok(self.connect_raw(request).await?.1)
    }

    /// Sends `connect` as given; returns the reply's bytes too. A successful
    /// reply is remembered in [`Conn::session`].
    pub async fn connect_raw(
        &mut self,
        request: ConnectRequest,
    ) -> Result<(Vec<u8>, Result<ConnectResult, Error>), Failure> {
        let id = self.send(Request::Connect(request)).await?;
        let (raw, reply) = self.reply_raw(id).await?;
        match reply {
            Ok(ReplyBody::Connect(result)) => {
                self.session = Some(result.clone());
                Ok((raw, Ok(result)))
            }
            Ok(other) => Err(fail!(
                "the reply to `connect` has op `{}`: {}",
                other.key(),
                show(&raw, self.codec)
            )),
            Err(e) => Ok((raw, Err(e))),
        }
    }

    /// Sends a `ping` command and requires the `ping` reply.
    pub async fn ping(&mut self) -> Result<(), Failure> {
        self.request_ok(Request::Ping(Empty {})).await.map(|_| ())
    }
}
