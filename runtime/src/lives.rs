//! The lives of a thread: its instance is served until it ends, and, for a thread
//! declared with `restart`, a failed instance is shut down and replaced by a fresh value
//! from the type's factory, which runs `startup` and serves the same queue.

use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::context::Context;
use crate::control::Control;
use crate::error::SpawnFailure;
use crate::feed::Source;
use crate::halt::Halted;
use crate::handle::Message;
use crate::outcome::Outcome;
use crate::panics::{describe, panic_message};
use crate::queue::Inbox;
use crate::restart::{Restart, Restarts};
use crate::serve::{serve, Served};
use crate::thread::BackgroundThread;
use crate::timing::{after, MissedTicks};

/// How a fresh value is made for a restart: the type's factory unless the thread was
/// made otherwise (a pool's `make`, or the settings it was created with).
pub(crate) type Rebuild<T> = std::sync::Arc<dyn Fn() -> Option<T> + Send + Sync>;

/// How a thread is made besides its declaration: how a restart (or a pool's other
/// workers) makes fresh values, when not with the type's factory; and the source its
/// tasks come from besides its queue, if any.
pub(crate) struct Making<T: BackgroundThread> {
    pub(crate) rebuild: Option<Rebuild<T>>,
    pub(crate) source: Option<Box<dyn Source<T::Task>>>,
}

/// What the lives of a thread work on: its context, queue, counts and time.
pub(crate) struct Life<'a, T: BackgroundThread> {
    pub(crate) ctx: &'a Context,
    pub(crate) inbox: &'a Inbox<Message<T>>,
    pub(crate) handled: &'a mut u64,
    pub(crate) undelivered: &'a mut Vec<T::Task>,
    pub(crate) missed: MissedTicks,
    /// The declared period: a fresh value ticks at it again.
    pub(crate) every: Option<Duration>,
    /// Makes the fresh value; `None` for the type's factory.
    pub(crate) rebuild: Option<Rebuild<T>>,
}

/// Serves `thread`, and its replacements, until the thread ends for good: how it ended,
/// and the last instance if it started (its `shutdown` is still to run).
pub(crate) fn live<T: BackgroundThread>(
    thread: T,
    life: &mut Life<'_, T>,
    restart: Restart,
) -> (Outcome, Option<T>) {
    let control = life.ctx.control();
    let mut thread = thread;
    let mut restarts = Restarts::new(restart, control.id.as_u64());
    loop {
        let outcome = serve_one(&mut thread, life);
        // A halted thread is not restarted; a stopping one is, to drain its queue.
        if !outcome.is_failure() || control.halt.is_halted() {
            return (outcome, Some(thread));
        }
        let Some(backoff) = restarts.after_failure(Instant::now()) else {
            if restart != Restart::NEVER {
                tracing::error!(thread = control.name, id = control.id.as_u64(), %outcome, restarts = control.restarts(), "restarted too often: giving up");
            }
            return (outcome, Some(thread));
        };
        // The failed instance cleans up and goes; the task it failed on is not retried.
        // (A panic in it is logged; the thread is restarted all the same.)
        let _ = shut_down(&mut thread, life.ctx);
        drop_instance(thread, control);
        match replace(life, &mut restarts, outcome, backoff) {
            Ok(fresh) => thread = fresh,
            Err(ended) => return (ended, None),
        }
    }
}

/// Replaces a failed instance: waits out the backoff, builds a fresh value and runs its
/// `startup` (again after a backoff if that fails too, while the intensity allows);
/// how the thread ends if it cannot be replaced.
fn replace<T: BackgroundThread>(
    life: &Life<'_, T>,
    restarts: &mut Restarts,
    mut failure: Outcome,
    mut backoff: Duration,
) -> Result<T, Outcome> {
    let ctx = life.ctx;
    let control = ctx.control();
    loop {
        control.note_failure(&failure);
        tracing::warn!(thread = control.name, id = control.id.as_u64(), outcome = %failure, ?backoff, "restarting");
        wait_backoff(control, backoff);
        // A halt ends the thread, its queue returned.
        if control.halt.is_halted() {
            return Err(Outcome::Halted);
        }
        restarts.started(Instant::now());
        failure = match build_and_start::<T>(life) {
            Ok(fresh) => {
                tracing::info!(
                    thread = control.name,
                    id = control.id.as_u64(),
                    restarts = control.restarts(),
                    "restarted"
                );
                return Ok(fresh);
            }
            Err(failure) => failure,
        };
        if matches!(failure, Outcome::Halted) {
            return Err(failure);
        }
        let Some(next) = restarts.after_failure(Instant::now()) else {
            tracing::error!(thread = control.name, id = control.id.as_u64(), outcome = %failure, restarts = control.restarts(), "restarted too often: giving up");
            return Err(failure);
        };
        backoff = next;
    }
}

/// Waits out a backoff, unless a stop (the fresh value still drains the queue) or a
/// halt cuts it short, or the deadline comes first (which stops the thread).
fn wait_backoff(control: &Control, backoff: Duration) {
    let until = after(Instant::now(), backoff);
    let wake = control.deadline().map_or(until, |end| end.min(until));
    if !control.is_closed() {
        control.backing_off(true);
        let _ = control
            .interrupt()
            .recv_timeout(wake.saturating_duration_since(Instant::now()));
        control.backing_off(false);
    }
    control.check_deadline(Instant::now());
}

/// A fresh value from the factory, with the declared period, started: or how that
/// failed.
fn build_and_start<T: BackgroundThread>(life: &Life<'_, T>) -> Result<T, Outcome> {
    let (ctx, control) = (life.ctx, life.ctx.control());
    let mut fresh =
        make_fresh(life.rebuild.as_ref()).map_err(|message| Outcome::StartupFailed { message })?;
    control.count_restart();
    // The fresh value starts as declared: not with the hooks or period of the one it
    // replaces.
    control.forget_stop_hooks();
    if let Some(every) = life.every {
        control.set_every(every);
    }
    control.halt.rearm();
    match start_up(&mut fresh, ctx) {
        None => Ok(fresh),
        Some(failure) => {
            drop_instance(fresh, control);
            Err(outcome_of(&failure))
        }
    }
}

/// A fresh value: from `rebuild`, or the type's factory; what went wrong if there is
/// none (the type has no factory) or it panicked.
pub(crate) fn make_fresh<T: BackgroundThread>(rebuild: Option<&Rebuild<T>>) -> Result<T, String> {
    let made = panic::catch_unwind(AssertUnwindSafe(|| match rebuild {
        Some(rebuild) => rebuild(),
        None => T::__rebuild(),
    }));
    match made {
        Ok(Some(fresh)) => Ok(fresh),
        Ok(None) => Err("the type has no factory to make a fresh value with".to_owned()),
        Err(payload) => Err(format!("the factory panicked: {}", panic_message(payload))),
    }
}

/// Runs `startup`: how it failed, if it did (then the children it tied to the thread
/// are stopped: no `shutdown` runs to see them go).
pub(crate) fn start_up<T: BackgroundThread>(thread: &mut T, ctx: &Context) -> Option<SpawnFailure> {
    ctx.control().starting_up();
    let failure = try_start_up(thread, ctx);
    ctx.control().no_step_hooked();
    if failure.is_some() {
        ctx.control().stop_children();
    }
    failure
}

fn try_start_up<T: BackgroundThread>(thread: &mut T, ctx: &Context) -> Option<SpawnFailure> {
    match panic::catch_unwind(AssertUnwindSafe(|| thread.startup(ctx))) {
        Ok(Ok(())) => None,
        // `try_checkpoint()?` passes the halt on as an error.
        Ok(Err(error)) if error.is::<Halted>() => Some(SpawnFailure::Halted),
        Ok(Err(error)) => Some(SpawnFailure::Startup(error)),
        Err(payload) if payload.is::<Halted>() => Some(SpawnFailure::Halted),
        Err(payload) => Some(SpawnFailure::StartupPanicked {
            message: panic_message(payload),
        }),
    }
}

/// How a thread whose start failed with `failure` ended.
pub(crate) fn outcome_of(failure: &SpawnFailure) -> Outcome {
    match failure {
        SpawnFailure::Halted => Outcome::Halted,
        SpawnFailure::Startup(error) => Outcome::StartupFailed {
            message: describe(error),
        },
        SpawnFailure::StartupPanicked { message } => Outcome::StartupFailed {
            message: format!("panicked: {message}"),
        },
        failure => Outcome::StartupFailed {
            message: describe(failure),
        },
    }
}

/// Serves one instance until it ends.
fn serve_one<T: BackgroundThread>(thread: &mut T, life: &mut Life<'_, T>) -> Outcome {
    let control = life.ctx.control();
    let served = panic::catch_unwind(AssertUnwindSafe(|| {
        serve(
            thread,
            life.ctx,
            life.inbox,
            control,
            life.handled,
            life.undelivered,
            life.missed,
        )
    }));
    // Its last step is over: `shutdown`, which may follow, is no step of it.
    control.no_step_hooked();
    match served {
        Ok(Ok(Served::Drained)) => Outcome::Stopped,
        Ok(Ok(Served::Deadline)) => Outcome::DeadlineReached,
        Ok(Ok(Served::Halted)) => Outcome::Halted,
        Ok(Err(error)) if error.is::<Halted>() => Outcome::Halted,
        Ok(Err(error)) => Outcome::Failed(Arc::from(error)),
        Err(payload) if payload.is::<Halted>() => Outcome::Halted,
        Err(payload) => Outcome::Panicked {
            message: panic_message(payload),
        },
    }
}

/// Runs `shutdown` (disarmed: checkpoints in it do not unwind); its panic's message,
/// if it panicked.
pub(crate) fn shut_down<T: BackgroundThread>(thread: &mut T, ctx: &Context) -> Option<String> {
    // Its children end first: `shutdown` may release what they use.
    ctx.control().stop_children();
    ctx.control().halt.disarm();
    let payload = panic::catch_unwind(AssertUnwindSafe(|| thread.shutdown(ctx))).err();
    // A child tied during `shutdown` does not outlive the instance either.
    ctx.control().stop_children();
    let message = panic_message(payload?);
    let control = ctx.control();
    tracing::error!(thread = control.name, id = control.id.as_u64(), %message, "shutdown panicked");
    Some(message)
}

/// Drops an instance; a panicking `Drop` is logged.
pub(crate) fn drop_instance<T>(thread: T, control: &Control) {
    if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(move || drop(thread))) {
        let message = panic_message(payload);
        tracing::error!(thread = control.name, id = control.id.as_u64(), %message, "drop panicked");
    }
}
