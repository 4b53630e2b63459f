//! What a thread hands back when it ends: how it ended, how much it did, and the tasks it
//! did not handle.

use std::fmt;
use std::time::Duration;

use crate::error::SharedError;
use crate::registry::ThreadId;
use crate::thread::BackgroundThread;

/// How a thread ended.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Outcome {
    /// It was stopped, handled every task it had accepted and ran `shutdown`.
    Stopped,
    /// It was halted: it unwound at a checkpoint (or stopped between tasks), ran
    /// `shutdown`, and returned the tasks it had not handled.
    Halted,
    /// `handle` (or a closure run by `call`/`cast`) panicked. `shutdown` ran.
    Panicked {
        /// The panic's message.
        message: String,
    },
    /// `handle` returned an error. `shutdown` ran.
    Failed(SharedError),
}

impl Outcome {
    /// Whether the thread ended the way it was asked to, handling everything it
    /// accepted.
    pub fn is_clean(&self) -> bool {
        matches!(self, Self::Stopped)
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Stopped => f.write_str("stopped"),
            Self::Halted => f.write_str("halted"),
            Self::Panicked { message } => write!(f, "panicked: {message}"),
            Self::Failed(error) => write!(f, "failed: {error}"),
        }
    }
}

/// How a thread ended, without its undelivered tasks: what every joiner can see.
#[derive(Debug, Clone)]
pub struct ExitReport {
    pub(crate) name: &'static str,
    pub(crate) id: ThreadId,
    pub(crate) outcome: Outcome,
    pub(crate) handled: u64,
    pub(crate) undelivered: usize,
    pub(crate) ran_for: Duration,
    pub(crate) stop_took: Option<Duration>,
}

impl ExitReport {
    /// The thread's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The thread's id.
    pub fn id(&self) -> ThreadId {
        self.id
    }

    /// How the thread ended.
    pub fn outcome(&self) -> &Outcome {
        &self.outcome
    }

    /// How many tasks `handle` was called with (including one that failed or panicked).
    pub fn handled(&self) -> u64 {
        self.handled
    }

    /// How many accepted tasks were not handled and were returned instead.
    pub fn undelivered(&self) -> usize {
        self.undelivered
    }

    /// How long the thread ran, from the start of `startup` to the end of `shutdown`.
    pub fn ran_for(&self) -> Duration {
        self.ran_for
    }

    /// How long it took from the first stop (or halt) request to the end of `shutdown`;
    /// `None` if the thread ended without being asked to.
    pub fn stop_took(&self) -> Option<Duration> {
        self.stop_took
    }
}

impl fmt::Display for ExitReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "thread `{}` {} after {:.3?}: {} handled, {} returned",
            self.name, self.outcome, self.ran_for, self.handled, self.undelivered
        )
    }
}

/// What [`Handle::join`](crate::Handle::join) returns: the [`ExitReport`] and the tasks
/// that were accepted but not handled.
///
/// A stopped thread handles everything it accepted, so `undelivered` is empty; a thread
/// that was halted, failed or panicked returns what was still queued.
pub struct Exit<T: BackgroundThread> {
    pub(crate) report: ExitReport,
    pub(crate) undelivered: Vec<T::Task>,
}

impl<T: BackgroundThread> Exit<T> {
    /// The report of how the thread ended.
    pub fn report(&self) -> &ExitReport {
        &self.report
    }

    /// How the thread ended.
    pub fn outcome(&self) -> &Outcome {
        &self.report.outcome
    }

    /// How many tasks `handle` was called with.
    pub fn handled(&self) -> u64 {
        self.report.handled
    }

    /// The accepted tasks that were not handled, in the order they were sent.
    pub fn undelivered(&self) -> &[T::Task] {
        &self.undelivered
    }

    /// Takes the tasks that were not handled, in the order they were sent.
    pub fn into_undelivered(self) -> Vec<T::Task> {
        self.undelivered
    }

    /// Splits the exit into its report and the tasks that were not handled.
    pub fn into_parts(self) -> (ExitReport, Vec<T::Task>) {
        (self.report, self.undelivered)
    }
}

impl<T: BackgroundThread> fmt::Debug for Exit<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Exit")
            .field("report", &self.report)
            .field("undelivered", &self.undelivered.len())
            .finish()
    }
}
