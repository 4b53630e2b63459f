//! What a typed join returns: the [`ExitReport`] and the tasks the thread accepted but
//! did not handle.

use std::fmt;

use crate::outcome::{ExitReport, Outcome};
use crate::thread::BackgroundThread;

/// What [`Handle::join`](crate::Handle::join) returns: the [`ExitReport`] and the tasks
/// that were accepted but not handled.
///
/// A stopped thread handles everything it accepted, so `undelivered` is empty; a thread
/// that was halted, failed or panicked, whose `startup` failed, or that was stopped
/// before its delayed start returns what was still queued.
///
/// # Examples
///
/// ```
/// use std::sync::mpsc;
/// use threadward::{background_thread, BackgroundThread, BoxError, Context, Outcome};
///
/// #[background_thread]
/// struct Uploader {
///     disk: mpsc::Receiver<()>, // the disk fills up when told
/// }
///
/// impl BackgroundThread for Uploader {
///     type Task = &'static str;
///     fn handle(&mut self, file: &'static str, _ctx: &Context) -> Result<(), BoxError> {
///         let _ = self.disk.recv();
///         Err(format!("disk full while uploading {file}").into())
///     }
/// }
///
/// let (fill, disk) = mpsc::channel();
/// let uploader = Uploader { disk }.spawn()?;
/// uploader.send("a.log")?;
/// uploader.send("b.log")?; // queued behind the one that will fail
/// fill.send(())?;
/// let exit = uploader.join()?;
/// assert!(matches!(exit.outcome(), Outcome::Failed(_)));
/// assert_eq!(exit.handled(), 1);
/// // What the thread accepted and never handled comes back: retry it elsewhere.
/// assert_eq!(exit.into_undelivered(), ["b.log"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
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

    /// How many tasks `handle` was called with (see [`ExitReport::handled`]: one a halt
    /// unwound out of counts as handled, since it was handed over).
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
