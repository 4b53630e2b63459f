//! The registry of running threads: what is running, finding a thread by name, stopping
//! them all, and an optional limit on how many may run.

use std::any::Any;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, SystemTime};

use crate::control::Control;
use crate::halt::LastCheckpoint;
use crate::handle::AnyHandle;

/// A thread's id: unique in the process, never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ThreadId(u64);

impl ThreadId {
    pub(crate) fn next() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        Self(NEXT.fetch_add(1, Ordering::Relaxed))
    }

    /// The id as a number.
    pub fn as_u64(self) -> u64 {
        self.0
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
    /// Ended after a stop.
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

/// A snapshot of one thread, as [`Registry::active`] and `Handle::info` give it.
///
/// With the `serde` feature it serialises as a flat record, times as numbers:
/// `started_at` in milliseconds since the Unix epoch, `last_woken` as milliseconds
/// ago, `last_checkpoint` as `{"file", "line", "ms_ago"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct ThreadInfo {
    /// The thread's name (also its OS thread name).
    pub name: &'static str,
    /// The thread's id.
    pub id: ThreadId,
    /// The Rust type of the thread.
    pub type_name: &'static str,
    /// Where it is in its lifecycle.
    pub state: State,
    /// How many tasks `handle` was called with.
    pub handled: u64,
    /// How many messages wait in its queue.
    pub queue_depth: usize,
    /// When it was spawned.
    #[cfg_attr(feature = "serde", serde(serialize_with = "serde_impls::unix_millis"))]
    pub started_at: SystemTime,
    /// How long ago it last woke from waiting for work (idle → busy), if it ever
    /// waited. A thread that is never idle keeps the time of its last idle wake-up.
    #[cfg_attr(feature = "serde", serde(serialize_with = "serde_impls::millis"))]
    pub last_woken: Option<Duration>,
    /// Where and how long ago it last passed a checkpoint, if ever.
    pub last_checkpoint: Option<LastCheckpoint>,
}

/// What the registry needs of a thread, whatever its type.
pub(crate) trait Managed: Send + Sync + 'static {
    fn control(&self) -> &Control;
    fn queue_depth(&self) -> usize;
    /// Closes the queue and wakes the thread; it drains and shuts down.
    fn stop(&self);
    /// Sets the halt flag and stops: the next checkpoint unwinds, queued tasks are
    /// returned.
    fn halt(&self);
    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync>;

    fn info(&self) -> ThreadInfo {
        let control = self.control();
        ThreadInfo {
            name: control.name,
            id: control.id,
            type_name: control.type_name,
            state: control.state(),
            handled: control.handled(),
            queue_depth: self.queue_depth(),
            started_at: control.started_at,
            last_woken: control.last_woken_ago(),
            last_checkpoint: control.halt.last_checkpoint(control.started),
        }
    }
}

/// A set of running threads.
///
/// Every thread is spawned into a registry: `spawn()` uses the process-wide one,
/// [`registry()`], and `spawn_in(&registry)` a registry of your own (for isolation in
/// tests, or for a subsystem with its own limit). A thread is in its registry from the
/// moment `spawn` is called until it ends; a thread whose `startup` fails never stays.
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

/// The threads, by id. Ids grow with every spawn, so the map's order is the start order
/// (a shutdown stops threads in reverse), and a thread that ends leaves in `O(log n)`.
type Threads = BTreeMap<ThreadId, Arc<dyn Managed>>;

#[derive(Default)]
struct Inner {
    threads: Mutex<Threads>,
    limit: Option<usize>,
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
                threads: Mutex::default(),
                limit: Some(limit),
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
            .values()
            .map(|thread| thread.info())
            .collect()
    }

    /// How many threads are in the registry.
    pub fn len(&self) -> usize {
        self.threads().len()
    }

    /// Whether no thread is in the registry.
    pub fn is_empty(&self) -> bool {
        self.threads().is_empty()
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
            .values()
            .find(|thread| thread.control().name == name)
            .map(|thread| AnyHandle::from_managed(Arc::clone(thread)))
    }

    /// The thread with this id, if it is in the registry.
    pub fn get(&self, id: ThreadId) -> Option<AnyHandle> {
        self.threads()
            .get(&id)
            .map(|thread| AnyHandle::from_managed(Arc::clone(thread)))
    }

    /// Handles to every thread in the registry, in start order.
    pub fn handles(&self) -> Vec<AnyHandle> {
        self.threads()
            .values()
            .map(|thread| AnyHandle::from_managed(Arc::clone(thread)))
            .collect()
    }

    /// Asks every thread to stop, the last-started first (running their `on_stop`
    /// hooks here). Does not wait for them to end: join the handles (or use
    /// [`AnyHandle::join_timeout`]) for that.
    pub fn stop_all(&self) {
        for thread in self.newest_first() {
            thread.stop();
        }
    }

    /// Halts every thread, the last-started first (see `Handle::halt`). Does not wait.
    pub fn halt_all(&self) {
        for thread in self.newest_first() {
            thread.halt();
        }
    }

    /// The threads, the last-started first, copied out so that they are stopped outside
    /// the lock (an ending thread removes itself from the registry).
    fn newest_first(&self) -> Vec<Arc<dyn Managed>> {
        self.threads().values().rev().cloned().collect()
    }

    /// Adds a thread unless the limit is reached; returns the limit if it is.
    pub(crate) fn insert(&self, thread: Arc<dyn Managed>) -> Result<(), usize> {
        let mut threads = self.threads();
        if let Some(limit) = self.inner.limit {
            if threads.len() >= limit {
                return Err(limit);
            }
        }
        threads.insert(thread.control().id, thread);
        Ok(())
    }

    pub(crate) fn remove(&self, id: ThreadId) {
        self.threads().remove(&id);
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

#[cfg(feature = "serde")]
mod serde_impls {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use serde::ser::SerializeStruct;
    use serde::{Serialize, Serializer};

    use crate::halt::LastCheckpoint;

    #[allow(clippy::trivially_copy_pass_by_ref)] // serde's `serialize_with` signature
    pub(super) fn unix_millis<S: Serializer>(at: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        let millis = at
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis();
        s.serialize_u64(u64::try_from(millis).unwrap_or(u64::MAX))
    }

    #[allow(clippy::ref_option)] // serde's `serialize_with` signature
    pub(super) fn millis<S: Serializer>(ago: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        ago.map(micros_as_millis).serialize(s)
    }

    /// Milliseconds with microsecond precision (`9.715`, not `9.715537999999999`).
    fn micros_as_millis(duration: Duration) -> f64 {
        // Exact below 2^52 µs (142 years).
        #[allow(clippy::cast_precision_loss)]
        let micros = duration.as_micros() as f64;
        micros / 1e3
    }

    impl Serialize for LastCheckpoint {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let mut record = s.serialize_struct("LastCheckpoint", 3)?;
            record.serialize_field("file", self.location.file())?;
            record.serialize_field("line", &self.location.line())?;
            record.serialize_field("ms_ago", &micros_as_millis(self.ago))?;
            record.end()
        }
    }
}
