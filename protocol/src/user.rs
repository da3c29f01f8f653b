//! The user-id grammar: what a token's `sub` and the recipient of a `send`
//! must be. A user id keys presence, per-user limits, online status and the
//! offline inbox, so a server must never create state for a malformed one.
//!
//! * 1 to [`MAX_USER_ID_LEN`] bytes of UTF-8;
//! * no whitespace and no control characters (`"carol "` and `"carol\0"` are
//!   not `carol`, and must not pass for it);
//! * no `,` and no `#`: they separate the users of a user-limited channel
//!   (`dm#alice,bob`, [`crate::channel`]).

use thiserror::Error;

/// The longest user id, in bytes.
pub const MAX_USER_ID_LEN: usize = 128;

/// Why a user id was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum UserIdError {
    /// The empty string: `""` is the anonymous user, never a recipient or a `sub`.
    #[error("user id is empty")]
    Empty,
    /// Longer than [`MAX_USER_ID_LEN`] bytes.
    #[error("user id is {len} bytes long; the maximum is {MAX_USER_ID_LEN}")]
    TooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// A whitespace, control, `,` or `#` character.
    #[error("character {ch:?} at byte {at} is not allowed in a user id")]
    ForbiddenChar {
        /// The first refused character found.
        ch: char,
        /// Where `ch` starts, in bytes from the start of the user id.
        at: usize,
    },
}

/// Checks `user` against the grammar.
pub fn check_user_id(user: &str) -> Result<(), UserIdError> {
    if user.is_empty() {
        return Err(UserIdError::Empty);
    }
    if user.len() > MAX_USER_ID_LEN {
        return Err(UserIdError::TooLong { len: user.len() });
    }
    match user
        .char_indices()
        .find(|(_, c)| c.is_whitespace() || c.is_control() || *c == ',' || *c == '#')
    {
        Some((at, ch)) => Err(UserIdError::ForbiddenChar { ch, at }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_ids_follow_the_grammar() {
        for ok in [
            "alice",
            "auth0|5f3c",
            "carol@example.com",
            "用户",
            "a",
            &"x".repeat(128),
        ] {
            assert_eq!(check_user_id(ok), Ok(()), "{ok:?}");
        }
        assert_eq!(check_user_id(""), Err(UserIdError::Empty));
        assert!(matches!(
            check_user_id(&"x".repeat(129)),
            Err(UserIdError::TooLong { len: 129 })
        ));
        for bad in [
            "carol ",
            " carol",
            "car ol",
            "carol\0",
            "carol\n",
            "a,b",
            "a#b",
            "tab\t",
            "nbsp\u{a0}",
        ] {
            assert!(
                matches!(check_user_id(bad), Err(UserIdError::ForbiddenChar { .. })),
                "{bad:?}"
            );
        }
    }
}
