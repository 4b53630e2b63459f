//! The failure a child passes on to its parent.

use std::fmt;

use crate::outcome::{ExitReport, Outcome};

/// A child tied to a thread failed, and the thread failed with it: the error the
/// default [`BackgroundThread::child_exited`](crate::BackgroundThread::child_exited)
/// returns, which a supervisor whose restart intensity is exceeded also fails with.
/// It carries the child's exit report.
///
/// # Examples
///
/// ```
/// use threadward::{BackgroundThread, ChildFailed, Outcome};
/// # use threadward::{background_thread, BoxError, Context};
/// # #[background_thread] struct Worker;
/// # impl BackgroundThread for Worker {
/// #     type Task = ();
/// #     fn handle(&mut self, (): (), _: &Context) -> Result<(), BoxError> { Err("disk full".into()) }
/// # }
/// let worker = Worker.spawn()?;
/// worker.send(())?;
/// let exit = worker.join()?;
/// let failed = ChildFailed::new(exit.report().clone());
/// assert_eq!(failed.to_string(), format!("child `worker` ({}) failed: disk full", exit.report().id()));
/// assert!(matches!(failed.report().outcome(), Outcome::Failed(_)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct ChildFailed {
    report: ExitReport,
}

impl ChildFailed {
    /// The failure of the child that ended as `report` says.
    pub fn new(report: ExitReport) -> Self {
        Self { report }
    }

    /// How the child ended.
    pub fn report(&self) -> &ExitReport {
        &self.report
    }
}

impl fmt::Display for ChildFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "child `{}` ({}) {}",
            self.report.name(),
            self.report.id(),
            self.report.outcome()
        )
    }
}

impl std::error::Error for ChildFailed {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self.report.outcome() {
            Outcome::Failed(error) => Some(&**error),
            _ => None,
        }
    }
}
