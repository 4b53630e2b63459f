//! Serving: the loop that hands a thread its messages (and, with time declared, its
//! ticks and its deadline) until the queue is drained or a halt is seen.

use std::time::{Duration, Instant};

use crate::context::Context;
use crate::control::Control;
use crate::error::BoxError;
use crate::handle::Message;
use crate::queue::{Inbox, Next};
use crate::thread::BackgroundThread;
use crate::timing::{after, Pace, Schedule};

/// How serving ended, when it did not fail.
pub(crate) enum Served {
    /// The queue was closed and every accepted message was handled.
    Drained,
    /// A halt was seen between messages.
    Halted,
    /// As `Drained`, after the thread's deadline stopped it.
    Deadline,
}

/// Handles messages (and, for a ticking thread, ticks) until the queue is closed and
/// drained, or a halt is seen.
pub(crate) fn serve<T: BackgroundThread>(
    thread: &mut T,
    ctx: &Context,
    inbox: &Inbox<Message<T>>,
    control: &Control,
    handled: &mut u64,
    undelivered: &mut Vec<T::Task>,
) -> Result<Served, BoxError> {
    let deadline = T::TIMING
        .deadline()
        .map(|deadline| after(control.started, deadline));
    if control.every().is_some() || deadline.is_some() {
        return serve_timed(thread, ctx, inbox, control, handled, undelivered, deadline);
    }
    // Only the idle path reads the clock: the busy path stays free of it.
    while let Some(message) = inbox.next(|| control.mark_woken()) {
        if control.halt.is_halted() {
            return Ok(halted(message, undelivered));
        }
        run_message(thread, ctx, control, handled, message)?;
    }
    Ok(Served::Drained)
}

/// [`serve`] with time: the loop waits for the next message, the next tick or the
/// deadline, whichever comes first, and a busy thread reads the clock at the pace of
/// its messages to tick (and stop) on time.
fn serve_timed<T: BackgroundThread>(
    thread: &mut T,
    ctx: &Context,
    inbox: &Inbox<Message<T>>,
    control: &Control,
    handled: &mut u64,
    undelivered: &mut Vec<T::Task>,
    mut deadline: Option<Instant>,
) -> Result<Served, BoxError> {
    let start = Instant::now();
    let mut schedule = control
        .every()
        .map(|every| Schedule::new(every, T::TIMING.missed(), start));
    let mut pace = Pace::new(start);
    // Whether the deadline's stop was the one that stopped the thread.
    let mut reached = false;
    let drained = |reached| {
        if reached {
            Served::Deadline
        } else {
            Served::Drained
        }
    };
    loop {
        let wake = match (schedule.as_ref().map(Schedule::next), deadline) {
            (Some(tick), Some(end)) => Some(tick.min(end)),
            (tick, end) => tick.or(end),
        };
        let message = match wake {
            Some(at) => match inbox.next_until(at, || control.mark_woken()) {
                Next::Item(message) => Some(message),
                Next::Closed => return Ok(drained(reached)),
                Next::Timeout => None,
            },
            None => match inbox.next(|| control.mark_woken()) {
                Some(message) => Some(message),
                None => return Ok(drained(reached)),
            },
        };
        if control.halt.is_halted() {
            return Ok(message.map_or(Served::Halted, |m| halted(m, undelivered)));
        }
        if let Some(message) = message {
            run_message(thread, ctx, control, handled, message)?;
            // A new period (`set_every` in `handle`) is looked at at once: the pace was
            // set by the old one.
            let period = schedule.as_ref().map(Schedule::period);
            if !pace.due() && control.every() == period {
                continue;
            }
        }
        let now = Instant::now();
        // With a deadline, the clock is read at least about every millisecond of work.
        let pace_by = match (schedule.as_ref(), deadline) {
            (Some(schedule), Some(_)) => schedule.period().min(UNTICKED_PACE),
            (Some(schedule), None) => schedule.period(),
            (None, _) => UNTICKED_PACE,
        };
        pace.checked(now, pace_by);
        if deadline.is_some_and(|end| now >= end) {
            deadline = None;
            reached = control.stop_requested().is_none();
            control.request_stop();
        }
        let Some(schedule) = schedule.as_mut() else {
            continue;
        };
        // A period set (by `set_every`) since the last look counts from now.
        if let Some(every) = control.every().filter(|&e| e != schedule.period()) {
            schedule.set_period(every, now);
        }
        if schedule.take_due(now) {
            thread.__tick(ctx)?;
        }
    }
}

/// The period a thread with a deadline and no ticks paces its clock reads by: it
/// stops within about a millisecond of its deadline.
const UNTICKED_PACE: Duration = Duration::from_millis(16);

/// Runs one message: a task through `handle`, or a `call`/`cast` job.
fn run_message<T: BackgroundThread>(
    thread: &mut T,
    ctx: &Context,
    control: &Control,
    handled: &mut u64,
    message: Message<T>,
) -> Result<(), BoxError> {
    match message {
        Message::Task(task) => {
            *handled += 1;
            control.set_handled(*handled);
            thread.handle(task, ctx)
        }
        Message::Job(job) => {
            (*job).run(thread, ctx);
            Ok(())
        }
    }
}

/// Halted between messages: `message` goes back with the rest.
fn halted<T: BackgroundThread>(message: Message<T>, undelivered: &mut Vec<T::Task>) -> Served {
    if let Message::Task(task) = message {
        undelivered.push(task);
    }
    Served::Halted
}
