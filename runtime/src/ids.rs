//! The ground floor: a thread's id and its lifecycle state.

use std::fmt;
use std::num::NonZeroU64;
use std::sync::atomic::{AtomicU64, Ordering};

/// A thread's id: unique in the process, never reused.
///
/// # Examples
///
/// ```
/// # use threadward::{background_thread, BackgroundThread, BoxError, Context};
/// # #[background_thread] struct Worker;
/// # impl BackgroundThread for Worker {
/// #     type Task = ();
/// #     fn handle(&mut self, (): (), _: &Context) -> Result<(), BoxError> { Ok(()) }
/// # }
/// let first = Worker.spawn()?;
/// let second = Worker.spawn()?;
/// assert!(first.id() < second.id()); // ids grow with every spawn
/// assert_eq!(first.id().to_string(), format!("#{}", first.id().as_u64()));
/// # first.stop(); second.stop();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
// Never zero: an `Option<ThreadId>` (a parent) takes no more room than the id.
pub struct ThreadId(NonZeroU64);

impl ThreadId {
    pub(crate) fn next() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let id = NEXT.fetch_add(1, Ordering::Relaxed);
        Self(NonZeroU64::new(id).unwrap_or(NonZeroU64::MAX))
    }

    /// The id as a number.
    pub fn as_u64(self) -> u64 {
        self.0.get()
    }
}

impl fmt::Display for ThreadId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// Where a thread is in its lifecycle:
/// `Starting → Running → Stopping → Stopped`, or `Failed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize),
    serde(rename_all = "lowercase")
)]
#[non_exhaustive]
#[repr(u8)]
pub enum State {
    /// `startup` is running.
    Starting,
    /// Handling tasks.
    Running,
    /// Asked to stop: no longer accepting tasks, draining the queue or in `shutdown`.
    Stopping,
    /// Ended after a stop or a halt.
    Stopped,
    /// Ended because `startup` or `handle` failed or panicked.
    Failed,
}

impl State {
    pub(crate) fn from_u8(value: u8) -> Self {
        match value {
            0 => Self::Starting,
            1 => Self::Running,
            2 => Self::Stopping,
            3 => Self::Stopped,
            _ => Self::Failed,
        }
    }

    /// Whether the thread has not ended yet.
    pub fn is_alive(self) -> bool {
        !matches!(self, Self::Stopped | Self::Failed)
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Starting => "starting",
            Self::Running => "running",
            Self::Stopping => "stopping",
            Self::Stopped => "stopped",
            Self::Failed => "failed",
        })
    }
}
