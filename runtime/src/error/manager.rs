//! The errors of the [`Manager`](crate::Manager): `push`, `run` and `watch`.

use std::fmt;

use super::spawn::SpawnFailure;

/// The error of [`Manager::push`](crate::Manager::push): the manager was stopped or
/// halted, and takes no more threads. Hands the thread back.
pub struct PushError<T>(pub T);

impl<T> PushError<T> {
    /// The thread that was not taken.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> fmt::Debug for PushError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PushError(..)")
    }
}

impl<T> fmt::Display for PushError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the manager was stopped and takes no more threads")
    }
}

impl<T> std::error::Error for PushError<T> {}

/// The error of [`Manager::run`](crate::Manager::run).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// No thread is pending.
    #[error("no thread is pending")]
    NothingToRun,
    /// Every slot is taken by a thread the manager started that is still running.
    #[error("all {limit} slots are taken by running threads")]
    AlreadyRunning {
        /// The manager's limit.
        limit: usize,
    },
    /// The manager was stopped or halted.
    #[error("the manager was stopped")]
    Stopped,
}

/// The error of [`Manager::watch`](crate::Manager::watch).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WatchError {
    /// The manager is already watching.
    #[error("the manager is already watching")]
    AlreadyWatching,
    /// The manager was stopped or halted.
    #[error("the manager was stopped")]
    Stopped,
    /// The watching thread could not be spawned.
    #[error("could not spawn the watching thread: {0}")]
    Spawn(SpawnFailure),
}
