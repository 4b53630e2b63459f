//! The exit slot of a thread's [`Control`]: the report once published, the hooks and
//! tasks that wait for it, and the joins that wait on it.

use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use super::{Control, ExitHook};
use crate::outcome::ExitReport;
use crate::panics::panic_message;

/// The exit slot: the report once published; until then, who wants to know.
#[derive(Default)]
pub(super) struct Exit {
    report: Option<ExitReport>,
    /// Set when the OS thread has nothing left to run but its thread-local destructors
    /// (or never started): a bounded join waits for it, not for the OS thread itself.
    finished: bool,
    hooks: Vec<ExitHook>,
    /// Tasks awaiting the exit (`join_async`), each under the key its future holds.
    wakers: Vec<(u64, std::task::Waker)>,
    #[cfg(feature = "async")]
    next_key: u64,
}

impl Control {
    /// Waits for this OS thread to exit, once its exit was published: only thread-local
    /// destructors are left to run by then. A concurrent joiner that finds the handle
    /// taken returns at once.
    pub(super) fn join_own_os_thread(&self) {
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

    /// Waits at most `timeout` for the thread to publish its exit and finish running
    /// (its exit hooks and watchers included), then for its OS thread, which has only
    /// thread-local destructors left by then.
    pub(crate) fn wait_exit_timeout(&self, timeout: Duration) -> Option<ExitReport> {
        let until = std::time::Instant::now().checked_add(timeout);
        let exit = self.exit.lock().unwrap_or_else(PoisonError::into_inner);
        let (exit, _) = self
            .exited
            .wait_timeout_while(exit, timeout, |exit| {
                exit.report.is_none() || !exit.finished
            })
            .unwrap_or_else(PoisonError::into_inner);
        let report = exit.report.clone().filter(|_| exit.finished);
        drop(exit);
        // A pool's workers published first; their OS threads may still be finishing.
        if report.is_some() && self.workers_finished(until) {
            self.join_os_thread();
            return report;
        }
        None
    }

    /// Waits at most `timeout` for the thread to publish its exit (its `shutdown` has
    /// run by then), not for its exit hooks.
    pub(crate) fn wait_published_timeout(&self, timeout: Duration) -> Option<ExitReport> {
        let exit = self.exit.lock().unwrap_or_else(PoisonError::into_inner);
        let (exit, _) = self
            .exited
            .wait_timeout_while(exit, timeout, |exit| exit.report.is_none())
            .unwrap_or_else(PoisonError::into_inner);
        exit.report.clone()
    }

    /// The OS thread has nothing left to run for the thread (or never started).
    pub(crate) fn mark_finished(&self) {
        self.exit
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .finished = true;
        self.exited.notify_all();
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
