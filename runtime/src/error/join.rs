//! The errors of joining a thread.

use crate::outcome::ExitReport;

/// The error of [`Handle::join`](crate::Handle::join).
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum JoinError {
    /// `join` was called on the thread itself, which would wait forever.
    #[error("a background thread cannot join itself")]
    OwnThread,
    /// Another `join` already took the exit (and its undelivered tasks); this is the
    /// report of how the thread ended.
    #[error("the background thread was already joined")]
    AlreadyJoined(ExitReport),
}

/// The error of [`Handle::join_timeout`](crate::Handle::join_timeout).
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum JoinTimeoutError {
    /// The thread was still running when the timeout elapsed.
    #[error("timed out waiting for the background thread to end")]
    Timeout,
    /// `join_timeout` was called on the thread itself.
    #[error("a background thread cannot join itself")]
    OwnThread,
    /// Another `join` already took the exit; this is the report of how it ended.
    #[error("the background thread was already joined")]
    AlreadyJoined(ExitReport),
}
