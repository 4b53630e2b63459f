//! Sources: where a thread's tasks come from besides its own queue (a stream on a
//! broker, shared by many processes). A [`Source`](crate::Source) is opened by
//! `spawn_with` and delivers each task with a [`Receipt`] that `handle`'s result is
//! given to; the running [`OpenSource`] is told when the thread stops, halts and ends,
//! and says what it did ([`SourceInfo`], [`SourceReport`]).

use std::time::Duration;

/// The crate's `BoxError`, spelled out: this module sits below `error`.
type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What a source is told of the one task it delivered with this receipt: how `handle`
/// returned. A receipt dropped without being told means the task was not handled to
/// its end: the thread was halted first, ended with it still queued, or `handle`
/// panicked. The source then makes the task available again (to this thread after a
/// restart, or to another consumer).
pub trait Receipt: Send + Sync + 'static {
    /// `handle` returned `result` for the task. `Ok(())` keeps the thread running:
    /// the source settles the task (acknowledges it, schedules another attempt, or
    /// sets it aside). An error fails the thread as a task's error does when it comes
    /// from the thread's own queue (its restart policy then applies); return the
    /// error given to keep that behaviour.
    ///
    /// # Errors
    ///
    /// An error that ends the thread.
    fn handled(self: Box<Self>, result: Result<(), BoxError>) -> Result<(), BoxError>;
}

/// A source once opened, as the thread's runtime sees it. Its methods are called from
/// any thread and must not block for long: `stop` and `halt` are called where a stop
/// is requested (a signal handler's thread, a `stop_all`), `info` where the registry is
/// read.
pub trait OpenSource: Send + Sync + 'static {
    /// The thread is stopping: take no new tasks from now on, deliver what was taken
    /// already, then close the feed ([`Feed::close`](crate::Feed::close)), promptly:
    /// until then the stopping thread waits for the source's last deliveries (a halt
    /// closes it regardless). What was delivered is handled and its receipts told.
    fn stop(&self);
    /// The thread is halted: take no new tasks, and make what was delivered but will
    /// not be handled available again at once. By default, as `stop`.
    fn halt(&self) {
        self.stop();
    }
    /// What the source shows of itself now.
    fn info(&self) -> SourceInfo;
    /// The thread has ended and every receipt was told or dropped: finish (settle
    /// what is owed, end the source's own threads) and say what was done. Called once.
    fn close(&self) -> SourceReport;
}

/// What a source shows of itself: in [`ThreadInfo::source`](crate::ThreadInfo::source)
/// (and the JSON of it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct SourceInfo {
    /// The kind of source (`"redis"`).
    pub kind: &'static str,
    /// What it reads: a stream's key.
    pub stream: String,
    /// The group of consumers it reads with, if it has one.
    pub group: String,
    /// Its own name among them: unique for the life of its process.
    pub consumer: String,
    /// Whether it is connected now.
    pub connected: bool,
    /// How many tasks it holds: delivered (or waiting for another attempt) and not
    /// settled yet.
    pub in_flight: usize,
    /// How many entries the broker holds for this consumer, unsettled, as last read.
    pub pending: Option<u64>,
    /// How many entries of the stream the group has not read yet, as last read.
    pub lag: Option<u64>,
    /// What it did so far.
    pub counts: SourceCounts,
}

/// What a source did with the tasks it took.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct SourceCounts {
    /// Handled and acknowledged: gone from the broker.
    pub acked: u64,
    /// Failed in `handle`, and given another attempt.
    pub retried: u64,
    /// Set aside on the dead-letter stream: attempts used up, or not readable as a task.
    pub dead_lettered: u64,
    /// Not handled here, and made available to other consumers again.
    pub released: u64,
    /// Handled, but the acknowledgement failed: the broker will deliver them again.
    pub ack_failed: u64,
}

/// What a source did, once the thread ended: in
/// [`ExitReport::source`](crate::ExitReport::source).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SourceReport {
    /// The counts at the end.
    pub counts: SourceCounts,
    /// How many entries taken by this consumer stay unsettled on the broker (it could
    /// not be reached at the end).
    pub left_pending: u64,
    /// When those are delivered again to another consumer, at the latest.
    pub redelivered_within: Option<Duration>,
}

impl SourceReport {
    /// Whether the source ended with nothing owed: nothing released, no failed
    /// acknowledgement, nothing left pending.
    pub fn is_clean(&self) -> bool {
        self.counts.released == 0 && self.counts.ack_failed == 0 && self.left_pending == 0
    }
}

impl std::fmt::Display for SourceReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let SourceCounts {
            acked,
            retried,
            dead_lettered,
            released,
            ack_failed,
        } = self.counts;
        write!(
            f,
            "acked {acked}, retried {retried}, dead-lettered {dead_lettered}, released {released}, ack failed {ack_failed}"
        )?;
        if self.left_pending > 0 {
            write!(f, "; {} left pending", self.left_pending)?;
            if let Some(within) = self.redelivered_within {
                write!(f, ", delivered again within {within:?}")?;
            }
        }
        Ok(())
    }
}
