//! What `ThreadInfo` tells an observer beyond the counts: whether a thread sleeps for
//! want of work, its queue's capacity, the sends it refused, how far a stop or halt has
//! got, whether it has `on_stop` hooks and whether its task blocks by design. Every
//! wait is bounded.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use threadward::{
    background_thread, BackgroundThread, BoxError, Context, Registry, SendTimeoutError, ThreadInfo,
    TrySendError,
};

const BOUND: Duration = Duration::from_secs(30);

/// Reads `info` until `until` holds of it, for at most `BOUND`.
fn eventually(info: impl Fn() -> ThreadInfo, until: impl Fn(&ThreadInfo) -> bool) -> ThreadInfo {
    let start = Instant::now();
    loop {
        let now = info();
        if until(&now) {
            return now;
        }
        assert!(start.elapsed() < BOUND, "never held: {now:#?}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Handles each task by waiting for a word on its gate.
#[background_thread(capacity = 1)]
struct Gated {
    gate: mpsc::Receiver<()>,
}

impl BackgroundThread for Gated {
    type Task = u32;

    fn handle(&mut self, _: u32, _ctx: &Context) -> Result<(), BoxError> {
        Ok(self.gate.recv()?)
    }
}

#[test]
fn a_thread_is_idle_while_it_waits_for_work_and_busy_while_it_handles_a_task() {
    let registry = Registry::new();
    let (open, gate) = mpsc::channel();
    let gated = Gated { gate }.spawn_in(&registry).unwrap();
    let info = || gated.info();
    let idle = eventually(info, |i| i.idle);
    assert_eq!(idle.last_woken, None, "it never woke yet");
    gated.send(1).unwrap();
    // Taken from the queue and in `handle`: busy, and woken.
    let busy = eventually(info, |i| i.queue_depth == 0 && i.handled == 1);
    assert!(!busy.idle, "{busy:#?}");
    assert!(busy.last_woken.is_some());
    // Busy it stays while `handle` waits on something else than its queue.
    std::thread::sleep(Duration::from_millis(20));
    assert!(!gated.info().idle);
    open.send(()).unwrap();
    eventually(info, |i| i.idle);
    gated.stop();
    gated.join().unwrap();
}

#[test]
fn refused_sends_are_counted_against_the_capacity() {
    let registry = Registry::new();
    let (open, gate) = mpsc::channel();
    let gated = Gated { gate }.spawn_in(&registry).unwrap();
    assert_eq!((gated.info().capacity, gated.info().refused), (Some(1), 0));
    gated.send(1).unwrap();
    eventually(|| gated.info(), |i| i.queue_depth == 0 && i.handled == 1);
    gated.send(2).unwrap(); // fills the queue of one
    assert!(matches!(gated.try_send(3), Err(TrySendError::Full(3))));
    assert!(matches!(
        gated.send_timeout(4, Duration::from_millis(5)),
        Err(SendTimeoutError::Timeout(4))
    ));
    assert_eq!(gated.info().refused, 2);
    gated.stop();
    assert!(gated.send(5).is_err(), "closed");
    assert_eq!(gated.info().refused, 3);
    open.send(()).unwrap();
    open.send(()).unwrap();
    let exit = gated.join().unwrap();
    assert_eq!(exit.handled(), 2);
}

#[test]
fn an_unbounded_queue_has_no_capacity() {
    let registry = Registry::new();
    let thread = threadward::thread("unbounded")
        .spawn_in(&registry, |ctx| {
            ctx.sleep(Duration::from_secs(600));
            Ok(())
        })
        .unwrap();
    assert_eq!(thread.info().capacity, None);
    thread.stop();
    thread.join().unwrap();
}

/// Hosts a "server" in one `handle`, stopped through its `on_stop` hook; or, without
/// the hook, loops through checkpoints until halted.
#[background_thread]
struct Blocking {
    hooked: bool,
}

impl BackgroundThread for Blocking {
    type Task = ();

    fn startup(&mut self, ctx: &Context) -> Result<(), BoxError> {
        if self.hooked {
            ctx.on_stop(|| {});
        }
        Ok(())
    }

    fn handle(&mut self, (): (), ctx: &Context) -> Result<(), BoxError> {
        if self.hooked {
            while !ctx.is_stopping() {
                ctx.sleep(Duration::from_millis(1));
            }
            return Ok(());
        }
        loop {
            threadward::checkpoint();
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

#[test]
fn a_stop_and_a_halt_show_when_requested_and_on_stop_hooks_show() {
    let registry = Registry::new();
    let hooked = Blocking { hooked: true }.spawn_in(&registry).unwrap();
    let looping = Blocking { hooked: false }.spawn_in(&registry).unwrap();
    hooked.send(()).unwrap();
    looping.send(()).unwrap();
    let before = hooked.info();
    assert!(before.on_stop && before.stop_requested.is_none() && !before.halt_requested);
    let before = looping.info();
    assert!(!before.on_stop && before.stop_requested.is_none());

    looping.stop();
    let stopping = looping.info();
    assert!(stopping.stop_requested.is_some() && !stopping.halt_requested);
    // Stopped but still in its task: the checkpoint it passes shows where.
    let seen = eventually(|| looping.info(), |i| i.last_checkpoint.is_some());
    let checkpoint = seen.last_checkpoint.unwrap();
    assert!(
        checkpoint.location.file().ends_with("observed.rs"),
        "{checkpoint:?}"
    );
    looping.halt();
    assert!(looping.info().halt_requested);
    looping.join().unwrap();

    hooked.stop();
    // The hooks ran (taken by the stop), so none are left to show.
    let after = eventually(|| hooked.info(), |i| !i.on_stop);
    assert!(after.stop_requested.is_some());
    hooked.join().unwrap();
}

/// Registers an `on_stop` hook in `startup`, and in the tasks told to (as a server in
/// one `handle` does); says when it is in a task, and waits for its gate.
#[background_thread]
struct Hosting {
    entered: mpsc::Sender<()>,
    gate: mpsc::Receiver<()>,
}

impl BackgroundThread for Hosting {
    type Task = bool;

    fn startup(&mut self, ctx: &Context) -> Result<(), BoxError> {
        ctx.on_stop(|| {});
        Ok(())
    }

    fn handle(&mut self, hooks: bool, ctx: &Context) -> Result<(), BoxError> {
        if hooks {
            ctx.on_stop(|| {});
        }
        self.entered.send(())?;
        Ok(self.gate.recv()?)
    }
}

#[test]
fn a_task_that_registers_an_on_stop_hook_blocks_by_design_until_it_ends() {
    let registry = Registry::new();
    let (entered_tx, entered) = mpsc::channel();
    let (open, gate) = mpsc::channel();
    let thread = Hosting {
        entered: entered_tx,
        gate,
    }
    .spawn_in(&registry)
    .unwrap();
    let in_task = |hooks: bool| {
        thread.send(hooks).unwrap();
        entered.recv_timeout(BOUND).unwrap();
        thread.info()
    };
    // The hook from `startup` says nothing of the tasks.
    let plain = in_task(false);
    assert!(plain.on_stop && !plain.blocks_by_design, "{plain:#?}");
    open.send(()).unwrap();
    let hosting = in_task(true);
    assert!(hosting.blocks_by_design, "{hosting:#?}");
    open.send(()).unwrap();
    // Over once the task is: the next task does not block by design.
    let next = in_task(false);
    assert!(!next.blocks_by_design, "{next:#?}");
    open.send(()).unwrap();
    thread.stop();
    thread.join().unwrap();

    // A closure thread's first run is a task, its later runs ticks: each begins anew.
    let (entered_tx, entered) = mpsc::channel();
    let (open, gate) = mpsc::channel::<()>();
    let mut first = true;
    let ticking = threadward::thread("ticking")
        .every(Duration::from_millis(1))
        .spawn_in(&registry, move |ctx| {
            if std::mem::take(&mut first) {
                ctx.on_stop(|| {});
            }
            entered_tx.send(())?;
            Ok(gate.recv()?)
        })
        .unwrap();
    entered.recv_timeout(BOUND).unwrap();
    assert!(ticking.info().blocks_by_design);
    open.send(()).unwrap();
    entered.recv_timeout(BOUND).unwrap();
    assert!(!ticking.info().blocks_by_design);
    ticking.stop();
    open.send(()).unwrap();
    drop(open); // a run after this one, if any, ends at once
    let _ended = ticking.join();
}

#[test]
fn calls_and_casts_count_apart_from_the_tasks() {
    let registry = Registry::new();
    let (open, gate) = mpsc::channel();
    let thread = Gated { gate }.spawn_in(&registry).unwrap();
    thread.call(|_, _| ()).unwrap();
    let called = thread.info();
    assert_eq!((called.handled, called.ticks_and_calls), (0, 1));
    thread.cast(|_, _| ()).unwrap();
    eventually(|| thread.info(), |i| i.ticks_and_calls == 2);
    open.send(()).unwrap();
    thread.send(7).unwrap();
    let tasked = eventually(|| thread.info(), |i| i.handled == 1 && i.idle);
    assert_eq!(tasked.ticks_and_calls, 2);
    thread.stop();
    thread.join().unwrap();
}

/// Registers an `on_stop` hook in `startup` and then waits there for its gate; its
/// task registers one too and fails, so that a restart (after a long backoff) follows.
#[background_thread(restart = "on-failure", backoff = "1h", factory = Restarting::new)]
struct Restarting {
    parts: Option<(mpsc::Sender<()>, mpsc::Receiver<()>)>,
}

static RESTARTING: std::sync::Mutex<Option<(mpsc::Sender<()>, mpsc::Receiver<()>)>> =
    std::sync::Mutex::new(None);

impl Restarting {
    fn new() -> Self {
        Self {
            parts: RESTARTING.lock().unwrap().take(),
        }
    }
}

impl BackgroundThread for Restarting {
    type Task = ();

    fn startup(&mut self, ctx: &Context) -> Result<(), BoxError> {
        ctx.on_stop(|| {});
        if let Some((entered, gate)) = self.parts.take() {
            entered.send(())?;
            gate.recv()?;
        }
        Ok(())
    }

    fn handle(&mut self, (): (), ctx: &Context) -> Result<(), BoxError> {
        ctx.on_stop(|| {});
        Err("its socket failed".into())
    }
}

#[test]
fn startup_and_a_failed_task_do_not_block_by_design() {
    let registry = Registry::new();
    let (entered_tx, entered) = mpsc::channel();
    let (open, gate) = mpsc::channel();
    *RESTARTING.lock().unwrap() = Some((entered_tx, gate));
    let spawning = registry.clone();
    let spawner = std::thread::spawn(move || Restarting::new().spawn_in(&spawning));
    entered.recv_timeout(BOUND).unwrap();
    // In `startup`, past its hook: that hook says nothing of a task.
    let starting = registry.active();
    assert!(
        !starting.is_empty() && starting.iter().all(|i| !i.blocks_by_design),
        "{starting:#?}"
    );
    open.send(()).unwrap();
    let thread = spawner.join().unwrap().unwrap();
    thread.send(()).unwrap();
    // The task registered a hook and failed: in the backoff, nothing blocks by design,
    // and the thread is idle (it waits, for an hour, for nothing).
    let waiting = eventually(|| thread.info(), |i| i.last_failure.is_some() && i.idle);
    assert!(!waiting.blocks_by_design, "{waiting:#?}");
    thread.stop();
    thread.join().unwrap();
}

/// Serves "in one `handle`" until stopped, through the hook its task registers; then
/// its `shutdown` waits for a gate.
#[background_thread]
struct ClosingSlowly {
    in_shutdown: mpsc::Sender<()>,
    gate: mpsc::Receiver<()>,
}

impl BackgroundThread for ClosingSlowly {
    type Task = ();

    fn handle(&mut self, (): (), ctx: &Context) -> Result<(), BoxError> {
        ctx.on_stop(|| {});
        while !ctx.is_stopping() {
            std::thread::sleep(Duration::from_millis(1));
        }
        Ok(())
    }

    fn shutdown(&mut self, _ctx: &Context) {
        let _ = self.in_shutdown.send(());
        let _ = self.gate.recv_timeout(BOUND);
    }
}

#[test]
fn shutdown_after_a_task_that_blocks_by_design_does_not() {
    let registry = Registry::new();
    let (in_shutdown_tx, in_shutdown) = mpsc::channel();
    let (open, gate) = mpsc::channel();
    let thread = ClosingSlowly {
        in_shutdown: in_shutdown_tx,
        gate,
    }
    .spawn_in(&registry)
    .unwrap();
    thread.send(()).unwrap();
    eventually(|| thread.info(), |i| i.blocks_by_design);
    thread.stop();
    in_shutdown.recv_timeout(BOUND).unwrap();
    let closing = thread.info();
    assert!(!closing.blocks_by_design, "{closing:#?}");
    open.send(()).unwrap();
    thread.join().unwrap();
    assert!(!thread.info().blocks_by_design);
}
