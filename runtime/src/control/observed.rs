//! What observers read of a thread beyond its counts: whether it sleeps for want of
//! work, when it last woke, how many sends it refused, how big its queue is, how far a
//! stop has got, and whether its current step blocks by design. Everything here is
//! written off the hot path: a wake-up stamp when the thread goes to sleep or wakes (it
//! waits in the kernel then anyway), a count when it begins a tick, a call or a cast,
//! a refusal count when a send fails, a mark when it registers an `on_stop` hook.

use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use super::Control;
use crate::queue::Watch;
use crate::stamp::Stamp;
use crate::sync::{AtomicU64, Ordering};

/// `Observed::hooked` while `startup` runs: matches no `handled + 1`.
const IN_STARTUP: u64 = u64::MAX;

/// A thread's state that only observers read.
#[derive(Default)]
pub(super) struct Observed {
    /// When the thread last woke from an idle wait for work; flagged while it sleeps
    /// in one.
    woken: Stamp,
    /// How many ticks, calls and casts the thread began (its tasks count in
    /// `handled`). Written by the thread alone: a plain store.
    ticks_and_calls: AtomicU64,
    /// How many tasks sends refused.
    refused: AtomicU64,
    /// Whether a shutdown stops it after the others (`Context::stop_last`).
    stop_last: AtomicBool,
    /// `handled + 1` as it was when the thread last registered an `on_stop` hook; 0 if
    /// it did not, or did in `startup`, or began a tick or a call since, or the step
    /// failed; `IN_STARTUP` while `startup` runs. While `handled` has not moved on, the
    /// step that registered it is still running.
    hooked: AtomicU64,
}

/// Tells a thread's [`Control`] of its waits for work: the thread sleeps (idle), then
/// wakes to work (busy, stamped), or its tick's deadline passed (busy, not stamped:
/// only work wakes a thread from idleness).
pub(crate) struct Idleness<'a>(pub(crate) &'a Control);

impl Watch for Idleness<'_> {
    fn sleeps(&mut self) {
        self.0.observed.woken.flag(true);
    }

    fn woke(&mut self) {
        self.0.observed.woken.mark(self.0.started);
    }

    fn timed_out(&mut self) {
        self.0.observed.woken.flag(false);
    }
}

impl Control {
    /// How long ago this thread last woke from an idle wait for work.
    pub(super) fn own_last_woken_ago(&self) -> Option<Duration> {
        self.observed.woken.ago(self.started)
    }

    /// A tick, a call or a cast begins: counted, so that observers see a new piece of
    /// work begin (a task shows in `handled`). No clock is read: a cast is a few
    /// hundred instructions in all.
    #[inline]
    pub(crate) fn mark_step(&self) {
        let begun = self.observed.ticks_and_calls.load(Ordering::Relaxed);
        self.observed
            .ticks_and_calls
            .store(begun.wrapping_add(1), Ordering::Relaxed);
        self.observed.hooked.store(0, Ordering::Relaxed);
    }

    /// How many ticks, calls and casts this thread began.
    pub(super) fn own_ticks_and_calls(&self) -> u64 {
        self.observed.ticks_and_calls.load(Ordering::Relaxed)
    }

    /// The thread registers an `on_stop` hook: the task, tick or call it is in blocks
    /// by design (a server inside one `handle`), and is stopped through the hook. Not
    /// in `startup`.
    pub(crate) fn mark_hooked(&self) {
        let step = self.own_handled().wrapping_add(1);
        // Not over `IN_STARTUP`: a hook from another thread (a cloned `Context`) may
        // come as a restart's `startup` begins.
        let _ = self
            .observed
            .hooked
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |hooked| {
                (hooked != IN_STARTUP).then_some(step)
            });
    }

    /// `startup` begins: the hooks it registers say nothing of the tasks.
    pub(crate) fn starting_up(&self) {
        self.observed.hooked.store(IN_STARTUP, Ordering::Relaxed);
    }

    /// `startup` returned, or serving ended (the last step is over, or failed): no
    /// step blocks by design.
    pub(crate) fn no_step_hooked(&self) {
        self.observed.hooked.store(0, Ordering::Relaxed);
    }

    /// Waiting out a restart's backoff: shown idle meanwhile (no step runs).
    pub(crate) fn backing_off(&self, waiting: bool) {
        self.observed.woken.flag(waiting);
    }

    /// Whether the step the thread is in (busy) registered an `on_stop` hook (see
    /// `mark_hooked`).
    pub(crate) fn blocks_by_design(&self) -> bool {
        let hooked = self.observed.hooked.load(Ordering::Relaxed);
        hooked != 0
            && hooked == self.own_handled().wrapping_add(1)
            && !self.observed.woken.is_flagged()
    }

    /// Whether the thread sleeps waiting for work (every worker, for a pool).
    pub(crate) fn is_idle(&self) -> bool {
        match self.workers() {
            [] => self.observed.woken.is_flagged(),
            workers => workers.iter().all(|w| w.observed.woken.is_flagged()),
        }
    }

    /// Counts a task a send refused (the queue full, the wait for room over, or the
    /// queue closed).
    #[cold]
    pub(crate) fn count_refused(&self) {
        self.observed.refused.fetch_add(1, Ordering::Relaxed);
    }

    /// How many tasks sends refused so far.
    pub(crate) fn refused(&self) -> u64 {
        self.observed.refused.load(Ordering::Relaxed)
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

    /// Asks a shutdown to stop this thread after the others: for a pool or a worker,
    /// the pool and every worker (a pool stops as one).
    pub(crate) fn set_stop_last(&self) {
        self.across_pool(|control| control.observed.stop_last.store(true, Ordering::Relaxed));
    }

    /// Whether a shutdown stops this thread after the others.
    pub(crate) fn stops_last(&self) -> bool {
        self.observed.stop_last.load(Ordering::Relaxed)
    }
}
