//! How the manager fills its slots: the spawns in flight, which `stop` and `join` wait
//! for, and the exit hooks that free a slot and wake the watch.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crossbeam_channel as channel;

use super::pending::Pending;
use crate::closure::ClosureThread;
use crate::handle::AnyHandle;
use crate::handle::Handle;
use crate::ids::ThreadId;
use crate::outcome::ExitReport;
use crate::registry::Registry;

pub(super) struct Inner {
    pub(super) limit: usize,
    pub(super) registry: Registry,
    pub(super) state: Mutex<State>,
    /// Notified when a spawn in flight finishes, for `join`.
    pub(super) launched: Condvar,
    /// Tells the watch that a slot freed or a thread was pushed; one token is enough.
    pub(super) wake: (channel::Sender<()>, channel::Receiver<()>),
}

#[derive(Default)]
pub(super) struct State {
    pub(super) pending: VecDeque<Pending>,
    /// Slots taken: threads being spawned or alive.
    pub(super) running: usize,
    /// Spawns in flight: `stop` and `join` wait for them, so that they see every
    /// thread started and every value set aside.
    pub(super) launching: usize,
    /// The threads of spawns in flight, from when they are in the registry: `stop` and
    /// `halt` reach them during their `startup`.
    pub(super) in_flight: Vec<AnyHandle>,
    /// Every thread it started and has not joined.
    pub(super) started: Vec<AnyHandle>,
    /// Reports a `join` took but did not return (it timed out): the next one does.
    pub(super) reports: Vec<ExitReport>,
    /// Values whose spawn failed: not retried, handed back by `stop`.
    pub(super) failed: Vec<Pending>,
    pub(super) watch: Option<Handle<ClosureThread>>,
    pub(super) ended: Option<Ending>,
}

#[derive(Clone, Copy)]
pub(super) enum Ending {
    Stop,
    Halt,
}

impl Ending {
    pub(super) fn apply(self, handle: &AnyHandle) {
        match self {
            Self::Stop => handle.stop(),
            Self::Halt => handle.halt(),
        }
    }
}

impl Inner {
    pub(super) fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn wake(&self) {
        let _ = self.wake.0.try_send(());
    }

    /// A spawn in flight finished (its thread listed as started, or set aside).
    fn launch_ended(&self, mut state: MutexGuard<'_, State>, thread: Option<ThreadId>) {
        state.launching -= 1;
        if let Some(thread) = thread {
            state.in_flight.retain(|handle| handle.id() != thread);
        }
        drop(state);
        self.launched.notify_all();
    }

    /// Waits until every spawn in flight has finished, but the caller's own (when
    /// called from a `startup` the manager runs, which cannot be waited for), until
    /// `deadline`; the state then, or (`Err`) when the time ran out.
    pub(super) fn wait_launches(
        &self,
        deadline: Option<Instant>,
    ) -> Result<MutexGuard<'_, State>, MutexGuard<'_, State>> {
        let mut state = self.state();
        loop {
            let own = state
                .in_flight
                .iter()
                .filter(|handle| handle.control().is_current())
                .count();
            if state.launching <= own {
                return Ok(state);
            }
            let left = match deadline {
                Some(deadline) => deadline.saturating_duration_since(Instant::now()),
                None => Duration::MAX,
            };
            if left.is_zero() {
                return Err(state);
            }
            state = self
                .launched
                .wait_timeout(state, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
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
pub(super) fn fill(inner: &Arc<Inner>) -> usize {
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
        let mut thread = None;
        let mut registered = |handle: AnyHandle| {
            thread = Some(handle.id());
            let ending = {
                let mut state = inner.state();
                state.in_flight.push(handle.clone());
                state.ended
            };
            // Stopped before it was listed: its `startup` is stopped too.
            if let Some(ending) = ending {
                ending.apply(&handle);
            }
        };
        let launched = next.value.launch(&inner.registry, &mut registered);
        let handle = match launched {
            Ok(handle) => handle,
            Err(failed) => {
                if let Some(failure) = &failed.failure {
                    tracing::error!(thread = failed.name, %failure, "the manager could not start a thread");
                }
                let mut state = inner.state();
                state.running -= 1;
                // Handed back by `stop`, with its failure.
                state.failed.push(failed);
                inner.launch_ended(state, thread);
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
            inner.launch_ended(state, thread);
            ending
        };
        // Stopped meanwhile: the new thread follows the others.
        if let Some(ending) = ending {
            ending.apply(&handle);
        }
    }
    started
}
