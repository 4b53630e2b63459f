//! The error of changing a thread's tick period.

use std::time::Duration;

/// The error of [`Context::set_every`](crate::Context::set_every); the period asked
/// for is handed back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SetEveryError {
    /// The thread was declared without `every`: it has no `tick` to run.
    #[error("the background thread has no ticks: declare it with `every = \"...\"` and implement `Ticking`")]
    NotTicking(Duration),
    /// A period of zero would tick without end.
    #[error("a tick period must be longer than zero")]
    Zero(Duration),
}
