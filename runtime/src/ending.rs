//! The end of a thread: what is left in its queue is set aside for whoever joins, it
//! leaves the registry and its exit is published, whatever went wrong on the way. A
//! pool's worker leaves its tasks to the pool, and the last of the pool's workers to
//! end ends the pool.

use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;

use crate::control::Control;
use crate::error::SpawnFailure;
use crate::handle::{Message, Shared, Tally};
use crate::ids::State;
use crate::lives::outcome_of;
use crate::outcome::{ExitReport, Outcome};
use crate::panics::panic_message;
use crate::queue::Inbox;
use crate::registry::{Registry, Remembered};
use crate::thread::BackgroundThread;

/// Ends a thread that ran (or was stopped before it started): the tasks still queued
/// are returned with `undelivered`, the exit is published.
pub(crate) fn end<T: BackgroundThread>(
    shared: &Shared<T>,
    inbox: &Inbox<Message<T>>,
    registry: &Registry,
    outcome: Outcome,
    handled: u64,
    mut undelivered: Vec<T::Task>,
) {
    let ended_as = state_after(&outcome);
    let Some(tally) = &shared.pool else {
        salvaging(shared, registry, handled, || {
            collect_undelivered(inbox, &mut undelivered);
            finish(shared, registry, ended_as, outcome, handled, undelivered);
        });
        return;
    };
    // A worker: the pool stops with it (the other workers handle what is queued and
    // follow), its exit is the pool's to remember, and its tasks go back with the
    // pool's.
    stop_pool(&tally.pool.control);
    shared.control.mark_exit_taken();
    let for_pool = outcome.clone();
    salvaging(shared, registry, handled, || {
        finish(shared, registry, ended_as, outcome, handled, Vec::new());
    });
    worker_ended(tally, registry, Some(&for_pool), handled, undelivered);
}

/// How a thread that ended with `outcome` stays.
fn state_after(outcome: &Outcome) -> State {
    if outcome.is_clean() || matches!(outcome, Outcome::Halted) {
        State::Stopped
    } else {
        State::Failed
    }
}

/// Stops a pool one of whose workers ended; the other workers' `on_stop` hooks, if
/// they have not run, run on a helper (one that blocks keeps this worker's end no
/// longer waiting).
fn stop_pool(pool: &Arc<Control>) {
    pool.signal_stop();
    pool.run_stop_hooks_aside();
}

/// Counts a worker's end (or, with no outcome, the end of the pool's `spawn`); the last
/// to end ends the pool: it receives what is left in the queue, and publishes the
/// pool's exit with the totals.
pub(crate) fn worker_ended<T: BackgroundThread>(
    tally: &Tally<T>,
    registry: &Registry,
    outcome: Option<&Outcome>,
    handled: u64,
    undelivered: Vec<T::Task>,
) {
    let Some(totals) = tally.ended(outcome, handled, undelivered) else {
        return;
    };
    let pool = &*tally.pool;
    pool.control.close_queue();
    pool.control.mark_stopping();
    salvaging(pool, registry, totals.handled, || {
        let mut undelivered = totals.undelivered;
        tally.with_inbox(|inbox| collect_undelivered(inbox, &mut undelivered));
        let ended_as = state_after(&totals.outcome);
        finish(
            pool,
            registry,
            ended_as,
            totals.outcome,
            totals.handled,
            undelivered,
        );
    });
    // The workers have nothing left to run for the pool but their OS threads' exit,
    // which a join of the pool waits for.
    pool.control.mark_finished();
}

/// Receives what is left in the closed queue: the tasks are returned, the calls are
/// dropped unanswered (which tells their callers the thread ended).
fn collect_undelivered<T: BackgroundThread>(
    inbox: &Inbox<Message<T>>,
    undelivered: &mut Vec<T::Task>,
) {
    while let Some(message) = inbox.next(|| ()) {
        if let Message::Task(task) = message {
            undelivered.push(task);
        }
    }
}

/// Ends a thread stopped (or halted) during its start delay: `startup`, `handle` and
/// `shutdown` never ran, and the tasks sent meanwhile are returned.
pub(crate) fn end_before_start<T: BackgroundThread>(
    shared: &Shared<T>,
    inbox: &Inbox<Message<T>>,
    registry: &Registry,
    outcome: Outcome,
) {
    let control = &*shared.control;
    control.close_queue();
    control.mark_stopping();
    end(shared, inbox, registry, outcome, 0, Vec::new());
}

/// Ends a thread that never ran (its `startup` failed, or no OS thread could be
/// started): like every other thread it publishes an exit, with every task accepted
/// meanwhile (through a handle from the registry) returned. When `spawn` hands the
/// failure itself to its caller (`told`), the exit counts as taken.
pub(crate) fn end_unstarted<T: BackgroundThread>(
    shared: &Shared<T>,
    inbox: &Inbox<Message<T>>,
    registry: &Registry,
    failure: &SpawnFailure,
    told: bool,
) {
    let control = &*shared.control;
    control.close_queue();
    if told {
        control.mark_exit_taken();
    }
    // (A startup error's `Display` is the user's: guarded like the rest of the end.)
    let _ = panic::catch_unwind(AssertUnwindSafe(|| {
        tracing::error!(thread = control.name, id = control.id.as_u64(), %failure, "could not start");
    }));
    end(shared, inbox, registry, outcome_of(failure), 0, Vec::new());
}

/// Publishes the exit of a thread that unwound past its run loop (see [`abandon`]),
/// and counts it in its pool's.
pub(crate) fn abandon_lost<T: BackgroundThread>(
    shared: &Shared<T>,
    registry: &Registry,
    message: &str,
) {
    abandon(shared, registry, 0, message);
    if let Some(tally) = &shared.pool {
        let outcome = shared.control.exit_report().map(|report| report.outcome);
        worker_ended(tally, registry, outcome.as_ref(), 0, Vec::new());
    }
}

/// Runs the last steps of a thread (`end`), which call user code only indirectly: the
/// drop of a queued call's captures, the `Display` of an error. Should one of those
/// panic, the thread still leaves the registry and publishes an exit, so that no join
/// waits for ever.
fn salvaging<T: BackgroundThread>(
    shared: &Shared<T>,
    registry: &Registry,
    handled: u64,
    end: impl FnOnce(),
) {
    if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(end)) {
        abandon(shared, registry, handled, &panic_message(payload));
    }
}

/// Publishes the exit of a thread whose ending went wrong (see [`salvaging`]), or that
/// unwound past its run loop: failed, with the tasks already set aside, if any.
pub(crate) fn abandon<T: BackgroundThread>(
    shared: &Shared<T>,
    registry: &Registry,
    handled: u64,
    message: &str,
) {
    let control = &shared.control;
    if control.exit_report().is_some() {
        return;
    }
    control.close_queue();
    let report = ExitReport {
        name: control.name,
        id: control.id,
        outcome: Outcome::Panicked {
            message: format!("while ending the thread: {message}"),
        },
        handled,
        undelivered: u32::try_from(shared.undelivered_len()).unwrap_or(u32::MAX),
        ran_for: control.started.elapsed(),
        stop_took: control.stop_requested().map(|asked| asked.elapsed()),
        restarts: control.restarts(),
        parent: control.parent(),
        source: control.close_source().map(Box::new),
    };
    let remembered = (!control.is_exit_taken()).then(|| Remembered {
        report: report.clone(),
        taken: control.exit_taken_flag(),
    });
    registry.remove(control.id, remembered);
    control.set_state(State::Failed);
    shared.ensure_undelivered();
    control.publish_exit(report.clone());
    registry.tell_exit(&report);
}

/// Leaves the registry, stores the undelivered tasks and publishes the exit.
fn finish<T: BackgroundThread>(
    shared: &Shared<T>,
    registry: &Registry,
    ended_as: State,
    outcome: Outcome,
    handled: u64,
    undelivered: Vec<T::Task>,
) {
    let control = &shared.control;
    let report = ExitReport {
        name: control.name,
        id: control.id,
        outcome,
        handled,
        undelivered: u32::try_from(undelivered.len()).unwrap_or(u32::MAX),
        ran_for: control.started.elapsed(),
        stop_took: control.stop_requested().map(|asked| asked.elapsed()),
        restarts: control.restarts(),
        parent: control.parent(),
        source: control.close_source().map(Box::new),
    };
    // Out of the running threads and, if unclean, into the remembered exits in one
    // step; only then does the state say the thread ended, and observers who wait for
    // that find it remembered.
    let remembered = (!report.outcome.is_clean() && !control.is_exit_taken()).then(|| Remembered {
        report: report.clone(),
        taken: control.exit_taken_flag(),
    });
    registry.remove(control.id, remembered);
    control.set_state(ended_as);
    shared.leave_undelivered(undelivered);
    tracing::info!(
        thread = control.name,
        id = control.id.as_u64(),
        outcome = %report.outcome,
        handled,
        undelivered = report.undelivered,
        "ended"
    );
    control.publish_exit(report.clone());
    registry.tell_exit(&report);
}
