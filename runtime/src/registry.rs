//! The registry of running threads: what is running, finding a thread by name, stopping
//! them all, an optional limit on how many may run, the refusal of new threads once a
//! shutdown began, and the exits of failed threads that nobody joined.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, PoisonError};

use crate::error::SpawnFailure;
use crate::handle::{AnyHandle, Managed};
use crate::ids::ThreadId;
use crate::info::ThreadInfo;
use crate::outcome::ExitReport;
use crate::progress::Progress;
use crate::sync::{Mutex, MutexGuard};
use crate::watchers::Watchers;

/// How many exits of failed threads that nobody joined a registry remembers; older ones
/// are forgotten first.
pub(crate) const REMEMBERED_EXITS: usize = 64;

/// A set of running threads.
///
/// Every thread is spawned into a registry: `spawn()` uses the process-wide one,
/// [`registry()`], and `spawn_in(&registry)` a registry of your own (for isolation in
/// tests, or for a subsystem with its own limit). A thread is in its registry from the
/// moment `spawn` is called until it ends; a thread whose `startup` fails never stays.
///
/// Once a [`Shutdown`](crate::Shutdown) of the registry began, it takes no new threads:
/// `spawn_in` fails with [`SpawnFailure::ShuttingDown`] and hands the value back, so
/// every thread of the registry is in the shutdown's report. A thread that ended
/// without a clean stop (failed, panicked, halted) and that nobody joined is remembered
/// (the latest 64): see [`unjoined_exits`](Self::unjoined_exits).
///
/// Cloning a `Registry` gives another reference to the same set.
///
/// # Examples
///
/// ```
/// use threadward::{background_thread, BackgroundThread, BoxError, Context, Registry};
///
/// #[background_thread]
/// struct Worker;
///
/// impl BackgroundThread for Worker {
///     type Task = ();
///     fn handle(&mut self, _: (), _: &Context) -> Result<(), BoxError> { Ok(()) }
/// }
///
/// let registry = Registry::with_limit(1);
/// let worker = Worker.spawn_in(&registry)?;
/// assert_eq!(registry.active()[0].name, "worker");
///
/// // The limit is reached: the value is handed back.
/// let refused = Worker.spawn_in(&registry).unwrap_err();
/// assert!(refused.to_string().contains("limit of 1"));
///
/// registry.stop_all();
/// worker.join()?;
/// assert!(registry.is_empty());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Default)]
pub struct Registry {
    inner: Arc<Inner>,
}

/// What the registry's lock guards.
#[derive(Default)]
struct Threads {
    /// By id. Ids grow with every spawn, so the map's order is the start order (a
    /// shutdown stops threads in reverse), and a thread that ends leaves in `O(log n)`.
    running: BTreeMap<ThreadId, Arc<dyn Managed>>,
    /// Set when a shutdown began: no thread is taken from then on.
    shutting_down: bool,
    /// Threads that ended without a clean stop, the newest last, until joined.
    unclean: VecDeque<Remembered>,
}

/// The exit of a thread that ended without a clean stop, kept until somebody takes it.
/// Only the report and a flag: none of the thread's queue or hooks stay alive for it.
#[derive(Debug, Clone)]
pub(crate) struct Remembered {
    pub(crate) report: ExitReport,
    /// Set by the thread's join.
    pub(crate) taken: Arc<AtomicBool>,
}

impl Remembered {
    pub(crate) fn is_taken(&self) -> bool {
        self.taken.load(Ordering::Acquire)
    }
}

#[derive(Default)]
struct Inner {
    threads: Mutex<Threads>,
    limit: Option<usize>,
    watchers: Watchers,
    progress: Progress,
}

impl Registry {
    /// A new, empty registry without a limit.
    ///
    /// # Examples
    ///
    /// ```
    /// let registry = threadward::Registry::new();
    /// assert!(registry.is_empty());
    /// assert_eq!(registry.limit(), None);
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// A new, empty registry in which at most `limit` threads run at once. Spawning
    /// beyond it fails with [`SpawnFailure::LimitReached`](crate::SpawnFailure).
    ///
    /// # Examples
    ///
    /// ```
    /// let registry = threadward::Registry::with_limit(8);
    /// assert_eq!(registry.limit(), Some(8));
    /// ```
    pub fn with_limit(limit: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                limit: Some(limit),
                ..Inner::default()
            }),
        }
    }

    /// The most threads that may run at once, if limited.
    pub fn limit(&self) -> Option<usize> {
        self.inner.limit
    }

    /// A snapshot of every thread in the registry, in start order.
    pub fn active(&self) -> Vec<ThreadInfo> {
        self.threads()
            .running
            .values()
            .map(|thread| ThreadInfo::of(thread.control()))
            .collect()
    }

    /// How many threads are in the registry.
    pub fn len(&self) -> usize {
        self.threads().running.len()
    }

    /// Whether no thread is in the registry.
    pub fn is_empty(&self) -> bool {
        self.threads().running.is_empty()
    }

    /// The first-started thread with this name, if one is running.
    ///
    /// # Examples
    ///
    /// ```
    /// # use threadward::{background_thread, BackgroundThread, BoxError, Context, Registry};
    /// # #[background_thread(name = "indexer")] struct Indexer;
    /// # impl BackgroundThread for Indexer {
    /// #     type Task = ();
    /// #     fn handle(&mut self, _: (), _: &Context) -> Result<(), BoxError> { Ok(()) }
    /// # }
    /// let registry = Registry::new();
    /// let indexer = Indexer.spawn_in(&registry)?;
    /// let found = registry.find("indexer").expect("it is running");
    /// assert_eq!(found.id(), indexer.id());
    /// assert!(registry.find("mailer").is_none());
    /// # registry.stop_all();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn find(&self, name: &str) -> Option<AnyHandle> {
        self.threads()
            .running
            .values()
            .find(|thread| thread.control().name == name)
            .map(|thread| AnyHandle::new(Arc::clone(thread)))
    }

    /// The thread with this id, if it is in the registry.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// let registry = threadward::Registry::new();
    /// let busy = |ctx: &threadward::Context| { ctx.sleep(Duration::from_secs(3600)); Ok(()) };
    /// let id = threadward::thread("indexer").spawn_in(&registry, busy)?.id();
    /// let found = registry.get(id).ok_or("not running")?; // an id is `Copy`: keep it
    /// assert_eq!(found.name(), "indexer");
    /// found.stop();
    /// found.join_timeout(Duration::from_secs(10))?;
    /// assert!(registry.get(id).is_none()); // an ended thread leaves the registry
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get(&self, id: ThreadId) -> Option<AnyHandle> {
        self.threads()
            .running
            .get(&id)
            .map(|thread| AnyHandle::new(Arc::clone(thread)))
    }

    /// Handles to every thread in the registry, in start order.
    pub fn handles(&self) -> Vec<AnyHandle> {
        self.threads()
            .running
            .values()
            .map(|thread| AnyHandle::new(Arc::clone(thread)))
            .collect()
    }

    /// Asks every thread to stop, the last-started first: all of them at once, then
    /// runs their `on_stop` hooks here, so a hook that blocks keeps no thread from being
    /// asked. Does not wait for them to end: join the handles (or use
    /// [`AnyHandle::join_timeout`]) for that.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use threadward::Registry;
    ///
    /// let registry = Registry::new();
    /// for name in ["a", "b", "c"] {
    ///     threadward::thread(name).spawn_in(&registry, |ctx| {
    ///         ctx.sleep(Duration::from_secs(3600)); // cut short by the stop
    ///         Ok(())
    ///     })?;
    /// }
    /// let handles = registry.handles();
    /// registry.stop_all();
    /// for handle in handles {
    ///     assert!(handle.join_timeout(Duration::from_secs(10))?.outcome().is_clean());
    /// }
    /// assert!(registry.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn stop_all(&self) {
        let threads = self.newest_first();
        for thread in &threads {
            thread.control().signal_stop();
        }
        for thread in &threads {
            thread.control().run_stop_hooks();
        }
    }

    /// Halts every thread, the last-started first (see `Handle::halt`): all of them at
    /// once, then runs their `on_stop` hooks here. Does not wait.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use threadward::{Outcome, Registry};
    ///
    /// let registry = Registry::new();
    /// let crawler = threadward::thread("crawler").spawn_in(&registry, |ctx| {
    ///     ctx.sleep(Duration::from_secs(3600)); // a long fetch, cut short by the halt
    ///     Ok(())
    /// })?;
    /// registry.halt_all();
    /// let exit = crawler.join_timeout(Duration::from_secs(10))?;
    /// assert!(matches!(exit.outcome(), Outcome::Halted));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn halt_all(&self) {
        let threads = self.newest_first();
        for thread in &threads {
            thread.control().signal_halt();
        }
        for thread in &threads {
            thread.control().run_stop_hooks();
        }
    }

    /// Whether a shutdown of this registry began: it takes no new threads.
    pub fn is_shutting_down(&self) -> bool {
        self.threads().shutting_down
    }

    /// The exits of threads of this registry that ended without a clean stop (failed,
    /// panicked, halted) and that nobody joined, the oldest first; the latest 64 are
    /// kept. A [`ShutdownReport`](crate::ShutdownReport) lists them and counts them in
    /// its exit code, so a thread that died unnoticed still fails the process.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// use threadward::{background_thread, BackgroundThread, BoxError, Context, Registry};
    ///
    /// #[background_thread]
    /// struct Fragile;
    ///
    /// impl BackgroundThread for Fragile {
    ///     type Task = ();
    ///     fn handle(&mut self, (): (), _: &Context) -> Result<(), BoxError> {
    ///         Err("disk full".into())
    ///     }
    /// }
    ///
    /// let registry = Registry::new();
    /// let fragile = Fragile.spawn_in(&registry)?;
    /// fragile.send(())?;
    /// # while fragile.is_alive() { std::thread::sleep(Duration::from_millis(1)); }
    /// drop(fragile); // nobody joins it
    /// let unjoined = registry.unjoined_exits();
    /// assert_eq!(unjoined[0].outcome().to_string(), "failed: disk full");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn unjoined_exits(&self) -> Vec<ExitReport> {
        self.threads()
            .unclean
            .iter()
            .filter(|remembered| !remembered.is_taken())
            .map(|remembered| remembered.report.clone())
            .collect()
    }

    /// Who is told of this registry's exits and escalations.
    pub(crate) fn watchers(&self) -> &Watchers {
        &self.inner.watchers
    }

    pub(crate) fn progress(&self) -> &Progress {
        &self.inner.progress
    }

    /// The threads, the last-started first, copied out so that they are stopped outside
    /// the lock (an ending thread removes itself from the registry).
    fn newest_first(&self) -> Vec<Arc<dyn Managed>> {
        self.threads().running.values().rev().cloned().collect()
    }

    /// Marks the registry as shutting down and returns its threads, the last-started
    /// first, and the unclean exits nobody took: in one step, so that every thread is
    /// either refused, running, or ended and remembered.
    #[cfg(unix)]
    pub(crate) fn begin_shutdown(&self) -> (Vec<AnyHandle>, Vec<Remembered>) {
        let mut threads = self.threads();
        threads.shutting_down = true;
        let running = threads
            .running
            .values()
            .rev()
            .map(|thread| AnyHandle::new(Arc::clone(thread)))
            .collect();
        let unjoined = threads
            .unclean
            .iter()
            .filter(|remembered| !remembered.is_taken())
            .cloned()
            .collect();
        (running, unjoined)
    }

    /// Adds a thread, unless the registry is shutting down or its limit is reached.
    pub(crate) fn insert(
        &self,
        thread: Arc<dyn Managed>,
        singleton: bool,
    ) -> Result<(), SpawnFailure> {
        let mut threads = self.threads();
        if threads.shutting_down {
            return Err(SpawnFailure::ShuttingDown);
        }
        // Under the lock: of two racing spawns of a singleton, exactly one gets in.
        if singleton {
            let new = thread.control();
            if let Some(alive) = threads.running.values().find(|running| {
                let running = running.control();
                running.name == new.name && running.type_name == new.type_name
            }) {
                return Err(SpawnFailure::AlreadyRunning {
                    name: new.name,
                    id: alive.control().id,
                });
            }
        }
        if let Some(limit) = self.inner.limit {
            if threads.running.len() >= limit {
                return Err(SpawnFailure::LimitReached { limit });
            }
        }
        threads.running.insert(thread.control().id, thread);
        Ok(())
    }

    /// Removes an ending thread; one that ended without a clean stop is remembered (in
    /// the same step, so that it is always in one list or the other) until somebody
    /// joins it.
    pub(crate) fn remove(&self, id: ThreadId, unclean: Option<Remembered>) {
        let mut threads = self.threads();
        threads.running.remove(&id);
        if let Some(remembered) = unclean {
            threads
                .unclean
                .retain(|earlier| !earlier.is_taken() && earlier.report.id != id);
            if threads.unclean.len() == REMEMBERED_EXITS {
                threads.unclean.pop_front();
            }
            threads.unclean.push_back(remembered);
        }
    }

    /// The lock never guards an invariant that a panic could break halfway (each
    /// operation is one map call), so a poisoned lock is used as it is: a panic
    /// elsewhere must not stop a shutdown.
    fn threads(&self) -> MutexGuard<'_, Threads> {
        self.inner
            .threads
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("limit", &self.inner.limit)
            .field("active", &self.active())
            .finish()
    }
}

/// The process-wide registry that `spawn()` and [`create`](crate::create) use.
///
/// # Examples
///
/// ```
/// for thread in threadward::registry().active() {
///     println!("{} {} {}: {} handled", thread.id, thread.name, thread.state, thread.handled);
/// }
/// ```
pub fn registry() -> &'static Registry {
    static GLOBAL: OnceLock<Registry> = OnceLock::new();
    GLOBAL.get_or_init(Registry::new)
}
