//! The state a thread shares with its handles, its context and the registry.

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Condvar, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use crossbeam_channel as channel;
use crossbeam_utils::CachePadded;

use crate::exit::ExitReport;
use crate::halt::HaltState;
use crate::queue::Gate;
use crate::registry::{State, ThreadId};

/// A moment in a thread's life, stored in one atomic: nanoseconds after the thread
/// started, plus one (0: never). Written with a relaxed store, so it is cheap enough for
/// checkpoints and wake-ups.
#[derive(Debug, Default)]
pub(crate) struct Stamp(AtomicU64);

impl Stamp {
    #[inline]
    pub(crate) fn mark(&self, started: Instant) {
        let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX - 1);
        self.0.store(nanos + 1, Ordering::Relaxed);
    }

    /// How long ago it was marked, if ever.
    pub(crate) fn ago(&self, started: Instant) -> Option<Duration> {
        let at = self.0.load(Ordering::Relaxed).checked_sub(1)?;
        Some(started.elapsed().saturating_sub(Duration::from_nanos(at)))
    }
}

/// Runs once when a stop or halt is first requested.
pub(crate) type StopHook = Box<dyn FnOnce() + Send>;

/// Per-thread state that does not depend on the thread's type.
pub(crate) struct Control {
    pub(crate) name: &'static str,
    pub(crate) type_name: &'static str,
    pub(crate) id: ThreadId,
    /// Written by every sender: on a cache line of its own, away from `handled`.
    pub(crate) gate: CachePadded<Gate>,
    state: AtomicU8,
    /// Written by the thread alone (a plain store per task), read by observers.
    handled: CachePadded<AtomicU64>,
    pub(crate) started_at: SystemTime,
    pub(crate) started: Instant,
    pub(crate) halt: HaltState,
    /// When the thread last woke from an idle wait for work.
    woken: Stamp,
    /// When a stop (or halt) was first requested.
    stop_requested: OnceLock<Instant>,
    /// Holds a token once a stop or halt was requested, to cut interruptible waits short.
    interrupt: (channel::Sender<()>, channel::Receiver<()>),
    /// `None` once the hooks ran: later ones run at once.
    on_stop: Mutex<Option<Vec<StopHook>>>,
    os_thread: OnceLock<std::thread::ThreadId>,
    /// Taken by the first join, which waits for the OS thread to exit.
    join_handle: Mutex<Option<std::thread::JoinHandle<()>>>,
    exit: Mutex<Option<ExitReport>>,
    exited: Condvar,
}

impl Control {
    pub(crate) fn new(name: &'static str, type_name: &'static str) -> Self {
        Self {
            name,
            type_name,
            id: ThreadId::next(),
            gate: CachePadded::new(Gate::default()),
            state: AtomicU8::new(State::Starting as u8),
            handled: CachePadded::new(AtomicU64::new(0)),
            started_at: SystemTime::now(),
            started: Instant::now(),
            halt: HaltState::default(),
            woken: Stamp::default(),
            stop_requested: OnceLock::new(),
            interrupt: channel::bounded(1),
            on_stop: Mutex::new(Some(Vec::new())),
            os_thread: OnceLock::new(),
            join_handle: Mutex::new(None),
            exit: Mutex::new(None),
            exited: Condvar::new(),
        }
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
        let _ = self.transition(State::Running, State::Stopping)
            || self.transition(State::Starting, State::Stopping);
    }

    /// Everything a stop request does that needs no typed queue: close the gate, mark
    /// the state, cut interruptible waits short, run the `on_stop` hooks (once, here,
    /// on the requesting side). The caller wakes the queue if it must.
    pub(crate) fn request_stop(&self) {
        self.gate.close();
        let _ = self.stop_requested.set(Instant::now());
        self.mark_stopping();
        let _ = self.interrupt.0.try_send(());
        let hooks = self
            .on_stop
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        for hook in hooks.into_iter().flatten() {
            // A panicking hook must not keep the others, or the stop, from happening.
            if let Err(payload) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(hook)) {
                let message = crate::run_loop::panic_message(payload);
                tracing::error!(thread = self.name, id = self.id.as_u64(), %message, "on_stop hook panicked");
            }
        }
    }

    /// Sets the halt flag, then requests a stop.
    pub(crate) fn request_halt(&self) {
        if self.halt.halt() {
            tracing::warn!(thread = self.name, id = self.id.as_u64(), "halt requested");
        }
        // A second token makes sure an interruptible wait that consumed the stop's
        // token sees the halt too.
        let _ = self.interrupt.0.try_send(());
        self.request_stop();
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

    pub(crate) fn interrupt(&self) -> &channel::Receiver<()> {
        &self.interrupt.1
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

    /// Waits for the OS thread to exit, once its exit was published: only thread-local
    /// destructors are left to run by then. A concurrent joiner that finds the handle
    /// taken returns at once.
    fn join_os_thread(&self) {
        let handle = self
            .join_handle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(handle) = handle {
            // The run loop catches every panic, so the OS thread's result carries none
            // worth handing on.
            let _ = handle.join();
        }
    }

    /// Publishes how the thread ended and wakes every joiner.
    pub(crate) fn publish_exit(&self, report: ExitReport) {
        let mut exit = self.exit.lock().unwrap_or_else(PoisonError::into_inner);
        *exit = Some(report);
        drop(exit);
        self.exited.notify_all();
    }

    /// Waits until the thread published its exit and its OS thread exited.
    pub(crate) fn wait_exit(&self) -> ExitReport {
        // The exit is published before the OS thread exits, so whoever holds the handle
        // can wait on the OS thread alone: one wake-up instead of two.
        self.join_os_thread();
        let mut exit = self.exit.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(report) = exit.as_ref() {
                let report = report.clone();
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

    /// Waits at most `timeout` for the thread to publish its exit.
    pub(crate) fn wait_exit_timeout(&self, timeout: Duration) -> Option<ExitReport> {
        let exit = self.exit.lock().unwrap_or_else(PoisonError::into_inner);
        let (exit, _) = self
            .exited
            .wait_timeout_while(exit, timeout, |exit| exit.is_none())
            .unwrap_or_else(PoisonError::into_inner);
        let report = exit.clone();
        drop(exit);
        if report.is_some() {
            self.join_os_thread();
        }
        report
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
