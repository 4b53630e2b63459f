//! The [`Manager`]: a limit on the threads it runs at once, a queue of threads pending
//! a slot, and a watch that starts them as slots free. It sits above the run loop and
//! sees threads only through their handles and exits.

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, Instant};

use crossbeam_channel as channel;

mod pending;

pub use pending::Pending;

use crate::closure::{thread, ClosureThread};
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
/// failure. Clones of a `Manager` manage the same threads.
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

struct Inner {
    limit: usize,
    registry: Registry,
    state: Mutex<State>,
    /// Notified when a spawn in flight finishes, for `join`.
    launched: Condvar,
    /// Tells the watch that a slot freed or a thread was pushed; one token is enough.
    wake: (channel::Sender<()>, channel::Receiver<()>),
}

#[derive(Default)]
struct State {
    pending: VecDeque<Pending>,
    /// Slots taken: threads being spawned or alive.
    running: usize,
    /// Spawns in flight: `join` waits for them, so that it sees every thread started.
    launching: usize,
    /// Every thread it started and has not joined.
    started: Vec<AnyHandle>,
    /// Values whose spawn failed: not retried, handed back by `stop`.
    failed: Vec<Pending>,
    watch: Option<Handle<ClosureThread>>,
    ended: Option<Ending>,
}

#[derive(Clone, Copy)]
enum Ending {
    Stop,
    Halt,
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
    /// accepted and runs `shutdown`) and hands back the values that never started. Does
    /// not wait for the threads to end ([`join`](Self::join) does). Later pushes fail;
    /// a second `stop` hands back nothing more.
    pub fn stop(&self) -> Vec<Pending> {
        self.end(Ending::Stop)
    }

    /// Like [`stop`](Self::stop), but halts every thread it started: each unwinds at
    /// its next checkpoint, runs `shutdown` and returns the tasks it did not handle.
    pub fn halt(&self) -> Vec<Pending> {
        self.end(Ending::Halt)
    }

    fn end(&self, ending: Ending) -> Vec<Pending> {
        let mut state = self.inner.state();
        // A halt after a stop still halts.
        if matches!(state.ended, None | Some(Ending::Stop)) {
            state.ended = Some(ending);
        }
        let mut pending: Vec<Pending> = state.failed.drain(..).collect();
        pending.extend(state.pending.drain(..));
        let watch = state.watch.clone();
        let threads = state.started.clone();
        // The threads' `on_stop` hooks run outside the lock: they may call back in.
        drop(state);
        // The watch only waits: a stop ends it at once, even for a halt.
        if let Some(watch) = watch {
            watch.stop();
        }
        for handle in threads {
            match ending {
                Ending::Stop => handle.stop(),
                Ending::Halt => handle.halt(),
            }
        }
        pending
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
    /// out; the threads joined by then stay joined, and a later `join` returns the rest.
    pub fn join_timeout(&self, timeout: Duration) -> Result<Vec<ExitReport>, JoinTimeoutError> {
        self.join_until(Instant::now().checked_add(timeout))
    }

    fn join_until(&self, deadline: Option<Instant>) -> Result<Vec<ExitReport>, JoinTimeoutError> {
        let (started, watch) = {
            let mut state = self.inner.state();
            while state.launching > 0 {
                let left = match deadline {
                    Some(deadline) => deadline.saturating_duration_since(Instant::now()),
                    None => Duration::MAX,
                };
                if left.is_zero() {
                    return Err(JoinTimeoutError::Timeout);
                }
                state = self
                    .inner
                    .launched
                    .wait_timeout(state, left)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
            // A watch ends only with the manager: joined once it was stopped.
            let watch = state.watch.as_ref().filter(|_| state.ended.is_some());
            (state.started.clone(), watch.map(Handle::to_any))
        };
        let mut reports = Vec::with_capacity(started.len());
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
            if !watched {
                reports.push(report);
            }
            self.inner.state().started.retain(|h| h.id() != handle.id());
        }
        Ok(reports)
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

impl Inner {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn wake(&self) {
        let _ = self.wake.0.try_send(());
    }

    /// A spawn in flight finished (its thread listed as started, or set aside).
    fn launch_ended(&self, mut state: MutexGuard<'_, State>) {
        state.launching -= 1;
        drop(state);
        self.launched.notify_all();
    }
}

impl Drop for Inner {
    /// The last clone of the manager is gone: its watch, which holds it only weakly,
    /// ends too. The threads it started run on, like threads whose handles were dropped.
    fn drop(&mut self) {
        let state = self.state.get_mut().unwrap_or_else(PoisonError::into_inner);
        if let Some(watch) = state.watch.take() {
            watch.stop();
        }
    }
}

/// Starts pending threads while there are free slots; how many started.
fn fill(inner: &Arc<Inner>) -> usize {
    let mut started = 0;
    loop {
        let next = {
            let mut state = inner.state();
            if state.ended.is_some() || state.running >= inner.limit {
                break;
            }
            let Some(next) = state.pending.pop_front() else {
                break;
            };
            state.running += 1;
            state.launching += 1;
            next
        };
        let handle = match next.value.launch(&inner.registry) {
            Ok(handle) => handle,
            Err(failed) => {
                if let Some(failure) = &failed.failure {
                    tracing::error!(thread = failed.name, %failure, "the manager could not start a thread");
                }
                let mut state = inner.state();
                state.running -= 1;
                // Handed back by `stop`, with its failure.
                state.failed.push(failed);
                inner.launch_ended(state);
                continue;
            }
        };
        started += 1;
        // The slot frees when the thread ends (at once, here, if it already has).
        let weak = Arc::downgrade(inner);
        handle.control().on_exit(Box::new(move |_| {
            if let Some(inner) = weak.upgrade() {
                inner.state().running -= 1;
                inner.wake();
            }
        }));
        let ending = {
            let mut state = inner.state();
            state.started.push(handle.clone());
            let ending = state.ended;
            inner.launch_ended(state);
            ending
        };
        // Stopped meanwhile: the new thread follows the others.
        match ending {
            Some(Ending::Stop) => handle.stop(),
            Some(Ending::Halt) => handle.halt(),
            None => {}
        }
    }
    started
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
