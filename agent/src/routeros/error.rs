//! `RouterError`: every way a RouterOS call can fail, as causes a caller can act on.
//!
//! The variants follow what the caller must do next, not where the failure happened:
//! fix the configuration (`Refused`, `BadCredentials`, `PinMismatch`, `Tls`), wait and reconnect
//! (`Unreachable`, `Fatal`; `Closed` and `Busy` mean "not sent", safe to send again), find out
//! what happened before retrying (`ConnectionLost`, and `Timeout` of a command that was sent),
//! or read the router's answer (`Trap`, and the two traps we act on by name, `AlreadyExists` and
//! `NoSuchItem`).
//!
//! No variant ever carries the router password: errors are logged and shown to people.

use hotspot_shared::routeros::{CodecError, MessageError, TrapCategory};

/// A failed RouterOS call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouterError {
    /// No TCP connection: host down, no route, network unreachable, TCP connect timed out.
    #[error("router unreachable: {0}")]
    Unreachable(String),
    /// The host answered with a TCP reset: the API service is disabled or on another port.
    #[error("connection refused: {0}")]
    Refused(String),
    /// A command or the login exceeded its deadline. For a command that was sent, the outcome
    /// is unknown.
    #[error("timed out: {what}")]
    Timeout { what: String },
    /// The router refused the user name or password.
    #[error("wrong username or password")]
    BadCredentials,
    /// The TLS handshake failed for a reason other than the pin.
    #[error("TLS error: {0}")]
    Tls(String),
    /// The router's certificate does not have the pinned SHA-256 fingerprint (hex).
    #[error("certificate fingerprint mismatch: expected {expected}, got {got}")]
    PinMismatch { expected: String, got: String },
    /// The router sent something we cannot read, or not what the command should answer.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The router answered `!trap`.
    #[error("router error: {message}")]
    Trap {
        category: Option<TrapCategory>,
        message: String,
    },
    /// `!trap` saying the item already exists (e.g. a hotspot user of the same name).
    #[error("already exists: {message}")]
    AlreadyExists { message: String },
    /// `!trap` saying the id or name does not exist.
    #[error("no such item: {message}")]
    NoSuchItem { message: String },
    /// The router sent `!fatal` and closed the session (before any command was in flight).
    #[error("router closed the session: {0}")]
    Fatal(String),
    /// The connection broke while the command was in flight: it may or may not have been
    /// applied.
    #[error("connection lost while the command was in flight ({reason}); outcome unknown")]
    ConnectionLost { reason: String },
    /// Every slot of the session's window stayed taken until the deadline: the command was not
    /// sent.
    #[error("busy: no free slot for {what} before its deadline (not sent)")]
    Busy { what: String },
    /// The connection was already closed: the command was not sent.
    #[error("connection closed: {0}")]
    Closed(String),
}

impl RouterError {
    /// Whether reconnecting and trying again later can help: network and session failures are
    /// transient; wrong configuration, credentials, pins and router answers are not.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            RouterError::Unreachable(_)
                | RouterError::Refused(_)
                | RouterError::Timeout { .. }
                | RouterError::Fatal(_)
                | RouterError::ConnectionLost { .. }
                | RouterError::Closed(_)
                | RouterError::Busy { .. }
        )
    }

    /// Whether the command may have been applied although no answer arrived: read the
    /// router's state before repeating a non-idempotent command.
    pub fn is_outcome_unknown(&self) -> bool {
        matches!(
            self,
            RouterError::ConnectionLost { .. } | RouterError::Timeout { .. }
        )
    }

    /// Maps a `!trap` to its error kind by the router's wording: `already have user with this
    /// name` (the substring mature clients match on) and `already exists` (profiles);
    /// `no such item`.
    pub fn from_trap(category: Option<TrapCategory>, message: String) -> RouterError {
        let lower = message.to_ascii_lowercase();
        if lower.contains("already have") || lower.contains("already exists") {
            RouterError::AlreadyExists { message }
        } else if lower.contains("no such item") {
            RouterError::NoSuchItem { message }
        } else {
            RouterError::Trap { category, message }
        }
    }

    /// `!trap` of an unknown menu (`no such command prefix`) or command (`no such command`).
    pub fn is_no_such_command(&self) -> bool {
        matches!(self, RouterError::Trap { message, .. }
            if message.to_ascii_lowercase().contains("no such command"))
    }

    /// Maps an IO error of the TCP connect: a reset is `Refused`, everything else (no route,
    /// host down, timed out) is `Unreachable`, with the system's wording kept.
    pub(crate) fn from_connect(err: &std::io::Error) -> RouterError {
        match err.kind() {
            std::io::ErrorKind::ConnectionRefused => RouterError::Refused(err.to_string()),
            _ => RouterError::Unreachable(err.to_string()),
        }
    }
}

/// Whether a login `!trap` message means the credentials were refused.
pub(crate) fn is_bad_login(message: &str) -> bool {
    let lower = message.to_ascii_lowercase();
    lower.contains("invalid user name or password") || lower.contains("cannot log in")
}

impl From<CodecError> for RouterError {
    fn from(e: CodecError) -> Self {
        RouterError::Protocol(e.to_string())
    }
}

impl From<MessageError> for RouterError {
    fn from(e: MessageError) -> Self {
        RouterError::Protocol(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_user_is_already_exists() {
        let e = RouterError::from_trap(
            Some(TrapCategory::ArgumentValueFailure),
            "failure: already have user with this name for this server".into(),
        );
        assert!(matches!(e, RouterError::AlreadyExists { .. }));
        assert!(!e.is_transient());
        let e = RouterError::from_trap(
            None,
            "failure: profile with the same name already exists".into(),
        );
        assert!(matches!(e, RouterError::AlreadyExists { .. }));
    }

    #[test]
    fn unknown_id_is_no_such_item() {
        let e = RouterError::from_trap(None, "no such item".into());
        assert_eq!(
            e,
            RouterError::NoSuchItem {
                message: "no such item".into()
            }
        );
    }

    #[test]
    fn other_traps_keep_category_and_message() {
        let e = RouterError::from_trap(
            Some(TrapCategory::MissingItemOrCommand),
            "no such command prefix".into(),
        );
        assert!(e.is_no_such_command());
        assert_eq!(
            e,
            RouterError::Trap {
                category: Some(TrapCategory::MissingItemOrCommand),
                message: "no such command prefix".into()
            }
        );
        let e = RouterError::from_trap(None, "not enough privileges".into());
        assert!(matches!(e, RouterError::Trap { category: None, .. }));
        assert!(!e.is_no_such_command());
    }

    #[test]
    fn bad_login_wordings() {
        assert!(is_bad_login("invalid user name or password (6)"));
        assert!(is_bad_login("cannot log in"));
        assert!(!is_bad_login("not enough privileges"));
    }

    #[test]
    fn connect_errors_map_by_kind() {
        use std::io::{Error, ErrorKind};
        assert!(matches!(
            RouterError::from_connect(&Error::from(ErrorKind::ConnectionRefused)),
            RouterError::Refused(_)
        ));
        assert!(matches!(
            RouterError::from_connect(&Error::from(ErrorKind::TimedOut)),
            RouterError::Unreachable(_)
        ));
        assert!(matches!(
            RouterError::from_connect(&Error::from(ErrorKind::HostUnreachable)),
            RouterError::Unreachable(_)
        ));
    }

    #[test]
    fn transient_and_unknown_outcome() {
        assert!(
            RouterError::ConnectionLost {
                reason: "eof".into()
            }
            .is_outcome_unknown()
        );
        assert!(RouterError::Closed("x".into()).is_transient());
        assert!(!RouterError::Closed("x".into()).is_outcome_unknown());
        assert!(!RouterError::BadCredentials.is_transient());
        assert!(
            !RouterError::PinMismatch {
                expected: "a".into(),
                got: "b".into()
            }
            .is_transient()
        );
    }
}
