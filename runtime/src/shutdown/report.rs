//! [`ShutdownReport`]: how a shutdown went, thread by thread.

use std::fmt;
use std::time::{Duration, Instant};

use super::Cause;
use crate::handle::AnyHandle;
use crate::info::ThreadInfo;
use crate::outcome::{ExitReport, Outcome};
use crate::registry::Remembered;
use crate::source::SourceReport;

/// How a shutdown went: per thread, in the order they were asked to stop (the
/// last-started first), how it ended; the threads that did not end (stuck), with what
/// they still had queued; and the threads that had failed before the shutdown began
/// without anybody joining them.
///
/// # Examples
///
/// ```
/// # use threadward::{background_thread, BackgroundThread, BoxError, Context, Registry, Shutdown};
/// # #[background_thread] #[derive(Default)] struct Worker;
/// # impl BackgroundThread for Worker {
/// #     type Task = ();
/// #     fn handle(&mut self, (): (), _: &Context) -> Result<(), BoxError> { Ok(()) }
/// # }
/// let registry = Registry::new();
/// let worker = Worker.spawn_in(&registry)?;
/// worker.send(())?;
/// let shutdown = Shutdown::without_signals().registry(&registry).install()?;
/// shutdown.trigger();
/// let report = shutdown.wait();
/// assert!(report.is_clean());
/// assert_eq!(report.threads()[0].handled(), 1);
/// assert!(report.stuck().is_empty() && report.unjoined_earlier().is_empty());
/// println!("{report}"); // a table, one row per thread
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct ShutdownReport {
    cause: Cause,
    exit_signal: Option<i32>,
    took: Duration,
    threads: Vec<ExitReport>,
    stuck: Vec<ThreadInfo>,
    unjoined_earlier: Vec<ExitReport>,
}

impl ShutdownReport {
    /// Reads every target's exit as it is now: a thread that has published one ended,
    /// any other is stuck.
    pub(super) fn new(
        cause: Cause,
        exit_signal: Option<i32>,
        started: Instant,
        targets: &[AnyHandle],
        earlier: &[Remembered],
    ) -> Self {
        let mut threads = Vec::with_capacity(targets.len());
        let mut stuck = Vec::new();
        for target in targets {
            match target.control().exit_report() {
                Some(exit) => threads.push(exit),
                None => stuck.push(target.info()),
            }
        }
        Self {
            cause,
            exit_signal,
            took: started.elapsed(),
            threads,
            stuck,
            unjoined_earlier: earlier
                .iter()
                .filter(|remembered| !remembered.is_taken())
                .map(|remembered| remembered.report.clone())
                .collect(),
        }
    }

    /// What started the shutdown.
    pub fn cause(&self) -> Cause {
        self.cause
    }

    /// How long the shutdown took.
    pub fn took(&self) -> Duration {
        self.took
    }

    /// The threads that ended, in the order they were asked to stop (not those that
    /// stop last, [`Context::stop_last`](crate::Context::stop_last): they are asked once
    /// the report is written).
    pub fn threads(&self) -> &[ExitReport] {
        &self.threads
    }

    /// The threads that had not ended when the report was made, with their state, last
    /// checkpoint and the accepted tasks and calls still in their queue
    /// ([`ThreadInfo::queue_depth`]), which an exit abandons.
    pub fn stuck(&self) -> &[ThreadInfo] {
        &self.stuck
    }

    /// How many accepted tasks and calls the stuck threads still had queued: what
    /// exiting now abandons, neither handled nor returned.
    pub fn abandoned(&self) -> usize {
        self.stuck.iter().map(|stuck| stuck.queue_depth).sum()
    }

    /// The threads of the registry that ended without a clean stop (failed, panicked,
    /// halted) before the shutdown began and that nobody has joined (see
    /// [`Registry::unjoined_exits`](crate::Registry::unjoined_exits)).
    pub fn unjoined_earlier(&self) -> &[ExitReport] {
        &self.unjoined_earlier
    }

    /// Whether every thread stopped and handled everything it accepted, and none had
    /// failed unnoticed before; for a thread fed from a source, also that the source
    /// released nothing, had no acknowledgement fail and left nothing pending (see
    /// [`SourceReport::is_clean`](crate::SourceReport::is_clean)).
    pub fn is_clean(&self) -> bool {
        self.stuck.is_empty()
            && self.unjoined_earlier.is_empty()
            && self
                .threads
                .iter()
                .all(|t| t.outcome().is_clean() && t.source().map_or(true, SourceReport::is_clean))
    }

    /// The process exit code this shutdown calls for: `0` when it is
    /// [clean](Self::is_clean); otherwise `128 +` the number of the last signal
    /// received (the shell's convention: 130 for SIGINT, 143 for SIGTERM), or `1` when
    /// no signal was involved.
    pub fn exit_code(&self) -> i32 {
        match (self.is_clean(), self.exit_signal) {
            (true, _) => 0,
            (false, Some(signal)) => 128 + signal,
            (false, None) => 1,
        }
    }
}

/// The outcome's column in the report: one word; the details go on a line of their own.
fn label(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Stopped => "stopped",
        Outcome::DeadlineReached => "deadline",
        Outcome::StoppedBeforeStart => "unstarted",
        Outcome::Halted => "halted",
        Outcome::Panicked { .. } => "panicked",
        _ => "failed",
    }
}

fn row(f: &mut fmt::Formatter<'_>, thread: &ExitReport) -> fmt::Result {
    let took = thread
        .stop_took()
        .map_or_else(|| "-".to_owned(), |took| format!("{took:.1?}"));
    writeln!(
        f,
        "  {:<24} {:>6} {:>6}  {:<10} {:>9} {:>11} {:>10}",
        thread.name(),
        thread.id().to_string(),
        thread
            .parent()
            .map_or_else(|| "-".to_owned(), |parent| parent.to_string()),
        label(thread.outcome()),
        thread.handled(),
        thread.undelivered(),
        took
    )?;
    if !matches!(
        thread.outcome(),
        Outcome::Stopped | Outcome::DeadlineReached | Outcome::StoppedBeforeStart | Outcome::Halted
    ) {
        writeln!(f, "    {}", thread.outcome())?;
    }
    if let Some(source) = thread.source() {
        writeln!(f, "    from its source: {source}")?;
    }
    Ok(())
}

impl fmt::Display for ShutdownReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "shutdown on {} took {:.3?}: {} ended, {} stuck",
            self.cause,
            self.took,
            self.threads.len(),
            self.stuck.len()
        )?;
        if !self.stuck.is_empty() {
            write!(f, " ({} queued abandoned)", self.abandoned())?;
        }
        if !self.unjoined_earlier.is_empty() {
            write!(f, ", {} unjoined earlier", self.unjoined_earlier.len())?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "  {:<24} {:>6} {:>6}  {:<10} {:>9} {:>11} {:>10}",
            "thread", "id", "parent", "outcome", "handled", "undelivered", "stop took"
        )?;
        for thread in &self.threads {
            row(f, thread)?;
        }
        for stuck in &self.stuck {
            write!(
                f,
                "  STUCK {} {} ({}), {} queued abandoned",
                stuck.name, stuck.id, stuck.state, stuck.queue_depth
            )?;
            match &stuck.last_checkpoint {
                Some(checkpoint) => writeln!(f, ", last checkpoint {checkpoint}")?,
                None => writeln!(f, ", never passed a checkpoint")?,
            }
        }
        if !self.unjoined_earlier.is_empty() {
            writeln!(f, "  ended unclean before the shutdown, not joined:")?;
            for thread in &self.unjoined_earlier {
                row(f, thread)?;
            }
        }
        Ok(())
    }
}
