//! Reading a connection: the next frame, the reply to a command, the next
//! push of some kind, the close. Every wait is bounded by [`WAIT`]; frames
//! that arrive while waiting for something else are kept, in order, for the
//! wait that wants them.

use chorus_protocol::message::{Error, Publication};
use chorus_protocol::{Push, Reply, ReplyBody, ServerFrame};

use super::conn::Conn;
use super::reader::{Closed, Event, Received};
use super::wire::show;
use super::{Failure, WAIT, fail};

impl Conn {
    /// The next frame from the wire, or how the connection ended (again and
    /// again once it has). Pushes and replies kept by other methods are not
    /// returned here.
    pub async fn recv(&mut self) -> Result<Result<Received, Closed>, Failure> {
        if let Some(closed) = &self.closed {
            return Ok(Err(closed.clone()));
        }
        let event = tokio::time::timeout(WAIT, self.events.recv())
            .await
            .map_err(|_| {
                fail!(
                    "nothing received from the server within {} s",
                    WAIT.as_secs()
                )
            })?;
        let received = match event {
            None => {
                let closed = Closed {
                    code: 1006,
                    reason: "the reader stopped".into(),
                    pushed: self.disconnect.clone(),
                };
                self.closed = Some(closed.clone());
                return Ok(Err(closed));
            }
            Some(Event::Closed(mut closed)) => {
                closed.pushed = self.disconnect.clone();
                self.closed = Some(closed.clone());
                return Ok(Err(closed));
            }
            Some(Event::Bad(why)) => return Err(Failure(why)),
            Some(Event::Frame(received)) => received,
        };
        match &received.frame {
            ServerFrame::Push(Push::Disconnect(d)) => self.disconnect = Some(d.clone()),
            ServerFrame::Reply(reply) => {
                if !self.pending.remove(&reply.id) {
                    return Err(fail!(
                        "a reply to id {} arrived, but no command with that id awaits a reply (never sent, or already answered): {}",
                        reply.id,
                        show(&received.raw, self.codec)
                    ));
                }
            }
            ServerFrame::Push(_) => {}
        }
        Ok(Ok(received))
    }

    /// Waits for the reply to `id`, with its bytes; keeps pushes for
    /// [`Conn::push`] and other replies for their own waits. Fails on a close
    /// or a timeout.
    pub async fn reply_raw(
        &mut self,
        id: u64,
    ) -> Result<(Vec<u8>, Result<ReplyBody, Error>), Failure> {
        if let Some(kept) = self.replies.remove(&id) {
            return Ok(kept);
        }
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let received = tokio::time::timeout_at(deadline, self.recv())
                .await
                .map_err(|_| fail!("no reply to id {id} within {} s", WAIT.as_secs()))?;
            match received? {
                Ok(Received {
                    raw,
                    frame: ServerFrame::Reply(Reply { id: got, result }),
                    ..
                }) => {
                    if got == id {
                        return Ok((raw, result));
                    }
                    self.replies.insert(got, (raw, result));
                }
                Ok(Received {
                    frame: ServerFrame::Push(Push::Ping(_)),
                    ..
                }) => {}
                Ok(Received {
                    frame: ServerFrame::Push(p),
                    ..
                }) => self.pushes.push_back(p),
                Err(closed) => {
                    return Err(fail!(
                        "the server closed while waiting for the reply to id {id}: {closed}"
                    ));
                }
            }
        }
    }

    /// Waits for the reply to `id`.
    pub async fn reply(&mut self, id: u64) -> Result<Result<ReplyBody, Error>, Failure> {
        Ok(self.reply_raw(id).await?.1)
    }

    /// The next push other than a server ping (kept ones first).
    pub async fn push(&mut self) -> Result<Push, Failure> {
        self.push_where("a push", |_| true).await
    }

    /// The first push (other than a server ping) for which `pred` holds,
    /// described by `what` in failures. Pushes that do not match are kept, in
    /// order, for later waits.
    pub async fn push_where(
        &mut self,
        what: &str,
        mut pred: impl FnMut(&Push) -> bool,
    ) -> Result<Push, Failure> {
        if let Some(i) = self.pushes.iter().position(&mut pred) {
            if let Some(p) = self.pushes.remove(i) {
                return Ok(p);
            }
        }
        // One deadline for the whole wait: pings alone must not keep it going.
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let received = tokio::time::timeout_at(deadline, self.recv())
                .await
                .map_err(|_| fail!("no {what} within {} s", WAIT.as_secs()))?;
            match received? {
                Ok(Received {
                    frame: ServerFrame::Push(Push::Ping(_)),
                    ..
                }) => {}
                Ok(Received {
                    frame: ServerFrame::Push(p),
                    ..
                }) => {
                    if pred(&p) {
                        return Ok(p);
                    }
                    self.pushes.push_back(p);
                }
                Ok(Received {
                    raw,
                    frame: ServerFrame::Reply(Reply { id, result }),
                    ..
                }) => {
                    self.replies.insert(id, (raw, result));
                }
                Err(closed) => {
                    return Err(fail!(
                        "the server closed while waiting for {what}: {closed}"
                    ));
                }
            }
        }
    }

    /// The next publication in `channel`.
    pub async fn publication(&mut self, channel: &str) -> Result<Publication, Failure> {
        let what = format!("a publication in {channel:?}");
        match self
            .push_where(
                &what,
                |p| matches!(p, Push::Publication(p) if p.channel == channel),
            )
            .await?
        {
            Push::Publication(p) => Ok(p),
            other => Err(fail!("expected {what}, got {other:?}")),
        }
    }

    /// The pushes kept so far (received while waiting for other things), oldest first.
    pub fn kept_pushes(&self) -> impl Iterator<Item = &Push> {
        self.pushes.iter()
    }

    /// Reads until the server closes; returns the close code, reason and the
    /// last `disconnect` push. Other frames are skipped.
    pub async fn closed(&mut self) -> Result<Closed, Failure> {
        loop {
            match self.recv().await {
                Ok(Ok(_)) => {}
                Ok(Err(closed)) => return Ok(closed),
                Err(f) => return Err(fail!("while waiting for the server to close: {f}")),
            }
        }
    }

    /// Whether the server has closed the connection (as far as read so far).
    pub fn is_closed(&self) -> bool {
        self.closed.is_some()
    }
}
