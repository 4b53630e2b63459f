//! The escalation ladder: stop, then halt, then exit, driven by signals and timers.
//!
//! The ladder's thread never runs user code and never blocks except on its event
//! channel: a stop or halt is signalled from here (closing the queue, waking the
//! thread), and the `on_stop` hooks run on helper threads. Threads announce their end
//! through their exit hooks, so nothing polls and a thread's end is seen at once.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel as channel;

use super::report::ShutdownReport;
use super::{Cause, Event, ShutdownHandle, StopOrder};
use crate::control::Control;
use crate::handle::AnyHandle;
use crate::progress::ShutdownStep;
use crate::registry::Remembered;

/// How long `wait` lets the `on_stop` hooks still running finish once every thread has
/// ended (at most; never past the step's deadline). Hooks unblock threads, so once
/// those have ended a hook that still blocks is left behind.
const HOOKS_LINGER: Duration = Duration::from_secs(1);

/// How long the threads that stop last have to end once asked (at most the `grace`),
/// then once halted (at most the `halt_grace`): they watch the others, and the report
/// is written before they are asked.
const LAST_GRACE: Duration = Duration::from_secs(2);
const LAST_HALT_GRACE: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Stopping,
    Halting,
}

/// The threads a shutdown stops, in stop order (those that stop last at the end), and
/// which of them have ended.
struct Targets {
    handles: Vec<AnyHandle>,
    ended: Vec<bool>,
    /// The targets of the current phase: first those that do not stop last, then those
    /// that do.
    phase: std::ops::Range<usize>,
    /// How many targets of the current phase have not ended.
    remaining: usize,
    /// The next target to ask to stop (one by one).
    next: usize,
    /// Run the `on_stop` hooks of the threads asked to stop or halted, one helper
    /// thread per thread that has hooks: a hook that blocks holds up no other.
    hooks: Vec<HookRunner>,
}

impl Targets {
    fn new(handles: Vec<AnyHandle>) -> Self {
        let (mut handles, last): (Vec<_>, Vec<_>) = handles
            .into_iter()
            .partition(|handle| !handle.control().stops_last());
        let first = handles.len();
        handles.extend(last);
        Self {
            ended: vec![false; handles.len()],
            remaining: first,
            phase: 0..first,
            next: 0,
            handles,
            hooks: Vec::new(),
        }
    }

    /// Moves on to the threads that stop last, once the others have ended; says
    /// whether there are any.
    fn next_phase(&mut self) -> bool {
        if self.phase.end == self.handles.len() {
            return false;
        }
        self.phase = self.phase.end..self.handles.len();
        self.next = self.phase.start;
        self.remaining = self.phase.clone().filter(|&i| !self.ended[i]).count();
        true
    }

    /// The targets of the phases so far.
    fn so_far(&self) -> &[AnyHandle] {
        &self.handles[..self.phase.end]
    }

    fn mark_ended(&mut self, index: usize) {
        if !std::mem::replace(&mut self.ended[index], true) && self.phase.contains(&index) {
            self.remaining -= 1;
        }
    }

    /// Asks the next targets of the phase that have not ended to stop: one, or all of
    /// them.
    fn stop_next(&mut self, order: StopOrder) {
        while self.next < self.phase.end {
            let index = self.next;
            self.next += 1;
            if self.ended[index] {
                continue;
            }
            let control = Arc::clone(self.handles[index].control());
            control.signal_stop();
            self.run_hooks(&control);
            if order == StopOrder::OneByOne {
                return;
            }
        }
    }

    /// Whether the target asked to stop last (one by one) is the one at `index`.
    fn is_current(&self, index: usize) -> bool {
        self.next == index + 1
    }

    /// Halts every target of the phase still running.
    fn halt_all(&mut self) {
        self.next = self.phase.end;
        let running: Vec<_> = self
            .phase
            .clone()
            .filter(|&index| !self.ended[index])
            .map(|index| Arc::clone(self.handles[index].control()))
            .collect();
        for control in &running {
            control.signal_halt();
        }
        for control in &running {
            self.run_hooks(control);
        }
    }

    /// Runs the pending `on_stop` hooks of `control` on a helper thread of their own.
    fn run_hooks(&mut self, control: &Arc<Control>) {
        if control.has_stop_hooks() {
            if let Some(hooks) = HookRunner::start(control) {
                self.hooks.push(hooks);
            }
        }
    }

    /// Lets the hooks that are running finish, until `deadline`.
    fn finish_hooks(self, deadline: Instant) {
        for hooks in self.hooks {
            if !hooks.finish(deadline) {
                tracing::warn!("shutdown: an on_stop hook is still running; not waiting for it");
            }
        }
    }
}

/// A helper thread running the `on_stop` hooks of one thread.
struct HookRunner {
    /// Disconnected once the hooks have run.
    done: channel::Receiver<()>,
}

impl HookRunner {
    /// `None` if no thread could be started: the stop is signalled all the same, only
    /// its hooks do not run.
    fn start(control: &Arc<Control>) -> Option<Self> {
        let (done_tx, done) = channel::bounded::<()>(0);
        let control = Arc::clone(control);
        let started = std::thread::Builder::new()
            .name("threadward-hooks".to_owned())
            .spawn(move || {
                let _done = done_tx;
                control.run_stop_hooks();
            });
        match started {
            Ok(_) => Some(Self { done }),
            Err(error) => {
                tracing::error!(%error, "could not start a thread for the on_stop hooks");
                None
            }
        }
    }

    /// Waits until the hooks have run, or `deadline`; says whether they ran.
    fn finish(self, deadline: Instant) -> bool {
        matches!(
            self.done.recv_deadline(deadline),
            Err(channel::RecvTimeoutError::Disconnected)
        )
    }
}

impl ShutdownHandle {
    /// Blocks until the shutdown starts, runs the ladder and returns the report — or,
    /// at the last step, prints the report to stderr and exits the process with
    /// [`ShutdownReport::exit_code`].
    ///
    /// When it returns, every thread of the registry has ended (but a thread that stops
    /// last, [`Context::stop_last`](crate::Context::stop_last), still running after its
    /// short budget, which is logged), the `on_stop` hooks the ladder started have
    /// finished (a hook still blocking a second after the last
    /// thread ended is left running on its helper thread), and the signals the
    /// shutdown listened to take their default action again.
    pub fn wait(self) -> ShutdownReport {
        let cause = match self.events.recv() {
            Ok(Event::Signal(signal)) => Cause::Signal(signal),
            Ok(Event::Escalated(supervisor, id)) => Cause::Escalated { supervisor, id },
            _ => Cause::Triggered,
        };
        let started = Instant::now();
        tracing::info!(%cause, "shutdown started");
        let registry = &self.config.registry;
        // Threads that failed before and that nobody joined belong in the report too.
        let (running, earlier) = registry.begin_shutdown();
        let mut targets = Targets::new(running);
        for (index, handle) in targets.handles.iter().enumerate() {
            let events = self.events_tx.clone();
            handle.control().on_exit(Box::new(move |_| {
                let _ = events.send(Event::Ended(index));
            }));
        }
        let mut ladder = Ladder {
            step: Step::Stopping,
            last_signal: match cause {
                Cause::Signal(signal) => Some(signal),
                Cause::Triggered | Cause::Escalated { .. } => None,
            },
            // What started it was the first request.
            requests: 1,
            deadline: Instant::now() + self.config.grace,
        };
        let progress = registry.progress();
        progress.begin(cause.to_string(), ladder.deadline, targets.remaining);
        targets.stop_next(self.config.order);
        if self.climb(&mut ladder, &mut targets, self.config.halt_grace) != Climbed::Ended {
            let report = ladder.report(cause, started, targets.so_far(), &earlier);
            eprintln!("{report}");
            std::process::exit(report.exit_code());
        }
        let report = ladder.report(cause, started, targets.so_far(), &earlier);
        progress.end(report.to_string());
        // The threads that stop last (a console showing this shutdown) stop now, on a
        // short ladder of their own, outside the report and its exit code.
        if targets.next_phase() {
            ladder.step = Step::Stopping;
            ladder.deadline = Instant::now() + LAST_GRACE.min(self.config.grace);
            targets.stop_next(self.config.order);
            let halt_grace = LAST_HALT_GRACE.min(self.config.halt_grace);
            match self.climb(&mut ladder, &mut targets, halt_grace) {
                Climbed::Ended => {}
                Climbed::OutOfTime => tracing::warn!(
                    "shutdown: a thread that stops last is still running; not waiting for it"
                ),
                // The third request still ends the process, with the report.
                Climbed::Asked => {
                    eprintln!("{report}");
                    std::process::exit(report.exit_code());
                }
            }
        }
        // The shutdown is over: a signal now ends the process.
        self.installed.end();
        targets.finish_hooks(ladder.deadline.min(Instant::now() + HOOKS_LINGER));
        report
    }

    /// Runs the ladder until every target of the phase has ended, or the `halt_grace`
    /// after the halt ran out too, or a signal or trigger came while halting or was
    /// the third request.
    fn climb(&self, ladder: &mut Ladder, targets: &mut Targets, halt_grace: Duration) -> Climbed {
        let progress = self.config.registry.progress();
        while targets.remaining > 0 {
            match self.events.recv_deadline(ladder.deadline) {
                Ok(Event::Ended(index)) => {
                    targets.mark_ended(index);
                    progress.remaining(targets.remaining);
                    if ladder.step == Step::Stopping && targets.is_current(index) {
                        targets.stop_next(self.config.order);
                    }
                    continue;
                }
                Ok(event @ (Event::Signal(_) | Event::Trigger)) => {
                    if let Event::Signal(signal) = event {
                        ladder.last_signal = Some(signal);
                    }
                    // The third request (signal or trigger) ends the process, in either
                    // phase; so does one while halting.
                    ladder.requests += 1;
                    if ladder.requests >= 3 || ladder.step == Step::Halting {
                        return Climbed::Asked;
                    }
                }
                // Another supervisor giving up adds nothing: the shutdown is under way.
                Ok(Event::Escalated(..)) => continue,
                Err(_) => {}
            }
            match ladder.step {
                Step::Stopping => {
                    tracing::warn!("shutdown: halting the threads still running");
                    targets.halt_all();
                    ladder.step = Step::Halting;
                    ladder.deadline = Instant::now() + halt_grace;
                    progress.step(ShutdownStep::Halting, Some(ladder.deadline));
                }
                Step::Halting => return Climbed::OutOfTime,
            }
        }
        Climbed::Ended
    }
}

/// How a phase of the ladder ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Climbed {
    /// Every target of the phase ended.
    Ended,
    /// The halt's grace ran out.
    OutOfTime,
    /// A signal or trigger came while halting, or was the third request.
    Asked,
}

/// Where a phase of the ladder is.
struct Ladder {
    step: Step,
    last_signal: Option<i32>,
    /// How many times the shutdown was asked for (signals and triggers), its cause
    /// included: the second halts, the third ends the process.
    requests: u32,
    /// When the step ends.
    deadline: Instant,
}

impl Ladder {
    fn report(
        &self,
        cause: Cause,
        started: Instant,
        targets: &[AnyHandle],
        earlier: &[Remembered],
    ) -> ShutdownReport {
        ShutdownReport::new(cause, self.last_signal, started, targets, earlier)
    }
}
