//! What observers read of a thread beyond its counts: whether it sleeps for want of
//! work, when it last woke, how many sends it refused, how big its queue is, and how
//! far a stop has got. Everything here is written off the hot path: a wake-up stamp
//! when the thread goes to sleep or wakes (it waits in the kernel then anyway), a
//! refusal count when a send fails.

use std::time::{Duration, Instant};

use super::Control;
use crate::queue::Watch;
use crate::sync::Ordering;

/// Tells a thread's [`Control`] of its waits for work: the thread sleeps (idle), then
/// wakes to work (busy, stamped), or its tick's deadline passed (busy, not stamped:
/// only work wakes a thread from idleness).
pub(crate) struct Idleness<'a>(pub(crate) &'a Control);

impl Watch for Idleness<'_> {
    fn sleeps(&mut self) {
        self.0.woken.flag(true);
    }

    fn woke(&mut self) {
        self.0.woken.mark(self.0.started);
    }

    fn timed_out(&mut self) {
        self.0.woken.flag(false);
    }
}

impl Control {
    /// How long ago this thread last woke from an idle wait for work.
    pub(super) fn own_last_woken_ago(&self) -> Option<Duration> {
        self.woken.ago(self.started)
    }

    /// A tick or a call begins: stamped as a wake-up, so that observers see a new
    /// piece of work begin (a task shows in `handled`). Ticks and calls are not the
    /// per-task path.
    pub(crate) fn mark_step(&self) {
        self.woken.mark(self.started);
    }

    /// Whether the thread sleeps waiting for work (every worker, for a pool).
    pub(crate) fn is_idle(&self) -> bool {
        match self.workers() {
            [] => self.woken.is_flagged(),
            workers => workers.iter().all(|w| w.woken.is_flagged()),
        }
    }

    /// Counts a task a send refused (the queue full, the wait for room over, or the
    /// queue closed).
    #[cold]
    pub(crate) fn count_refused(&self) {
        self.refused.fetch_add(1, Ordering::Relaxed);
    }

    /// How many tasks sends refused so far.
    pub(crate) fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// How many messages the queue holds at most, if it is bounded (for a worker: its
    /// pool's queue).
    pub(crate) fn capacity(&self) -> Option<usize> {
        self.queue.capacity()
    }

    /// How long ago a stop (or halt) was first requested, if one was.
    pub(crate) fn stop_requested_ago(&self) -> Option<Duration> {
        self.stop_requested
            .get()
            .map(|at| Instant::now().saturating_duration_since(*at))
    }

    /// Whether a halt was requested.
    pub(crate) fn is_halt_requested(&self) -> bool {
        self.halt.is_halted()
    }

    /// Asks a shutdown to stop this thread after the others.
    pub(crate) fn set_stop_last(&self) {
        self.stop_last.store(true, Ordering::Relaxed);
    }

    /// Whether a shutdown stops this thread after the others.
    pub(crate) fn stops_last(&self) -> bool {
        self.stop_last.load(Ordering::Relaxed)
    }
}
