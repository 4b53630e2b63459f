//! The state a thread shares with its handles, its context and the registry.

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Condvar, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use crate::exit::ExitReport;
use crate::queue::Gate;
use crate::registry::{State, ThreadId};

/// Per-thread state that does not depend on the thread's type.
#[derive(Debug)]
pub(crate) struct Control {
    pub(crate) name: &'static str,
    pub(crate) type_name: &'static str,
    pub(crate) id: ThreadId,
    pub(crate) gate: Gate,
    state: AtomicU8,
    /// Written by the thread alone (a plain store per task), read by observers.
    handled: AtomicU64,
    pub(crate) started_at: SystemTime,
    pub(crate) started: Instant,
    os_thread: OnceLock<std::thread::ThreadId>,
    exit: Mutex<Option<ExitReport>>,
    exited: Condvar,
}

impl Control {
    pub(crate) fn new(name: &'static str, type_name: &'static str) -> Self {
        Self {
            name,
            type_name,
            id: ThreadId::next(),
            gate: Gate::default(),
            state: AtomicU8::new(State::Starting as u8),
            handled: AtomicU64::new(0),
            started_at: SystemTime::now(),
            started: Instant::now(),
            os_thread: OnceLock::new(),
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

    /// Publishes how the thread ended and wakes every joiner.
    pub(crate) fn publish_exit(&self, report: ExitReport) {
        let mut exit = self.exit.lock().unwrap_or_else(PoisonError::into_inner);
        *exit = Some(report);
        drop(exit);
        self.exited.notify_all();
    }

    /// Waits until the thread published its exit.
    pub(crate) fn wait_exit(&self) -> ExitReport {
        let mut exit = self.exit.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(report) = exit.as_ref() {
                return report.clone();
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
        exit.clone()
    }
}
