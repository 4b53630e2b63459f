//! The state a thread shares with its handles, its context and the registry: its
//! lifecycle state, the stop and halt requests with their hooks, and the exit slot that
//! joiners wait on.

use std::sync::{Arc, Condvar, Mutex as StdMutex, OnceLock, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use crossbeam_channel as channel;

use crate::halt::HaltState;
use crate::ids::{State, ThreadId};
use crate::outcome::{ExitReport, Outcome};
use crate::panics::{describe, panic_message};
use crate::queue::Closable;
use crate::source::{OpenSource, SourceInfo, SourceReport};
use crate::sync::{AtomicU64, AtomicU8, Mutex, Ordering};
use crate::timing::after;

/// Runs once when a stop or halt is first requested.
pub(crate) type StopHook = Box<dyn FnOnce() + Send>;

/// Runs once when the thread has ended, with its report.
pub(crate) type ExitHook = Box<dyn FnOnce(&ExitReport) + Send>;

/// Per-thread state that does not depend on the thread's type.
pub(crate) struct Control {
    pub(crate) name: &'static str,
    pub(crate) type_name: &'static str,
    pub(crate) id: ThreadId,
    /// The thread's queue, closed by a stop.
    queue: Arc<dyn Closable>,
    state: AtomicU8,
    /// Written by the thread alone (a plain store per task), read by observers. Senders
    /// write the queue, a separate allocation, so this shares no cache line with them.
    handled: AtomicU64,
    pub(crate) started_at: SystemTime,
    pub(crate) started: Instant,
    pub(crate) halt: Arc<HaltState>,
    /// What observers read beyond the counts (see `observed`).
    observed: observed::Observed,
    /// When a stop (or halt) was first requested.
    stop_requested: OnceLock<Instant>,
    /// Holds a token once a stop or halt was requested, to cut interruptible waits short.
    /// Made by the first interruptible wait or the first request, whichever comes first,
    /// so that a thread that never waits so holds no channel while it runs.
    interrupt: OnceLock<(channel::Sender<()>, channel::Receiver<()>)>,
    /// `None` once the hooks were taken: later ones run at once.
    on_stop: Mutex<Option<Vec<StopHook>>>,
    os_thread: OnceLock<std::thread::ThreadId>,
    /// Taken by the first join, which waits for the OS thread to exit.
    join_handle: StdMutex<Option<std::thread::JoinHandle<()>>>,
    exit: StdMutex<exit::Exit>,
    exited: Condvar,
    /// Whether somebody was handed the exit (a join, or `spawn`'s error); shared with
    /// the registry, which remembers unclean exits until they are taken.
    exit_taken: Arc<std::sync::atomic::AtomicBool>,
    /// The period of the thread's ticks in nanoseconds; 0 for a thread without ticks.
    /// Set by `spawn`, changed by `Context::set_every`, read by the run loop.
    every: std::sync::atomic::AtomicU64,
    /// When the thread's `deadline` stops it, if it has one.
    deadline: Option<Instant>,
    /// Whether the deadline's stop was the first stop requested.
    deadline_reached: std::sync::atomic::AtomicBool,
    /// How many times a failed instance was replaced by a fresh value.
    restarts: std::sync::atomic::AtomicU32,
    /// What ended the last instance that was replaced.
    last_failure: StdMutex<Option<String>>,
    /// The thread this one is a child of.
    parent: Option<ThreadId>,
    /// The children tied to this thread, in start order.
    children: StdMutex<Vec<family::ChildLink>>,
    /// A pool's workers, or the pool a worker serves.
    crew: crew::CrewSlot,
    /// Where the thread's tasks come from besides its queue, if anywhere; and whether
    /// it was closed.
    source: OnceLock<Arc<dyn OpenSource>>,
    source_closed: std::sync::atomic::AtomicBool,
}

mod crew;
mod exit;
mod family;
mod observed;

pub(crate) use family::ChildLink;
pub(crate) use observed::Idleness;

impl Control {
    pub(crate) fn new(
        name: &'static str,
        type_name: &'static str,
        queue: Arc<dyn Closable>,
        deadline: Option<Duration>,
    ) -> Self {
        let started = Instant::now();
        Self {
            name,
            type_name,
            id: ThreadId::next(),
            queue,
            state: AtomicU8::new(State::Starting as u8),
            handled: AtomicU64::new(0),
            started_at: SystemTime::now(),
            started,
            halt: Arc::new(HaltState::new(started)),
            observed: observed::Observed::default(),
            stop_requested: OnceLock::new(),
            interrupt: OnceLock::new(),
            on_stop: Mutex::new(Some(Vec::new())),
            os_thread: OnceLock::new(),
            join_handle: StdMutex::new(None),
            exit: StdMutex::new(exit::Exit::default()),
            exited: Condvar::new(),
            exit_taken: Arc::default(),
            every: std::sync::atomic::AtomicU64::new(0),
            deadline: deadline.map(|deadline| after(started, deadline)),
            deadline_reached: std::sync::atomic::AtomicBool::new(false),
            restarts: std::sync::atomic::AtomicU32::new(0),
            last_failure: StdMutex::new(None),
            parent: None,
            children: StdMutex::new(Vec::new()),
            crew: crew::CrewSlot::new(),
            source: OnceLock::new(),
            source_closed: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// The same, as a child of `parent`.
    pub(crate) fn with_parent(self, parent: Option<ThreadId>) -> Self {
        Self { parent, ..self }
    }

    /// Records what ended the instance that is being replaced (its `Display`
    /// guarded: a panic there must not keep the thread from restarting or ending).
    pub(crate) fn note_failure(&self, failure: &Outcome) {
        // The step that failed is over: it blocks nothing any more.
        self.no_step_hooked();
        let described = describe(failure);
        *self
            .last_failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(described);
    }

    /// Counts a replacement by a fresh value.
    pub(crate) fn count_restart(&self) {
        self.restarts
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// Drops the `on_stop` hooks a replaced instance registered (unless a stop already
    /// ran them): the fresh one registers its own.
    pub(crate) fn forget_stop_hooks(&self) {
        let hooks = self
            .on_stop
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_mut()
            .map(std::mem::take);
        if let Err(payload) =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(hooks)))
        {
            let message = panic_message(payload);
            tracing::error!(thread = self.name, id = self.id.as_u64(), %message, "dropping an on_stop hook panicked");
        }
    }

    /// How many times this thread itself was restarted.
    fn own_restarts(&self) -> u32 {
        self.restarts.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// What ended this thread's last instance that was replaced.
    fn own_last_failure(&self) -> Option<String> {
        self.last_failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// When the thread's deadline stops it, if it has one.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Stops the thread if its deadline has passed at `now` (noting the deadline as
    /// the reason, unless a stop came first); whether it has.
    pub(crate) fn check_deadline(&self, now: Instant) -> bool {
        if !self.deadline.is_some_and(|deadline| now >= deadline) {
            return false;
        }
        if self.stop_requested.set(now).is_ok() {
            self.deadline_reached
                .store(true, std::sync::atomic::Ordering::Release);
        }
        if !self.queue.is_closed() {
            self.request_stop();
        }
        true
    }

    /// Whether the thread's deadline stopped it (before any other stop was requested).
    pub(crate) fn deadline_reached(&self) -> bool {
        self.deadline_reached
            .load(std::sync::atomic::Ordering::Acquire)
    }

    /// The period of the thread's ticks in nanoseconds, 0 for a thread without ticks
    /// (see `timing::period`).
    #[inline]
    pub(crate) fn every_nanos(&self) -> u64 {
        self.every.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Sets the period of the thread's ticks (not zero); `spawn` sets the declared one.
    pub(crate) fn set_every(&self, every: Duration) {
        let nanos = u64::try_from(every.as_nanos()).unwrap_or(u64::MAX).max(1);
        self.every
            .store(nanos, std::sync::atomic::Ordering::Relaxed);
    }

    pub(crate) fn state(&self) -> State {
        State::from_u8(self.state.load(Ordering::Acquire))
    }

    pub(crate) fn set_state(&self, state: State) {
        self.state.store(state as u8, Ordering::Release);
    }

    /// Moves from `from` to `to` if the thread is in `from`.
    pub(crate) fn transition(&self, from: State, to: State) -> bool {
        self.state
            .compare_exchange(from as u8, to as u8, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// Marks the thread as stopping if it is starting or running.
    pub(crate) fn mark_stopping(&self) {
        // `Starting` first: states only move forward, so if the thread left `Starting`
        // meanwhile, the second try sees where it went. (The other order can miss a
        // `Starting → Running` that falls between the two tries; loom found it.)
        let _ = self.transition(State::Starting, State::Stopping)
            || self.transition(State::Running, State::Stopping);
    }

    /// Whether the queue no longer accepts tasks (a stop or halt was requested, or the
    /// thread ended).
    pub(crate) fn is_closed(&self) -> bool {
        // (A thread fed from a source closes its queue a moment after the stop.)
        self.queue.is_closed() || self.stop_requested.get().is_some()
    }

    /// Closes the queue without a stop request: for a thread that ends by itself.
    pub(crate) fn close_queue(&self) {
        self.queue.close();
    }

    /// How many accepted tasks and calls wait in the queue (a pool's, counted on the
    /// pool: 0 on its workers).
    pub(crate) fn queue_depth(&self) -> usize {
        if self.is_worker() {
            return 0;
        }
        self.queue.len()
    }

    /// Closes the queue (which wakes the thread if it waits for work), marks the state
    /// and cuts interruptible waits short: of this thread alone. Never blocks and runs
    /// no user code: the hooks are [`run_stop_hooks`](Self::run_stop_hooks)'s business.
    fn signal_stop_alone(&self) {
        // Stamped first: the thread may end as soon as the queue is closed.
        let _ = self.stop_requested.set(Instant::now());
        match self.feeding_source() {
            // The source closes the queue once it delivered what it took before the
            // stop (`Feed::close`): handled, not given back.
            Some(source) => source.stop(),
            None => {
                self.queue.close();
            }
        }
        self.mark_stopping();
        let _ = self.interrupt_channel().0.try_send(());
    }

    /// The source that feeds this thread's queue: its own, or its pool's.
    fn feeding_source(&self) -> Option<Arc<dyn OpenSource>> {
        if let Some(source) = self.source.get() {
            return Some(Arc::clone(source));
        }
        let pool = self.pool()?;
        pool.source.get().map(Arc::clone)
    }

    /// Sets the halt flag, then signals a stop, of this thread alone. Never blocks.
    fn signal_halt_alone(&self) {
        if self.halt.halt() {
            tracing::warn!(thread = self.name, id = self.id.as_u64(), "halt requested");
        }
        // A second token makes sure an interruptible wait that consumed the stop's
        // token sees the halt too.
        let _ = self.interrupt_channel().0.try_send(());
        // A halt closes the queue at once: what a source took is given back.
        if let Some(source) = self.feeding_source() {
            source.halt();
        }
        self.queue.close();
        self.signal_stop_alone();
    }

    /// Feeds the thread from `source` too, for its whole life (set once, at spawn).
    pub(crate) fn set_source(&self, source: Arc<dyn OpenSource>) {
        let _ = self.source.set(source);
    }

    /// What the thread's source shows of itself, if it has one still open.
    pub(crate) fn source_info(&self) -> Option<SourceInfo> {
        let source = self.source.get()?;
        let closed = self
            .source_closed
            .load(std::sync::atomic::Ordering::Acquire);
        (!closed).then(|| source.info())
    }

    /// Closes the thread's source, once, when the thread has ended: what it did.
    pub(crate) fn close_source(&self) -> Option<SourceReport> {
        let source = self.source.get()?;
        let first = !self
            .source_closed
            .swap(true, std::sync::atomic::Ordering::AcqRel);
        first.then(|| source.close())
    }

    /// Runs this thread's `on_stop` hooks, once, here: later calls find none. A
    /// panicking hook is logged and does not keep the others from running.
    fn run_own_stop_hooks(&self) {
        let hooks = self
            .on_stop
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        for hook in hooks.into_iter().flatten() {
            if let Err(payload) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(hook)) {
                let message = panic_message(payload);
                tracing::error!(thread = self.name, id = self.id.as_u64(), %message, "on_stop hook panicked");
            }
        }
    }

    /// Whether this thread's `on_stop` hooks are registered and have not run yet.
    fn has_own_stop_hooks(&self) -> bool {
        self.on_stop
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .is_some_and(|hooks| !hooks.is_empty())
    }

    /// A stop request: signal it (the thread wakes at once), then run the hooks here.
    pub(crate) fn request_stop(&self) {
        self.signal_stop();
        self.run_stop_hooks();
    }

    /// A halt request: signal it, then run the hooks here.
    pub(crate) fn request_halt(&self) {
        self.signal_halt();
        self.run_stop_hooks();
    }

    /// Registers a hook for the first stop or halt request; runs it now if one came.
    pub(crate) fn on_stop(&self, hook: StopHook) {
        let mut hooks = self.on_stop.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(hooks) = hooks.as_mut() {
            hooks.push(hook);
        } else {
            drop(hooks);
            hook();
        }
    }

    /// The receiving end of the interrupt, for interruptible waits.
    pub(crate) fn interrupt(&self) -> &channel::Receiver<()> {
        &self.interrupt_channel().1
    }

    /// The interrupt channel, made on first use. A request and a wait racing to make it
    /// use the same one (the loser waits the moment the winner takes to make it), so a
    /// wait never misses a request's token.
    fn interrupt_channel(&self) -> &(channel::Sender<()>, channel::Receiver<()>) {
        self.interrupt.get_or_init(|| channel::bounded(1))
    }

    pub(crate) fn stop_requested(&self) -> Option<Instant> {
        self.stop_requested.get().copied()
    }

    fn own_handled(&self) -> u64 {
        self.handled.load(Ordering::Relaxed)
    }

    #[inline]
    pub(crate) fn set_handled(&self, handled: u64) {
        self.handled.store(handled, Ordering::Relaxed);
    }

    pub(crate) fn bind_os_thread(&self) {
        let _ = self.os_thread.set(std::thread::current().id());
    }

    /// Whether the caller runs on this thread itself.
    fn is_own_thread(&self) -> bool {
        self.os_thread.get() == Some(&std::thread::current().id())
    }

    pub(crate) fn set_join_handle(&self, handle: std::thread::JoinHandle<()>) {
        *self
            .join_handle
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(handle);
    }

    /// Takes the OS thread's handle, if no joiner took it.
    pub(crate) fn take_join_handle(&self) -> Option<std::thread::JoinHandle<()>> {
        self.join_handle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }
}

impl std::fmt::Debug for Control {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Control")
            .field("name", &self.name)
            .field("id", &self.id)
            .field("state", &self.state())
            .finish_non_exhaustive()
    }
}
