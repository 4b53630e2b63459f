//! The [`Manager`]: a limit on the threads it runs at once, a queue of threads pending
//! a slot, and a watch that starts them as slots free. It sits above the run loop and
//! sees threads only through their handles and exits.

use std::fmt;
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::{Duration, Instant};

use crossbeam_channel as channel;

mod pending;
mod slots;

use slots::{fill, Ending, Inner, State};

pub use pending::Pending;

use crate::closure::thread;
use crate::error::{JoinError, JoinTimeoutError, PushError, RunError, WatchError};
use crate::handle::{AnyHandle, Handle};
use crate::outcome::ExitReport;
use crate::registry::{registry, Registry};
use crate::thread::BackgroundThread;

/// Runs at most `limit` threads at once, from a queue of threads pending a slot.
///
/// [`push`](Self::push) queues a thread's value (any type of thread, closure threads
/// too); [`run`](Self::run) starts as many as fit now; [`watch`](Self::watch) keeps
/// starting them as slots free, on a thread of its own (named `manager`) that sleeps
/// until a thread it started ends or one is pushed: no polling. [`stop`](Self::stop)
/// stops everything it started gracefully, [`halt`](Self::halt) abruptly; both hand back
/// the values that never started. [`join`](Self::join) waits for the threads it started
/// and returns their exit reports.
///
/// The threads are spawned into the global [`registry`] (or the one given to
/// [`in_registry`](Self::in_registry)), where they are listed and shut down like any
/// other. A thread that could not be spawned (its `startup` failed, the registry is
/// shutting down…) is not retried: its value is handed back by `stop`, with the
/// failure. The manager keeps a handle to every thread it started until a `join` takes
/// its exit. Clones of a `Manager` manage the same threads.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use threadward::Manager;
///
/// let manager = Manager::new(2);
/// for n in 0..5u64 {
///     let job = threadward::thread("job").build(move |ctx| {
///         ctx.sleep(Duration::from_millis(5 * n)); // work
///         Ok(())
///     });
///     manager.push(job)?;
/// }
/// manager.watch()?; // two at a time until all five ran
/// let waited = std::time::Instant::now();
/// while manager.pending() > 0 || manager.running() > 0 {
///     assert!(waited.elapsed() < Duration::from_secs(30));
///     std::thread::sleep(Duration::from_millis(5));
/// }
/// assert!(manager.stop().is_empty()); // nothing left pending
/// let exits = manager.join();
/// assert_eq!(exits.len(), 5);
/// assert!(exits.iter().all(|exit| exit.outcome().is_clean()));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Manager {
    inner: Arc<Inner>,
}

impl Manager {
    /// A manager that runs at most `limit` threads at once (at least one) in the global
    /// [`registry`].
    pub fn new(limit: usize) -> Self {
        Self::in_registry(limit, registry())
    }

    /// A manager that runs at most `limit` threads at once (at least one) in
    /// `registry`.
    pub fn in_registry(limit: usize, registry: &Registry) -> Self {
        Self {
            inner: Arc::new(Inner {
                limit: limit.max(1),
                registry: registry.clone(),
                state: Mutex::new(State::default()),
                launched: Condvar::new(),
                wake: channel::bounded(1),
            }),
        }
    }

    /// Queues `thread` for a slot. A watching manager starts it as soon as one is free;
    /// otherwise the next [`run`](Self::run) does.
    ///
    /// # Errors
    ///
    /// [`PushError`], with the thread, once the manager was stopped or halted.
    pub fn push<T: BackgroundThread>(&self, thread: T) -> Result<(), PushError<T>> {
        let mut state = self.inner.state();
        if state.ended.is_some() {
            return Err(PushError(thread));
        }
        state.pending.push_back(Pending {
            name: thread.__declaration().name,
            value: Box::new(thread),
            failure: None,
        });
        drop(state);
        self.inner.wake();
        Ok(())
    }

    /// Starts as many pending threads as there are free slots, in the order they were
    /// pushed, and returns how many started (a thread whose spawn failed is set aside,
    /// and handed back by [`stop`](Self::stop) with its failure). Each `spawn` returns after the thread's
    /// `startup`, so this does too.
    ///
    /// # Errors
    ///
    /// [`RunError::NothingToRun`] when no thread is pending,
    /// [`RunError::AlreadyRunning`] when every slot is taken, [`RunError::Stopped`] once
    /// the manager was stopped or halted.
    pub fn run(&self) -> Result<usize, RunError> {
        {
            let state = self.inner.state();
            if state.ended.is_some() {
                return Err(RunError::Stopped);
            }
            if state.pending.is_empty() {
                return Err(RunError::NothingToRun);
            }
            if state.running >= self.inner.limit {
                return Err(RunError::AlreadyRunning {
                    limit: self.inner.limit,
                });
            }
        }
        Ok(fill(&self.inner))
    }

    /// Starts pending threads as slots free, from now until the manager is stopped or
    /// halted: on a closure thread named `manager`, in the manager's registry, which
    /// wakes only when a thread it started ends or one is pushed.
    ///
    /// # Errors
    ///
    /// [`WatchError::AlreadyWatching`] if a watch is running,
    /// [`WatchError::Stopped`] once the manager was stopped or halted,
    /// [`WatchError::Spawn`] if its thread could not be spawned.
    pub fn watch(&self) -> Result<(), WatchError> {
        let mut state = self.inner.state();
        if state.ended.is_some() {
            return Err(WatchError::Stopped);
        }
        if state.watch.as_ref().is_some_and(Handle::is_alive) {
            return Err(WatchError::AlreadyWatching);
        }
        let weak = Arc::downgrade(&self.inner);
        let wake = self.inner.wake.1.clone();
        let body = move |ctx: &crate::Context| loop {
            match Weak::upgrade(&weak) {
                Some(inner) => fill(&inner),
                None => return Ok(()),
            };
            if ctx.recv(&wake).is_none() {
                return Ok(());
            }
        };
        // Spawned under the lock: a concurrent `watch` waits and then finds it alive.
        // (A closure thread's spawn returns at once: its body runs on the new thread.)
        let watch = thread("manager")
            .spawn_in(&self.inner.registry, body)
            .map_err(|error| WatchError::Spawn(error.failure))?;
        state.watch = Some(watch);
        Ok(())
    }

    /// Stops watching, stops every thread it started (gracefully: each handles what it
    /// accepted and runs `shutdown`) and hands back the values that never started,
    /// those whose spawn failed first (with their [`failure`](Pending::failure)).
    ///
    /// A thread still in its `startup` is stopped too (an interruptible wait there
    /// returns), and `stop` waits for such spawns to return, so that a value whose spawn
    /// then fails is handed back here; it does not wait for the threads to end
    /// ([`join`](Self::join) does). Later pushes fail; a second `stop` hands back
    /// nothing more.
    pub fn stop(&self) -> Vec<Pending> {
        self.end(Ending::Stop)
    }

    /// Like [`stop`](Self::stop), but halts every thread it started: each unwinds at
    /// its next checkpoint, runs `shutdown` and returns the tasks it did not handle. A
    /// thread halted in its `startup` did not start: its value is handed back, with
    /// [`SpawnFailure::Halted`](crate::SpawnFailure::Halted).
    pub fn halt(&self) -> Vec<Pending> {
        self.end(Ending::Halt)
    }

    fn end(&self, ending: Ending) -> Vec<Pending> {
        let mut state = self.inner.state();
        // A halt after a stop still halts.
        if matches!(state.ended, None | Some(Ending::Stop)) {
            state.ended = Some(ending);
        }
        let mut pending: Vec<Pending> = state.pending.drain(..).collect();
        let watch = state.watch.clone();
        let threads: Vec<AnyHandle> = state
            .started
            .iter()
            .chain(&state.in_flight)
            .cloned()
            .collect();
        // The threads' `on_stop` hooks run outside the lock: they may call back in.
        drop(state);
        // The watch only waits: a stop ends it at once, even for a halt.
        if let Some(watch) = watch {
            watch.stop();
        }
        for handle in threads {
            ending.apply(&handle);
        }
        // A spawn in flight ends soon (its `startup` was stopped or halted too); one
        // that fails leaves its value to be handed back here.
        // Without a deadline, the wait ends only when the spawns did.
        let mut state = self.inner.wait_launches(None).unwrap_or_else(|state| state);
        let mut failed: Vec<Pending> = state.failed.drain(..).collect();
        drop(state);
        failed.append(&mut pending);
        failed
    }

    /// Waits for every thread it started so far to end and returns their exit reports,
    /// in the order they were started (the watch's thread is joined too, but not
    /// reported). Each thread's exit is taken: a thread that ended unclean is not also
    /// reported as unjoined. Call [`stop`](Self::stop) or [`halt`](Self::halt) first
    /// unless the threads end on their own.
    pub fn join(&self) -> Vec<ExitReport> {
        self.join_until(None).unwrap_or_default()
    }

    /// Like [`join`](Self::join), waiting at most `timeout` in all.
    ///
    /// # Errors
    ///
    /// [`JoinTimeoutError::Timeout`] if a thread was still running when the time ran
    /// out. The reports of the threads joined by then are kept: the next `join` returns
    /// them with the rest.
    pub fn join_timeout(&self, timeout: Duration) -> Result<Vec<ExitReport>, JoinTimeoutError> {
        self.join_until(Instant::now().checked_add(timeout))
    }

    fn join_until(&self, deadline: Option<Instant>) -> Result<Vec<ExitReport>, JoinTimeoutError> {
        let (started, watch) = {
            let state = self
                .inner
                .wait_launches(deadline)
                .map_err(|_| JoinTimeoutError::Timeout)?;
            // A watch ends only with the manager: joined once it was stopped.
            let watch = state.watch.as_ref().filter(|_| state.ended.is_some());
            (state.started.clone(), watch.map(Handle::to_any))
        };
        for handle in watch.iter().chain(&started) {
            let joined = match deadline {
                None => handle.join().map_err(|error| match error {
                    JoinError::AlreadyJoined(report) => JoinTimeoutError::AlreadyJoined(report),
                    JoinError::OwnThread => JoinTimeoutError::OwnThread,
                }),
                Some(deadline) => {
                    handle.join_timeout(deadline.saturating_duration_since(Instant::now()))
                }
            };
            let report = match joined {
                Ok(report) | Err(JoinTimeoutError::AlreadyJoined(report)) => report,
                // Called from one of its threads: that one cannot be waited for.
                Err(JoinTimeoutError::OwnThread) => continue,
                Err(error) => return Err(error),
            };
            let watched = watch.as_ref().is_some_and(|w| w.id() == handle.id());
            let mut state = self.inner.state();
            if !watched {
                state.reports.push(report);
            }
            state.started.retain(|h| h.id() != handle.id());
        }
        Ok(std::mem::take(&mut self.inner.state().reports))
    }

    /// How many threads wait for a slot.
    pub fn pending(&self) -> usize {
        self.inner.state().pending.len()
    }

    /// How many slots are taken: threads it started that have not ended.
    pub fn running(&self) -> usize {
        self.inner.state().running
    }

    /// The most threads it runs at once.
    pub fn limit(&self) -> usize {
        self.inner.limit
    }

    /// Whether a watch is running.
    pub fn is_watching(&self) -> bool {
        self.inner
            .state()
            .watch
            .as_ref()
            .is_some_and(Handle::is_alive)
    }
}

impl fmt::Debug for Manager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.inner.state();
        f.debug_struct("Manager")
            .field("limit", &self.inner.limit)
            .field("pending", &state.pending.len())
            .field("running", &state.running)
            .field("watching", &state.watch.is_some())
            .finish()
    }
}
