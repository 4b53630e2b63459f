//! What a typed join returns: the [`ExitReport`] and the tasks the thread accepted but
//! did not handle.

use std::fmt;

use crate::outcome::{ExitReport, Outcome};
use crate::thread::BackgroundThread;

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

    /// How many times a failed instance was replaced by a fresh value (`restart`).
    pub fn restarts(&self) -> u32 {
        self.report.restarts()
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
