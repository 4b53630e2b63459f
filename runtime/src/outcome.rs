//! How a thread ended ([`Outcome`]) and the report every joiner sees ([`ExitReport`]).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::ids::ThreadId;
use crate::source::SourceReport;

/// A shareable error, as kept in an [`Outcome::Failed`].
pub type SharedError = Arc<dyn std::error::Error + Send + Sync + 'static>;

/// How a thread ended.
///
/// # Examples
///
/// ```
/// use threadward::{ExitReport, Outcome};
///
/// /// What a service logs about a thread that ended.
/// fn describe(exit: &ExitReport) -> String {
///     match exit.outcome() {
///         Outcome::Stopped | Outcome::DeadlineReached => format!("{} done", exit.name()),
///         Outcome::Halted => format!("{} halted, {} tasks returned", exit.name(), exit.undelivered()),
///         outcome if outcome.is_failure() => format!("{} {outcome}", exit.name()),
///         other => format!("{} ended: {other}", exit.name()),
///     }
/// }
///
/// let brief = threadward::thread("brief").spawn(|_ctx| Err("no input".into()))?;
/// let exit = brief.join()?;
/// assert_eq!(describe(exit.report()), "brief failed: no input");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Outcome {
    /// It was stopped, handled every task it had accepted and ran `shutdown`.
    Stopped,
    /// It ran until its `deadline`, was stopped then, handled every task it had
    /// accepted and ran `shutdown`. (With a `delay` longer than the deadline, it ended
    /// before it started, as [`StoppedBeforeStart`](Self::StoppedBeforeStart) says.)
    DeadlineReached,
    /// It was stopped during its start `delay`: `startup`, `handle` and `shutdown` never
    /// ran, and the tasks sent meanwhile were returned.
    StoppedBeforeStart,
    /// It was halted: it unwound at a checkpoint (or stopped between tasks), ran
    /// `shutdown`, and returned the tasks it had not handled.
    Halted,
    /// `handle` panicked, or `tick`, a closure run by `call`/`cast`, a closure thread's
    /// body or `child_exited` did. `shutdown` ran.
    Panicked {
        /// The panic's message.
        message: String,
    },
    /// `handle` returned an error, or `tick`, a closure thread's body or
    /// `child_exited` did. `shutdown` ran.
    Failed(SharedError),
    /// `startup` returned an error or panicked: `handle` and `shutdown` never ran, and
    /// the tasks sent meanwhile (through a handle from the registry) were returned.
    /// `spawn` returned the error itself, with the thread's value.
    StartupFailed {
        /// What `startup` returned, or its panic's message.
        message: String,
    },
}

impl Outcome {
    /// Whether the thread ended the way it was asked to: stopped (by a request or its
    /// deadline) after handling everything it accepted, or stopped before its delayed
    /// start, with what it accepted returned.
    pub fn is_clean(&self) -> bool {
        matches!(
            self,
            Self::Stopped | Self::DeadlineReached | Self::StoppedBeforeStart
        )
    }
}

impl Outcome {
    /// Whether the thread failed: an error or panic in `handle` (or `tick`, or a
    /// `call`/`cast` closure), or a failed `startup`. A halt is not a failure.
    ///
    /// # Examples
    ///
    /// ```
    /// use threadward::Outcome;
    /// assert!(Outcome::StartupFailed { message: "no config".into() }.is_failure());
    /// assert!(!Outcome::Halted.is_failure());
    /// assert!(!Outcome::Stopped.is_failure());
    /// ```
    pub fn is_failure(&self) -> bool {
        matches!(
            self,
            Self::Failed(_) | Self::Panicked { .. } | Self::StartupFailed { .. }
        )
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Stopped => f.write_str("stopped"),
            Self::DeadlineReached => f.write_str("stopped at its deadline"),
            Self::StoppedBeforeStart => f.write_str("stopped before it started"),
            Self::Halted => f.write_str("halted"),
            Self::Panicked { message } => write!(f, "panicked: {message}"),
            Self::Failed(error) => write!(f, "failed: {error}"),
            Self::StartupFailed { message } => write!(f, "startup failed: {message}"),
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
    /// (A `u32`, next to `restarts`: the report stays small enough to travel in a
    /// `Result`'s error.)
    pub(crate) undelivered: u32,
    pub(crate) ran_for: Duration,
    pub(crate) stop_took: Option<Duration>,
    pub(crate) restarts: u32,
    pub(crate) parent: Option<ThreadId>,
    pub(crate) source: Option<Box<SourceReport>>,
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

    /// How many tasks `handle` was called with: a task is handled once it is handed to
    /// `handle`, whether `handle` then finished, failed, panicked or was halted in it
    /// (such a task is not undelivered: it was handed over, and never comes back).
    pub fn handled(&self) -> u64 {
        self.handled
    }

    /// How many accepted tasks were not handled and were returned instead (to whoever
    /// joins, as [`Exit::undelivered`](crate::Exit::undelivered)).
    pub fn undelivered(&self) -> usize {
        usize::try_from(self.undelivered).unwrap_or(usize::MAX)
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

    /// How many times a failed instance was replaced by a fresh value (`restart`)
    /// before the thread ended.
    pub fn restarts(&self) -> u32 {
        self.restarts
    }

    /// The thread it was a child of (a supervisor's child, or one tied to its parent by
    /// [`Context::spawn_child`](crate::Context::spawn_child)), if any.
    pub fn parent(&self) -> Option<ThreadId> {
        self.parent
    }

    /// For a thread fed from a source (see `spawn_with`): what the source did with
    /// what it took (acknowledged, retried, dead-lettered, released, left pending).
    pub fn source(&self) -> Option<&SourceReport> {
        self.source.as_deref()
    }
}

impl fmt::Display for ExitReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "thread `{}` {} after {:.3?}: {} handled, {} undelivered",
            self.name, self.outcome, self.ran_for, self.handled, self.undelivered
        )?;
        match &self.source {
            Some(source) => write!(f, "; from its source: {source}"),
            None => Ok(()),
        }
    }
}
