//! The state a thread shares with its handles, its context and the registry: its
//! lifecycle state, the stop and halt requests with their hooks, and the exit slot that
//! joiners wait on.

use std::sync::{Arc, Condvar, Mutex as StdMutex, OnceLock, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use crossbeam_channel as channel;

use crate::halt::HaltState;
use crate::ids::{State, ThreadId};
use crate::outcome::ExitReport;
use crate::panics::panic_message;
use crate::queue::Closable;
use crate::stamp::Stamp;
use crate::sync::{AtomicU64, AtomicU8, Mutex, Ordering};

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
    /// When the thread last woke from an idle wait for work.
    woken: Stamp,
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
    exit: StdMutex<Exit>,
    exited: Condvar,
    /// Whether somebody was handed the exit (a join, or `spawn`'s error); shared with
    /// the registry, which remembers unclean exits until they are taken.
    exit_taken: Arc<std::sync::atomic::AtomicBool>,
    /// The period of the thread's ticks in nanoseconds; 0 for a thread without ticks.
    /// Set by `spawn`, changed by `Context::set_every`, read by the run loop.
    every: std::sync::atomic::AtomicU64,
}

/// The exit slot: the report once published; until then, who wants to know.
#[derive(Default)]
struct Exit {
    report: Option<ExitReport>,
    hooks: Vec<ExitHook>,
    /// Tasks awaiting the exit (`join_async`), each under the key its future holds.
    wakers: Vec<(u64, std::task::Waker)>,
    #[cfg(feature = "async")]
    next_key: u64,
}

impl Control {
    pub(crate) fn new(
        name: &'static str,
        type_name: &'static str,
        queue: Arc<dyn Closable>,
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
            woken: Stamp::default(),
            stop_requested: OnceLock::new(),
            interrupt: OnceLock::new(),
            on_stop: Mutex::new(Some(Vec::new())),
            os_thread: OnceLock::new(),
            join_handle: StdMutex::new(None),
            exit: StdMutex::new(Exit::default()),
            exited: Condvar::new(),
            exit_taken: Arc::default(),
            every: std::sync::atomic::AtomicU64::new(0),
        }
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
        self.queue.is_closed()
    }

    /// Closes the queue without a stop request: for a thread that ends by itself.
    pub(crate) fn close_queue(&self) {
        self.queue.close();
    }

    /// How many accepted tasks and calls wait in the queue.
    pub(crate) fn queue_depth(&self) -> usize {
        self.queue.len()
    }

    /// Closes the queue (which wakes the thread if it waits for work), marks the state
    /// and cuts interruptible waits short. Never blocks and runs no user code: the
    /// hooks are [`run_stop_hooks`](Self::run_stop_hooks)'s business.
    pub(crate) fn signal_stop(&self) {
        // Stamped first: the thread may end as soon as the queue is closed.
        let _ = self.stop_requested.set(Instant::now());
        self.queue.close();
        self.mark_stopping();
        let _ = self.interrupt_channel().0.try_send(());
    }

    /// Sets the halt flag, then signals a stop. Never blocks.
    pub(crate) fn signal_halt(&self) {
        if self.halt.halt() {
            tracing::warn!(thread = self.name, id = self.id.as_u64(), "halt requested");
        }
        // A second token makes sure an interruptible wait that consumed the stop's
        // token sees the halt too.
        let _ = self.interrupt_channel().0.try_send(());
        self.signal_stop();
    }

    /// Runs the `on_stop` hooks, once, here: later calls find none. A panicking hook
    /// is logged and does not keep the others from running.
    pub(crate) fn run_stop_hooks(&self) {
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

    /// Whether `on_stop` hooks are registered and have not run yet.
    pub(crate) fn has_stop_hooks(&self) -> bool {
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

    pub(crate) fn mark_woken(&self) {
        self.woken.mark(self.started);
    }

    /// How long ago the thread last woke from an idle wait for work.
    pub(crate) fn last_woken_ago(&self) -> Option<Duration> {
        self.woken.ago(self.started)
    }

    pub(crate) fn stop_requested(&self) -> Option<Instant> {
        self.stop_requested.get().copied()
    }

    pub(crate) fn handled(&self) -> u64 {
        self.handled.load(Ordering::Relaxed)
    }

    #[inline]
    pub(crate) fn set_handled(&self, handled: u64) {
        self.handled.store(handled, Ordering::Relaxed);
    }

    pub(crate) fn bind_os_thread(&self) {
        let _ = self.os_thread.set(std::thread::current().id());
    }

    /// Whether the caller runs on this thread.
    pub(crate) fn is_current(&self) -> bool {
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

    /// Waits for the OS thread to exit, once its exit was published: only thread-local
    /// destructors are left to run by then. A concurrent joiner that finds the handle
    /// taken returns at once.
    fn join_os_thread(&self) {
        if let Some(handle) = self.take_join_handle() {
            // The run loop catches every panic, so the OS thread's result carries none
            // worth handing on.
            let _ = handle.join();
        }
    }

    /// Publishes how the thread ended, wakes every joiner and runs the exit hooks.
    pub(crate) fn publish_exit(&self, report: ExitReport) {
        let mut exit = self.exit.lock().unwrap_or_else(PoisonError::into_inner);
        let hooks = std::mem::take(&mut exit.hooks);
        let wakers = std::mem::take(&mut exit.wakers);
        let for_hooks = (!hooks.is_empty()).then(|| report.clone());
        exit.report = Some(report);
        drop(exit);
        self.exited.notify_all();
        for (_, waker) in wakers {
            waker.wake();
        }
        for (hook, report) in hooks.into_iter().zip(for_hooks.iter().cycle()) {
            run_exit_hook(self, hook, report);
        }
    }

    /// Registers `hook` to run once the thread has ended (on the ending thread), or runs
    /// it now if it has.
    pub(crate) fn on_exit(&self, hook: ExitHook) {
        let mut exit = self.exit.lock().unwrap_or_else(PoisonError::into_inner);
        match exit.report.clone() {
            Some(report) => {
                drop(exit);
                run_exit_hook(self, hook, &report);
            }
            None => exit.hooks.push(hook),
        }
    }

    /// The published exit, if the thread has ended.
    pub(crate) fn exit_report(&self) -> Option<ExitReport> {
        self.exit
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .report
            .clone()
    }

    /// Records that somebody was handed the exit.
    pub(crate) fn mark_exit_taken(&self) {
        self.exit_taken.store(true, Ordering::Release);
    }

    /// Whether somebody was handed the exit.
    pub(crate) fn is_exit_taken(&self) -> bool {
        self.exit_taken.load(Ordering::Acquire)
    }

    /// The flag [`mark_exit_taken`](Self::mark_exit_taken) sets, for the registry.
    pub(crate) fn exit_taken_flag(&self) -> Arc<std::sync::atomic::AtomicBool> {
        Arc::clone(&self.exit_taken)
    }

    /// Waits until the thread published its exit and its OS thread exited.
    pub(crate) fn wait_exit(&self) -> ExitReport {
        // The exit is published before the OS thread exits, so whoever holds the handle
        // can wait on the OS thread alone: one wake-up instead of two.
        self.join_os_thread();
        let mut exit = self.exit.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(report) = exit.report.clone() {
                drop(exit);
                self.join_os_thread();
                return report;
            }
            exit = self
                .exited
                .wait(exit)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// The exit, once the thread published it; until then `None`, and `waker` is left
    /// under `key` (made on the first call) to be woken when it is published. The
    /// caller takes it back with [`forget_exit_waker`](Self::forget_exit_waker) if it
    /// stops waiting first.
    #[cfg(feature = "async")]
    pub(crate) fn poll_exit(
        &self,
        key: &mut Option<u64>,
        waker: &std::task::Waker,
    ) -> Option<ExitReport> {
        let mut exit = self.exit.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(report) = exit.report.clone() {
            *key = None; // the publication took every waker
            return Some(report);
        }
        let listed = key.and_then(|key| exit.wakers.iter_mut().find(|(k, _)| *k == key));
        if let Some((_, listed)) = listed {
            listed.clone_from(waker);
        } else {
            let new = exit.next_key;
            exit.next_key += 1;
            exit.wakers.push((new, waker.clone()));
            *key = Some(new);
        }
        None
    }

    /// Takes back the waker a dropped `join_async` left.
    #[cfg(feature = "async")]
    pub(crate) fn forget_exit_waker(&self, key: u64) {
        let mut exit = self.exit.lock().unwrap_or_else(PoisonError::into_inner);
        exit.wakers.retain(|(listed, _)| *listed != key);
    }

    /// How many `join_async` wakers are left.
    #[cfg(all(test, feature = "async"))]
    pub(crate) fn exit_wakers(&self) -> usize {
        self.exit
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .wakers
            .len()
    }

    /// Waits at most `timeout` for the thread to publish its exit.
    pub(crate) fn wait_exit_timeout(&self, timeout: Duration) -> Option<ExitReport> {
        let exit = self.exit.lock().unwrap_or_else(PoisonError::into_inner);
        let (exit, _) = self
            .exited
            .wait_timeout_while(exit, timeout, |exit| exit.report.is_none())
            .unwrap_or_else(PoisonError::into_inner);
        let report = exit.report.clone();
        drop(exit);
        if report.is_some() {
            self.join_os_thread();
        }
        report
    }
}

fn run_exit_hook(control: &Control, hook: ExitHook, report: &ExitReport) {
    if let Err(payload) =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || hook(report)))
    {
        let message = panic_message(payload);
        tracing::error!(thread = control.name, id = control.id.as_u64(), %message, "exit hook panicked");
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
