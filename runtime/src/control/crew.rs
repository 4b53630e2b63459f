//! A pool and its workers: the pool's control knows its workers, and each worker's
//! control knows its pool. A pool is stopped and halted as one: a stop or halt of the
//! pool, or of any of its workers, reaches them all, and every worker's `on_stop` hooks
//! run. What observers read of a pool sums its workers.

use std::sync::{Arc, OnceLock, Weak};
use std::time::{Duration, Instant};

use super::Control;

/// The pool side of a control, if it has one.
pub(crate) enum Crew {
    /// On a pool's control: its workers, in start order.
    Workers(Box<[Arc<Control>]>),
    /// On a worker's control: the pool it serves.
    Pool(Weak<Control>),
}

impl Control {
    /// Makes this control a pool's, with these workers.
    pub(crate) fn set_workers(&self, workers: Box<[Arc<Control>]>) {
        let _ = self.crew.set(Crew::Workers(workers));
    }

    /// Makes this control a worker of `pool`.
    pub(crate) fn serve_pool(&self, pool: &Arc<Control>) {
        let _ = self.crew.set(Crew::Pool(Arc::downgrade(pool)));
    }

    /// A pool's workers (none for any other control).
    pub(crate) fn workers(&self) -> &[Arc<Control>] {
        match self.crew.get() {
            Some(Crew::Workers(workers)) => workers,
            _ => &[],
        }
    }

    /// Whether this is a pool's worker.
    pub(crate) fn is_worker(&self) -> bool {
        matches!(self.crew.get(), Some(Crew::Pool(_)))
    }

    /// The pool this worker serves.
    pub(crate) fn pool(&self) -> Option<Arc<Control>> {
        match self.crew.get() {
            Some(Crew::Pool(pool)) => pool.upgrade(),
            _ => None,
        }
    }

    /// Does `each` to this thread, or, for a pool or a worker, to the pool and every
    /// worker.
    pub(super) fn across_pool(&self, each: fn(&Self)) {
        if let Some(pool) = self.pool() {
            return pool.across_pool(each);
        }
        each(self);
        for worker in self.workers() {
            each(worker);
        }
    }

    /// Closes the queue, marks the state and cuts interruptible waits short: of the
    /// whole pool, for a pool or a worker.
    pub(crate) fn signal_stop(&self) {
        self.across_pool(Self::signal_stop_alone);
    }

    /// Sets the halt flag, then signals a stop: of the whole pool, for a pool or a
    /// worker.
    pub(crate) fn signal_halt(&self) {
        self.across_pool(Self::signal_halt_alone);
    }

    /// Runs the `on_stop` hooks, once: of every worker, for a pool or a worker.
    pub(crate) fn run_stop_hooks(&self) {
        self.across_pool(Self::run_own_stop_hooks);
    }

    /// Runs the `on_stop` hooks that have not run (see `run_stop_hooks`) on a helper
    /// thread, so that one that blocks holds the caller no longer (here if no helper
    /// can be started).
    pub(crate) fn run_stop_hooks_aside(self: &Arc<Self>) {
        if !self.has_stop_hooks() {
            return;
        }
        let hooked = Arc::clone(self);
        let helper = std::thread::Builder::new()
            .name("threadward-hooks".into())
            .spawn(move || hooked.run_stop_hooks());
        if helper.is_err() {
            self.run_stop_hooks();
        }
    }

    /// Whether `on_stop` hooks are registered and have not run yet (a worker's, for a
    /// pool).
    pub(crate) fn has_stop_hooks(&self) -> bool {
        self.has_own_stop_hooks() || self.workers().iter().any(|w| w.has_own_stop_hooks())
    }

    /// How many tasks the thread handled (all its workers, for a pool).
    pub(crate) fn handled(&self) -> u64 {
        self.workers()
            .iter()
            .fold(self.own_handled(), |sum, worker| sum + worker.own_handled())
    }

    /// How many ticks, calls and casts the thread began (all its workers', for a pool).
    pub(crate) fn ticks_and_calls(&self) -> u64 {
        self.workers()
            .iter()
            .fold(self.own_ticks_and_calls(), |sum, worker| {
                sum + worker.own_ticks_and_calls()
            })
    }

    /// How many times the thread was restarted (all its workers, for a pool).
    pub(crate) fn restarts(&self) -> u32 {
        self.workers()
            .iter()
            .fold(self.own_restarts(), |sum, worker| {
                sum + worker.own_restarts()
            })
    }

    /// What ended the last instance that was replaced (a pool's latest-started worker
    /// that had one).
    pub(crate) fn last_failure(&self) -> Option<String> {
        let mut workers = self.workers().iter().rev();
        self.own_last_failure()
            .or_else(|| workers.find_map(|w| w.own_last_failure()))
    }

    /// How long ago the thread last woke from an idle wait for work (any worker, for a
    /// pool).
    pub(crate) fn last_woken_ago(&self) -> Option<Duration> {
        let workers = self.workers().iter().filter_map(|w| w.own_last_woken_ago());
        self.own_last_woken_ago().into_iter().chain(workers).min()
    }

    /// Whether the caller runs on this thread (on one of its workers, for a pool).
    pub(crate) fn is_current(&self) -> bool {
        self.is_own_thread() || self.workers().iter().any(|w| w.is_own_thread())
    }

    /// Waits for the OS threads to exit (every worker's, for a pool), once the exit is
    /// published.
    pub(crate) fn join_os_thread(&self) {
        self.join_own_os_thread();
        for worker in self.workers() {
            worker.join_own_os_thread();
        }
    }

    /// A pool's workers, each waited for (see `wait_exit_timeout`) until `until`, or
    /// for ever: whether they all finished.
    pub(crate) fn workers_finished(&self, until: Option<Instant>) -> bool {
        self.workers().iter().all(|worker| {
            let left = until.map_or(Duration::MAX, |until| {
                until.saturating_duration_since(Instant::now())
            });
            worker.wait_exit_timeout(left).is_some()
        })
    }
}

/// The slot a control keeps its crew in.
pub(crate) type CrewSlot = OnceLock<Crew>;
