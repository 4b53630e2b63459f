//! Serving: the loop that hands a thread its messages (and, with time declared, its
//! ticks and its deadline) until the queue is drained or a halt is seen.

use std::time::{Duration, Instant};

use crate::context::Context;
use crate::control::{Control, Idleness};
use crate::error::BoxError;
use crate::handle::Message;
use crate::queue::{Inbox, Next};
use crate::thread::BackgroundThread;
use crate::timing::{period, MissedTicks, Pace, Schedule};

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
    missed: MissedTicks,
) -> Result<Served, BoxError> {
    if control.every_nanos() != 0 || control.deadline().is_some() {
        return serve_timed(thread, ctx, inbox, control, handled, undelivered, missed);
    }
    serve_untimed(thread, ctx, inbox, control, handled, undelivered)
}

/// [`serve`] without time (or with none left: a stopping thread whose deadline is
/// behind it). Only the idle path reads the clock: the busy path stays free of it.
fn serve_untimed<T: BackgroundThread>(
    thread: &mut T,
    ctx: &Context,
    inbox: &Inbox<Message<T>>,
    control: &Control,
    handled: &mut u64,
    undelivered: &mut Vec<T::Task>,
) -> Result<Served, BoxError> {
    while let Some(message) = inbox.next(Idleness(control)) {
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
// Out of line: the frame of a thread without time stays small (an idle thread's
// resident memory is mostly the stack pages its loop has touched).
#[inline(never)]
fn serve_timed<T: BackgroundThread>(
    thread: &mut T,
    ctx: &Context,
    inbox: &Inbox<Message<T>>,
    control: &Control,
    handled: &mut u64,
    undelivered: &mut Vec<T::Task>,
    missed: MissedTicks,
) -> Result<Served, BoxError> {
    let start = Instant::now();
    let mut time = Time {
        schedule: period(control.every_nanos()).map(|every| Schedule::new(every, missed, start)),
        deadline: control.deadline(),
        period: control.every_nanos(),
    };
    let mut pace = Pace::new(start);
    let mut wake = time.wake();
    loop {
        // The busy path: one message, and the clock read only at the pace's count or
        // when the period changed (`set_every` in `handle`).
        let message = match wake {
            Some(at) => match inbox.next_until(at, Idleness(control)) {
                Next::Item(message) => Some(message),
                Next::Closed => return Ok(drained(control)),
                Next::Timeout => None,
            },
            None => match inbox.next(Idleness(control)) {
                Some(message) => Some(message),
                None => return Ok(drained(control)),
            },
        };
        if control.halt.is_halted() {
            return Ok(message.map_or(Served::Halted, |m| halted(m, undelivered)));
        }
        if let Some(message) = message {
            run_message(thread, ctx, control, handled, message)?;
            if !pace.due() && control.every_nanos() == time.period {
                continue;
            }
        }
        let now = Instant::now();
        pace.checked(now, time.pace_by());
        if time.look(control, now) {
            control.mark_step();
            thread.__tick(ctx)?;
            // A period set in the tick counts from now, not from the old next tick.
            time.follow(control, Instant::now());
        }
        wake = time.wake();
        // Stopping, with no tick and no deadline left: what remains is a plain drain.
        if wake.is_none() && control.is_closed() {
            let served = serve_untimed(thread, ctx, inbox, control, handled, undelivered)?;
            return Ok(match served {
                Served::Drained => drained(control),
                other => other,
            });
        }
    }
}

/// The time a thread serves by: its tick schedule, its deadline, and the period it
/// last saw.
struct Time {
    schedule: Option<Schedule>,
    /// Until the thread looked past it.
    deadline: Option<Instant>,
    /// The period (nanoseconds) the schedule follows, to notice a `set_every` cheaply.
    period: u64,
}

impl Time {
    /// When the thread must wake even without a message.
    fn wake(&self) -> Option<Instant> {
        match (self.schedule.as_ref().map(Schedule::next), self.deadline) {
            (Some(tick), Some(end)) => Some(tick.min(end)),
            (tick, end) => tick.or(end),
        }
    }

    /// The period the clock reads are paced by. With a deadline, they come at least
    /// about every millisecond of work.
    fn pace_by(&self) -> Duration {
        match (self.schedule.as_ref(), self.deadline) {
            (Some(schedule), Some(_)) => schedule.period().min(UNTICKED_PACE),
            (Some(schedule), None) => schedule.period(),
            (None, _) => UNTICKED_PACE,
        }
    }

    /// Looks at the time `now`: stops the thread at its deadline, ends the ticks of a
    /// stopping thread, follows a new period; whether a tick is due.
    fn look(&mut self, control: &Control, now: Instant) -> bool {
        if self.deadline.is_some() && control.check_deadline(now) {
            self.deadline = None;
        }
        // A stopping thread ticks no more: it handles what it accepted and ends.
        if control.is_closed() {
            self.schedule = None;
        }
        self.follow(control, now);
        self.schedule
            .as_mut()
            .is_some_and(|schedule| schedule.take_due(now))
    }

    /// Follows a period set (by `set_every`) since the last look: it counts from `now`.
    fn follow(&mut self, control: &Control, now: Instant) {
        let nanos = control.every_nanos();
        if nanos == self.period {
            return;
        }
        self.period = nanos;
        if let (Some(schedule), Some(every)) = (self.schedule.as_mut(), period(self.period)) {
            schedule.set_period(every, now);
        }
    }
}

/// How the serving ended, once the queue is drained.
fn drained(control: &Control) -> Served {
    if control.deadline_reached() {
        Served::Deadline
    } else {
        Served::Drained
    }
}

/// The period a thread with a deadline and no ticks paces its clock reads by: it
/// stops within about a millisecond of its deadline.
const UNTICKED_PACE: Duration = Duration::from_millis(16);

/// Runs one message: a task through `handle`, or a `call`/`cast` job. Inlined: it is
/// the loop's body, and a call per message cost a cast 5 % of its instructions.
#[allow(clippy::inline_always)] // measured with callgrind, as the comment says
#[inline(always)]
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
            if job.is_task() {
                *handled += 1;
                control.set_handled(*handled);
            } else {
                control.mark_step();
            }
            (*job).run(thread, ctx)
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
