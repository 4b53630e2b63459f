//! The one loop that drives every thread: `startup`, then `handle` for each task, then
//! `shutdown`, and the hand-over of the exit to whoever joins.

use std::any::Any;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Mutex};

use crossbeam_channel as channel;

use crate::context::Context;
use crate::control::Control;
use crate::error::{SpawnError, SpawnFailure};
use crate::exit::{ExitReport, Outcome};
use crate::halt::Halted;
use crate::handle::{Handle, Shared};
use crate::queue::{self, Inbox, Message};
use crate::registry::{Managed, Registry, State};
use crate::thread::{BackgroundThread, BoxError};

/// What the new thread tells `spawn` once `startup` finished.
type Started<T> = Result<(), (SpawnFailure, T)>;

/// Spawns `thread` into `registry` and returns once its `startup` has finished.
pub(crate) fn spawn_in<T: BackgroundThread>(
    thread: T,
    registry: &Registry,
) -> Result<Handle<T>, SpawnError<T>> {
    let fail = |failure, thread| {
        Err(SpawnError {
            name: T::NAME,
            failure,
            thread,
        })
    };
    let (outbox, inbox) = queue::queue::<T>(T::CAPACITY);
    let control = Arc::new(Control::new(T::NAME, std::any::type_name::<T>()));
    let shared = Arc::new(Shared {
        control: Arc::clone(&control),
        outbox,
        undelivered: Mutex::new(None),
    });
    if let Err(limit) = registry.insert(Arc::clone(&shared) as Arc<dyn Managed>) {
        return fail(SpawnFailure::LimitReached { limit }, thread);
    }

    // The value is handed over only once the OS thread exists, so that a failure to
    // create one can hand it back.
    let (handoff_tx, handoff_rx) = channel::bounded::<T>(1);
    let (started_tx, started_rx) = channel::bounded::<Started<T>>(1);
    let run_shared = Arc::clone(&shared);
    let run_registry = registry.clone();
    let os_thread = std::thread::Builder::new()
        .name(T::NAME.to_owned())
        .spawn(move || {
            if let Ok(thread) = handoff_rx.recv() {
                run(thread, &run_shared, &inbox, &run_registry, &started_tx);
            }
        });
    let os_thread = match os_thread {
        Ok(os_thread) => os_thread,
        Err(error) => {
            registry.remove(control.id);
            return fail(SpawnFailure::Os(error), thread);
        }
    };
    if let Err(channel::SendError(thread)) = handoff_tx.send(thread) {
        registry.remove(control.id);
        let _ = os_thread.join();
        let error = std::io::Error::other("the new thread ended before it was started");
        return fail(SpawnFailure::Os(error), thread);
    }
    match started_rx.recv() {
        Ok(Ok(())) => {
            control.set_join_handle(os_thread);
            Ok(Handle::new(shared))
        }
        Ok(Err((failure, thread))) => {
            let _ = os_thread.join();
            fail(failure, thread)
        }
        // `run` answers on every path it returns from; a thread that ended without
        // answering unwound past it, so its panic is handed on to the caller.
        Err(channel::RecvError) => {
            registry.remove(control.id);
            match os_thread.join() {
                Err(payload) => panic::resume_unwind(payload),
                Ok(()) => panic::resume_unwind(Box::new(format!(
                    "threadward: thread `{}` ended without reporting its startup",
                    T::NAME
                ))),
            }
        }
    }
}

/// Runs on the new thread, from `startup` to the published exit.
fn run<T: BackgroundThread>(
    mut thread: T,
    shared: &Arc<Shared<T>>,
    inbox: &Inbox<T>,
    registry: &Registry,
    started: &channel::Sender<Started<T>>,
) {
    let control = &*shared.control;
    control.bind_os_thread();
    crate::halt::set_current(Arc::clone(&shared.control));
    let ctx = Context::new(Arc::clone(&shared.control));
    tracing::debug!(thread = control.name, id = control.id.as_u64(), "starting");

    let startup = panic::catch_unwind(AssertUnwindSafe(|| thread.startup(&ctx)));
    let failure = match startup {
        Ok(Ok(())) => None,
        // `try_checkpoint()?` passes the halt on as an error.
        Ok(Err(error)) if error.is::<Halted>() => Some(SpawnFailure::Halted),
        Ok(Err(error)) => Some(SpawnFailure::Startup(error)),
        Err(payload) if payload.is::<Halted>() => Some(SpawnFailure::Halted),
        Err(payload) => Some(SpawnFailure::StartupPanicked {
            message: panic_message(payload),
        }),
    };
    if let Some(failure) = failure {
        tracing::error!(thread = control.name, id = control.id.as_u64(), %failure, "startup failed");
        control.set_state(State::Failed);
        control.gate.close();
        registry.remove(control.id);
        let _ = started.send(Err((failure, thread)));
        return;
    }
    // A stop requested during startup has already moved the state to `Stopping`.
    control.transition(State::Starting, State::Running);
    tracing::info!(thread = control.name, id = control.id.as_u64(), "started");
    let _ = started.send(Ok(()));

    let mut handled = 0;
    let mut undelivered = Vec::new();
    let served = panic::catch_unwind(AssertUnwindSafe(|| {
        serve(
            &mut thread,
            &ctx,
            inbox,
            control,
            &mut handled,
            &mut undelivered,
        )
    }));
    let mut outcome = match served {
        Ok(Ok(Served::Drained)) => Outcome::Stopped,
        Ok(Ok(Served::Halted)) => Outcome::Halted,
        Ok(Err(error)) if error.is::<Halted>() => Outcome::Halted,
        Ok(Err(error)) => Outcome::Failed(Arc::from(error)),
        Err(payload) if payload.is::<Halted>() => Outcome::Halted,
        Err(payload) => Outcome::Panicked {
            message: panic_message(payload),
        },
    };
    // A failed thread takes no more work; a stopped one has closed already.
    control.gate.close();
    control.mark_stopping();
    match outcome {
        Outcome::Stopped => {}
        Outcome::Halted => {
            tracing::warn!(thread = control.name, id = control.id.as_u64(), "halted");
        }
        _ => {
            tracing::error!(thread = control.name, id = control.id.as_u64(), %outcome, "handle ended the thread");
        }
    }

    // A halted thread still cleans up: checkpoints in `shutdown` do not unwind.
    control.halt.disarm();
    if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(|| thread.shutdown(&ctx))) {
        let message = panic_message(payload);
        tracing::error!(thread = control.name, id = control.id.as_u64(), %message, "shutdown panicked");
        if outcome.is_clean() {
            outcome = Outcome::Panicked {
                message: format!("in shutdown: {message}"),
            };
        }
    }
    // The thread's resources are released before anyone learns it ended.
    if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(move || drop(thread))) {
        let message = panic_message(payload);
        tracing::error!(thread = control.name, id = control.id.as_u64(), %message, "drop panicked");
    }

    while let Some(message) = inbox.next(control) {
        // Calls still queued are dropped here, which tells their callers `Ended`.
        if let Message::Task(task) = message {
            undelivered.push(task);
        }
    }
    finish(shared, registry, outcome, handled, undelivered);
}

/// How serving ended, when it did not fail.
enum Served {
    /// The queue was closed and every accepted message was handled.
    Drained,
    /// A halt was seen between messages.
    Halted,
}

/// Handles messages until the queue is closed and drained, or a halt is seen.
fn serve<T: BackgroundThread>(
    thread: &mut T,
    ctx: &Context,
    inbox: &Inbox<T>,
    control: &Control,
    handled: &mut u64,
    undelivered: &mut Vec<T::Task>,
) -> Result<Served, BoxError> {
    while let Some(message) = inbox.next(control) {
        if control.halt.is_halted() {
            // Halted between messages: this one goes back with the rest.
            if let Message::Task(task) = message {
                undelivered.push(task);
            }
            return Ok(Served::Halted);
        }
        match message {
            Message::Task(task) => {
                *handled += 1;
                control.set_handled(*handled);
                thread.handle(task, ctx)?;
            }
            Message::Job(job) => job(thread, ctx),
            Message::Wake => {}
        }
    }
    Ok(Served::Drained)
}

/// Leaves the registry, stores the undelivered tasks and publishes the exit.
fn finish<T: BackgroundThread>(
    shared: &Shared<T>,
    registry: &Registry,
    outcome: Outcome,
    handled: u64,
    undelivered: Vec<T::Task>,
) {
    let control = &*shared.control;
    control.set_state(match outcome {
        Outcome::Stopped | Outcome::Halted => State::Stopped,
        _ => State::Failed,
    });
    registry.remove(control.id);
    let report = ExitReport {
        name: control.name,
        id: control.id,
        outcome,
        handled,
        undelivered: undelivered.len(),
        ran_for: control.started.elapsed(),
        stop_took: control.stop_requested().map(|asked| asked.elapsed()),
    };
    tracing::info!(
        thread = control.name,
        id = control.id.as_u64(),
        outcome = %report.outcome,
        handled,
        undelivered = report.undelivered,
        "ended"
    );
    *shared
        .undelivered
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(undelivered);
    control.publish_exit(report);
}

/// The message of a panic payload. The payload is dropped here; should its own `Drop`
/// panic, it is leaked instead, since a second unwind must not escape the run loop.
pub(crate) fn panic_message(payload: Box<dyn Any + Send>) -> String {
    let message = if let Some(message) = payload.downcast_ref::<&'static str>() {
        (*message).to_owned()
    } else if let Some(message) = payload.downcast_ref::<String>() {
        message.clone()
    } else {
        "Box<dyn Any>".to_owned()
    };
    if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(move || drop(payload))) {
        std::mem::forget(payload);
    }
    message
}
