//! The one loop that drives every thread: `startup`, then `handle` for each message,
//! then `shutdown`; its end is [`ending`](crate::ending)'s.

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel as channel;

use crate::context::Context;
use crate::control::Control;
use crate::ending::{end, end_before_start, end_unstarted};
use crate::error::SpawnFailure;
use crate::family::Family;
use crate::handle::{Managed, Message, Shared};
use crate::ids::State;
use crate::lives::{drop_instance, live, shut_down, start_up, Life, Rebuild};
use crate::outcome::Outcome;
use crate::panics::panic_message;
use crate::queue::Inbox;
use crate::registry::Registry;
use crate::restart::Restart;
use crate::thread::BackgroundThread;
use crate::timing::{after, Timing};

/// What the new thread tells `spawn` once `startup` finished.
pub(crate) type Started<T> = Result<(), (SpawnFailure, T)>;

/// How the new thread starts: its time, where it answers `spawn`, and, when `spawn`
/// waits with a limit, the gate that decides whether `startup` finished in time.
pub(crate) struct Start<T> {
    pub(crate) timing: Timing,
    pub(crate) restart: Restart,
    /// How a restart makes a fresh value, when not with the type's factory.
    pub(crate) rebuild: Option<Rebuild<T>>,
    pub(crate) answer: channel::Sender<Started<T>>,
    pub(crate) gate: Arc<StartupGate>,
}

/// Decides, once, whether `startup` finished before `spawn` stopped waiting for it.
#[derive(Default)]
pub(crate) struct StartupGate(AtomicU8);

impl StartupGate {
    const OPEN: u8 = 0;
    const FINISHED: u8 = 1;
    const TIMED_OUT: u8 = 2;

    /// The thread: `startup` finished; `false` if `spawn` timed it out first.
    fn finish(&self) -> bool {
        self.0
            .compare_exchange(
                Self::OPEN,
                Self::FINISHED,
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .map_or_else(|now| now == Self::FINISHED, |_| true)
    }

    /// `spawn`: its wait ran out; `true` if `startup` had not finished by then.
    pub(crate) fn time_out(&self) -> bool {
        self.0
            .compare_exchange(
                Self::OPEN,
                Self::TIMED_OUT,
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_ok()
    }
}

/// Runs on the new thread, from `startup` to the published exit.
pub(crate) fn run<T: BackgroundThread>(
    mut thread: T,
    shared: &Arc<Shared<T>>,
    inbox: &Inbox<Message<T>>,
    registry: &Registry,
    start: Start<T>,
) {
    let Start {
        timing,
        restart,
        rebuild,
        answer: started,
        gate,
    } = start;
    let control = &*shared.control;
    control.bind_os_thread();
    crate::halt::set_current(Arc::clone(&control.halt));
    let me: Arc<dyn Managed> = Arc::clone(shared) as Arc<dyn Managed>;
    let ctx = Context::new(Arc::clone(&shared.control)).with_family(Family::of(&me, registry));
    drop(me);
    // A delayed start: `spawn` returns now, and `startup` runs after the delay, unless a
    // stop or halt comes first. Nobody waits for the startup then: its failure is told
    // by the exit (and remembered until joined).
    let started = match timing.delay() {
        Some(delay) => {
            let _ = started.send(Ok(()));
            drop(started);
            if let Some(outcome) = wait_for_start(control, delay) {
                if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(move || drop(thread))) {
                    let message = panic_message(payload);
                    tracing::error!(thread = control.name, id = control.id.as_u64(), %message, "drop panicked");
                }
                end_before_start(shared, inbox, registry, outcome);
                return;
            }
            None
        }
        None => Some(started),
    };
    tracing::debug!(thread = control.name, id = control.id.as_u64(), "starting");

    let failure = start_up_for_spawn(&mut thread, &ctx, &timing, &gate);
    if let Some(failure) = failure {
        end_unstarted(shared, inbox, registry, &failure, started.is_some());
        if let Some(started) = started {
            let _ = started.send(Err((failure, thread)));
        }
        return;
    }
    // A stop requested during startup has already moved the state to `Stopping`.
    control.transition(State::Starting, State::Running);
    tracing::info!(thread = control.name, id = control.id.as_u64(), "started");
    // Not kept for the thread's life: an idle thread holds no more memory than it must.
    if let Some(started) = started {
        let _ = started.send(Ok(()));
    }

    let mut handled = 0;
    let mut undelivered = Vec::new();
    let mut life = Life {
        ctx: &ctx,
        inbox,
        handled: &mut handled,
        undelivered: &mut undelivered,
        missed: timing.missed(),
        every: timing.every(),
        rebuild,
    };
    let (mut outcome, last) = live(thread, &mut life, restart);
    // A failed thread takes no more work; a stopped one has closed already.
    control.close_queue();
    control.mark_stopping();
    match outcome {
        Outcome::Stopped | Outcome::DeadlineReached => {}
        Outcome::Halted => {
            tracing::warn!(thread = control.name, id = control.id.as_u64(), "halted");
        }
        _ => {
            tracing::error!(thread = control.name, id = control.id.as_u64(), %outcome, "handle ended the thread");
        }
    }

    // A halted thread still cleans up: checkpoints in `shutdown` do not unwind. (A
    // restart whose `startup` failed left no instance to clean up.)
    if let Some(mut thread) = last {
        if let Some(message) = shut_down(&mut thread, &ctx) {
            if outcome.is_clean() {
                outcome = Outcome::Panicked {
                    message: format!("in shutdown: {message}"),
                };
            }
        }
        // The thread's resources are released before anyone learns it ended.
        drop_instance(thread, control);
    }

    end(shared, inbox, registry, outcome, handled, undelivered);
}

/// Runs `startup` for `spawn`: how it failed, if it did. One that `spawn` stopped
/// waiting for has timed out, however it ended; if it finished without seeing the halt,
/// it started, so `shutdown` runs before the value goes back.
fn start_up_for_spawn<T: BackgroundThread>(
    thread: &mut T,
    ctx: &Context,
    timing: &Timing,
    gate: &StartupGate,
) -> Option<SpawnFailure> {
    let failure = start_up(thread, ctx);
    if gate.finish() {
        return failure;
    }
    if failure.is_none() {
        shut_down(thread, ctx);
    }
    Some(timed_out(timing))
}

/// The failure of a startup that `spawn` stopped waiting for.
fn timed_out(timing: &Timing) -> SpawnFailure {
    SpawnFailure::StartupTimedOut {
        limit: timing.startup_timeout().unwrap_or_default(),
    }
}

/// Waits out a start delay: `None` once it has passed, or how the thread ends if a stop
/// or halt came first, or the deadline (a deadline shorter than the delay ends the
/// thread before it starts).
fn wait_for_start(control: &Control, delay: Duration) -> Option<Outcome> {
    let start = after(Instant::now(), delay);
    let until = control.deadline().map_or(start, |end| end.min(start));
    let interrupted = control.is_closed()
        || control
            .interrupt()
            .recv_timeout(until.saturating_duration_since(Instant::now()))
            .is_ok();
    if !interrupted && !control.is_closed() && !control.check_deadline(Instant::now()) {
        return None;
    }
    Some(if control.halt.is_halted() {
        Outcome::Halted
    } else if control.deadline_reached() {
        Outcome::DeadlineReached
    } else {
        Outcome::StoppedBeforeStart
    })
}
