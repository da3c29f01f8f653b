//! The user's inbox as a device sees it: the position of the last message to
//! the user it delivered, sent with every `connect` so the server replays what
//! arrived meanwhile, and used to deliver each inbox message once, in order.

use crate::cursor::{Advance, Cursor};
use crate::message::{InboxResult, Message, StreamPosition};

use super::event::{Event, Recovery};

/// This device's inbox position.
#[derive(Debug, Clone, Default)]
pub(super) struct Inbox {
    position: Cursor,
}

impl Inbox {
    /// Starts from a position the application persisted (or from nothing).
    pub(super) fn new(position: Option<StreamPosition>) -> Self {
        Inbox {
            position: Cursor::new(position),
        }
    }

    /// The position to send in `connect`.
    pub(super) fn position(&self) -> Option<&StreamPosition> {
        self.position.last()
    }

    /// Whether `m` is new (advancing the position); messages without an inbox
    /// position (broadcasts, servers without inboxes) always are.
    pub(super) fn accept(&mut self, m: &Message) -> bool {
        let (Some(offset), Some(epoch)) = (m.offset, m.epoch.as_deref()) else {
            return true;
        };
        self.position.advance(offset, epoch) != Advance::Duplicate
    }

    /// The events for a connect reply's inbox part: the replayed messages in
    /// order, then the recovery marker. `asked` is whether `connect` carried a
    /// position.
    pub(super) fn connected(&mut self, result: InboxResult, asked: bool) -> Vec<Event> {
        let mut events = Vec::new();
        let recovery = match (asked, result.recovered) {
            (false, _) => Recovery::Fresh,
            (true, true) => Recovery::Recovered,
            (true, false) => Recovery::Unrecoverable,
        };
        if recovery == Recovery::Recovered {
            for m in result.messages {
                if self.accept(&m) {
                    events.push(Event::Message(m));
                }
            }
        }
        if recovery != Recovery::Recovered {
            // The inbox's top, unless this device is there already.
            let top = &result.position;
            self.position.advance(top.offset, &top.epoch);
        }
        events.push(Event::Inbox(recovery));
        events
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(offset: u64, epoch: &str) -> Message {
        Message {
            offset: Some(offset),
            epoch: Some(epoch.into()),
            ..Default::default()
        }
    }

    fn position(offset: u64, epoch: &str) -> StreamPosition {
        StreamPosition {
            offset,
            epoch: epoch.into(),
        }
    }

    #[test]
    fn replays_in_order_once_and_marks_the_outcome() {
        let mut inbox = Inbox::new(Some(position(2, "e")));
        let events = inbox.connected(
            InboxResult {
                position: position(4, "e"),
                recovered: true,
                messages: vec![message(3, "e"), message(4, "e")],
            },
            true,
        );
        assert_eq!(events.len(), 3);
        assert!(matches!(events[2], Event::Inbox(Recovery::Recovered)));
        assert!(
            !inbox.accept(&message(4, "e")),
            "a live duplicate is dropped"
        );
        assert!(inbox.accept(&message(5, "e")));
        assert_eq!(inbox.position(), Some(&position(5, "e")));

        let events = inbox.connected(
            InboxResult {
                position: position(9, "f"),
                recovered: false,
                messages: vec![],
            },
            true,
        );
        assert!(matches!(
            events[..],
            [Event::Inbox(Recovery::Unrecoverable)]
        ));
        assert_eq!(inbox.position(), Some(&position(9, "f")));
        assert!(inbox.accept(&Message::default()), "no position: always new");
    }
}
