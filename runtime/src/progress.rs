//! How far a shutdown has got, for observers: a [`Shutdown`](crate::Shutdown)'s ladder
//! writes it into its registry at each step, and
//! [`Registry::shutdown_progress`](crate::Registry::shutdown_progress) reads it.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// The step a shutdown is at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum ShutdownStep {
    /// The threads are asked to stop and drain their queues, within the `grace`.
    Stopping,
    /// The grace ran out: the threads still running are halted, within the
    /// `halt_grace`.
    Halting,
    /// Every thread has ended and the report is written; the threads that stop last
    /// ([`Context::stop_last`](crate::Context::stop_last)) are stopping.
    Ended,
}

/// A shutdown in progress, or just over, as [`Registry::shutdown_progress`] gives it.
///
/// [`Registry::shutdown_progress`]: crate::Registry::shutdown_progress
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct ShutdownProgress {
    /// What started it (`SIGTERM (15)`, `trigger`, …).
    pub cause: String,
    /// The step it is at.
    pub step: ShutdownStep,
    /// How long ago it started.
    #[cfg_attr(
        feature = "serde",
        serde(rename = "elapsed_ms", serialize_with = "crate::info::serde_millis")
    )]
    pub elapsed: Duration,
    /// How long the current step has left before the next (stopping → halting → the
    /// process exits); `None` once it has `Ended`.
    #[cfg_attr(
        feature = "serde",
        serde(
            rename = "step_left_ms",
            serialize_with = "crate::info::serde_millis_opt"
        )
    )]
    pub step_left: Option<Duration>,
    /// How many of the threads it stops have not ended yet.
    pub remaining: usize,
    /// The report, once every thread has ended (the threads that stop last excepted),
    /// as its `Display` writes it.
    pub report: Option<String>,
}

/// Where the ladder writes its progress: one per registry.
#[derive(Debug, Default)]
pub(crate) struct Progress(Mutex<Option<Written>>);

#[derive(Debug)]
struct Written {
    cause: String,
    started: Instant,
    step: ShutdownStep,
    deadline: Option<Instant>,
    remaining: usize,
    report: Option<String>,
}

impl Progress {
    fn with(&self, f: impl FnOnce(&mut Option<Written>)) {
        f(&mut self.0.lock().unwrap_or_else(PoisonError::into_inner));
    }

    /// A shutdown began: stopping `remaining` threads until `deadline`.
    pub(crate) fn begin(&self, cause: String, deadline: Instant, remaining: usize) {
        self.with(|written| {
            *written = Some(Written {
                cause,
                started: Instant::now(),
                step: ShutdownStep::Stopping,
                deadline: Some(deadline),
                remaining,
                report: None,
            });
        });
    }

    /// The ladder moved to `step`, which lasts until `deadline`.
    pub(crate) fn step(&self, step: ShutdownStep, deadline: Option<Instant>) {
        self.with(|written| {
            // Once ended (the report written), the threads that stop last do not
            // take the shutdown back to an earlier step.
            if let Some(written) = written.as_mut().filter(|w| w.step != ShutdownStep::Ended) {
                written.step = step;
                written.deadline = deadline;
            }
        });
    }

    /// How many threads have not ended; once it has `Ended`, the count of the report's
    /// threads stays (the threads that stop last are not counted).
    pub(crate) fn remaining(&self, remaining: usize) {
        self.with(|written| {
            if let Some(written) = written.as_mut().filter(|w| w.step != ShutdownStep::Ended) {
                written.remaining = remaining;
            }
        });
    }

    /// Every thread has ended: the report.
    pub(crate) fn end(&self, report: String) {
        self.with(|written| {
            if let Some(written) = written {
                written.step = ShutdownStep::Ended;
                written.deadline = None;
                written.remaining = 0;
                written.report = Some(report);
            }
        });
    }

    pub(crate) fn read(&self) -> Option<ShutdownProgress> {
        let written = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let written = written.as_ref()?;
        let now = Instant::now();
        Some(ShutdownProgress {
            cause: written.cause.clone(),
            step: written.step,
            elapsed: now.saturating_duration_since(written.started),
            step_left: written
                .deadline
                .map(|deadline| deadline.saturating_duration_since(now)),
            remaining: written.remaining,
            report: written.report.clone(),
        })
    }
}
