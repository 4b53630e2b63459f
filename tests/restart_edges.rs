//! Restarts at their edges: a panicking factory or error `Display`, a deadline during
//! a backoff, the period of a fresh instance, exit notifications, calls and halts across
//! restarts, counts under racing senders, and a bounded join with a slow exit watcher.
//! Every wait is bounded.

mod restarting;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{mpsc, Arc, Barrier};
use std::time::{Duration, Instant};

use threadward::{
    background_thread, BackgroundThread, BoxError, Context, Outcome, Registry, Ticking,
};

use restarting::{fail_if, wait_for, BOUND};

// ---------- 1. a factory that panics on a restart ----------
static BOOM_BUILT: AtomicU32 = AtomicU32::new(0);

#[background_thread(restart = "on-failure", backoff = "1ms", factory = Boom::new)]
struct Boom;

impl Boom {
    fn new() -> Self {
        assert!(
            BOOM_BUILT.fetch_add(1, Ordering::SeqCst) < 1,
            "factory refuses"
        );
        Boom
    }
}

impl BackgroundThread for Boom {
    type Task = bool;
    fn handle(&mut self, fail: bool, _ctx: &Context) -> Result<(), BoxError> {
        fail_if(fail)
    }
}

#[test]
fn a_factory_panic_on_restart_still_publishes_an_exit() {
    let registry = Registry::new();
    let exits = registry.monitor();
    let boom = Boom::new().spawn_in(&registry).unwrap();
    boom.send(true).unwrap();
    boom.send(false).unwrap();
    let told = exits
        .recv_timeout(BOUND)
        .expect("the registry was told of the exit");
    let exit = boom.join_timeout(BOUND).expect("an exit was published");
    assert_eq!(told.id(), boom.id());
    assert!(
        matches!(exit.outcome(), Outcome::StartupFailed { message } if message == "the factory panicked: factory refuses"),
        "{:?}",
        exit.outcome()
    );
    assert_eq!(exit.undelivered(), [false]);
    assert!(registry.is_empty());
}

// ---------- 2. an error whose Display panics ----------
#[derive(Debug)]
struct Nasty;
impl std::fmt::Display for Nasty {
    fn fmt(&self, _f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        panic!("Display panics")
    }
}
impl std::error::Error for Nasty {}

#[background_thread(restart = "on-failure", backoff = "1ms")]
#[derive(Default)]
struct NastyErr;

impl BackgroundThread for NastyErr {
    type Task = bool;
    fn handle(&mut self, fail: bool, _ctx: &Context) -> Result<(), BoxError> {
        if fail {
            Err(Box::new(Nasty))
        } else {
            Ok(())
        }
    }
}

#[background_thread]
#[derive(Default)]
struct NastyErrNoRestart;

impl BackgroundThread for NastyErrNoRestart {
    type Task = bool;
    fn handle(&mut self, fail: bool, _ctx: &Context) -> Result<(), BoxError> {
        if fail {
            Err(Box::new(Nasty))
        } else {
            Ok(())
        }
    }
}

#[test]
fn an_error_whose_display_panics_without_restart_ends_with_an_exit() {
    let t = NastyErrNoRestart.spawn_in(&Registry::new()).unwrap();
    t.send(true).unwrap();
    assert!(t.join_timeout(BOUND).is_ok());
}

#[test]
fn an_error_whose_display_panics_with_restart_still_publishes_an_exit() {
    let t = NastyErr.spawn_in(&Registry::new()).unwrap();
    t.send(true).unwrap();
    t.send(false).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    t.stop();
    let exit = t.join_timeout(BOUND).expect("an exit was published");
    assert_eq!(exit.restarts(), 1);
    assert_eq!(exit.handled(), 2);
}

// ---------- 3. the deadline during a backoff ----------
#[background_thread(restart = "on-failure", backoff = "20s", deadline = "300ms")]
#[derive(Default)]
struct Deadlined;

impl BackgroundThread for Deadlined {
    type Task = bool;
    fn handle(&mut self, fail: bool, _ctx: &Context) -> Result<(), BoxError> {
        fail_if(fail)
    }
}

#[test]
fn the_deadline_stops_a_thread_waiting_out_a_backoff() {
    let t = Deadlined.spawn_in(&Registry::new()).unwrap();
    let started = Instant::now();
    t.send(true).unwrap();
    t.send(false).unwrap();
    let exit = t.join_timeout(BOUND).unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the 10-20 s backoff outlived the deadline"
    );
    // The deadline stopped it during the backoff: the fresh value drained the queue.
    assert!(
        matches!(exit.outcome(), Outcome::DeadlineReached),
        "{:?}",
        exit.outcome()
    );
    assert_eq!(exit.handled(), 2);
}

// ---------- 4. set_every leaks into the fresh instance ----------
#[background_thread(restart = "on-failure", backoff = "1ms", every = "20ms")]
#[derive(Default)]
struct Ticker;

impl BackgroundThread for Ticker {
    type Task = bool;
    fn handle(&mut self, fail: bool, ctx: &Context) -> Result<(), BoxError> {
        ctx.set_every(Duration::from_secs(3600)).unwrap();
        if fail {
            Err("fail".into())
        } else {
            Ok(())
        }
    }
}
impl Ticking for Ticker {
    fn tick(&mut self, _ctx: &Context) -> Result<(), BoxError> {
        Ok(())
    }
}

#[test]
fn a_fresh_instance_ticks_at_the_declared_period() {
    let t = Ticker.spawn_in(&Registry::new()).unwrap();
    t.send(true).unwrap();
    wait_for(|| t.info().restarts == 1, "restart");
    let every = t.call_timeout(BOUND, |_, ctx| ctx.every()).ok().flatten();
    t.stop();
    let _ = t.join_timeout(BOUND);
    assert_eq!(
        every,
        Some(Duration::from_millis(20)),
        "the failed instance's set_every survived the restart"
    );
}

// ---------- 5. restarts and exit notifications: once, at the final end ----------
#[background_thread(
    restart = "on-failure",
    backoff = "1ms",
    max_restarts = 3,
    within = "1m"
)]
#[derive(Default)]
struct Notified;

impl BackgroundThread for Notified {
    type Task = bool;
    fn handle(&mut self, fail: bool, _ctx: &Context) -> Result<(), BoxError> {
        fail_if(fail)
    }
}

#[test]
fn a_restarted_thread_is_told_once_at_its_final_end() {
    let registry = Registry::new();
    let exits = registry.monitor();
    let t = Notified.spawn_in(&registry).unwrap();
    let mine = t.monitor();
    for _ in 0..2 {
        t.send(true).unwrap();
    }
    wait_for(|| t.info().restarts == 2, "two restarts");
    assert!(exits.try_recv().is_err(), "told before the end");
    for _ in 0..2 {
        t.send(true).unwrap();
    } // third restart, then intensity exceeded
    let exit = t.join_timeout(BOUND).unwrap();
    assert!(
        matches!(exit.outcome(), Outcome::Failed(_)),
        "{:?}",
        exit.outcome()
    );
    assert_eq!(exit.restarts(), 3);
    let r = exits.recv_timeout(BOUND).unwrap();
    assert_eq!(r.id(), t.id());
    assert!(exits.recv_timeout(Duration::from_millis(200)).is_err());
    assert!(mine.recv_timeout(BOUND).is_ok());
    assert!(mine.recv_timeout(Duration::from_millis(200)).is_err());
}

// ---------- 6. calls and halts across restarts ----------
static GEN: AtomicU32 = AtomicU32::new(0);

#[background_thread(
    restart = "on-failure",
    backoff = "1ms",
    max_restarts = 100,
    within = "1m"
)]
struct Gen {
    generation: u32,
}

impl Default for Gen {
    fn default() -> Self {
        Gen {
            generation: GEN.fetch_add(1, Ordering::SeqCst),
        }
    }
}

impl BackgroundThread for Gen {
    type Task = u32;
    fn handle(&mut self, task: u32, ctx: &Context) -> Result<(), BoxError> {
        match task {
            0 => Err("fail".into()),
            1 => loop {
                ctx.checkpoint();
                std::thread::sleep(Duration::from_millis(1));
            },
            _ => Ok(()),
        }
    }
}

#[test]
fn calls_behind_a_failure_run_on_the_fresh_instance_and_halts_still_unwind() {
    let t = Gen::default().spawn_in(&Registry::new()).unwrap();
    let first = t.call_timeout(BOUND, |g, _| g.generation).ok().unwrap();
    t.send(0).unwrap();
    let second = t.call_timeout(BOUND, |g, _| g.generation).ok().unwrap();
    assert_ne!(first, second);
    // a call closure that panics restarts the thread, and the caller is told
    let r = t.call_timeout(BOUND, |_, _| -> u32 { panic!("call panics") });
    assert!(r.is_err());
    let third = t.call_timeout(BOUND, |g, _| g.generation).ok().unwrap();
    assert_ne!(second, third);
    assert_eq!(t.info().restarts, 2);
    // halts after restarts still unwind at checkpoints
    t.send(1).unwrap();
    t.send(5).unwrap();
    // Task 1, the second task handled, loops on checkpoints.
    wait_for(|| t.info().handled == 2, "task 1 to start");
    t.halt();
    let exit = t.join_timeout(BOUND).unwrap();
    assert!(
        matches!(exit.outcome(), Outcome::Halted),
        "{:?}",
        exit.outcome()
    );
    assert_eq!(exit.undelivered(), [5]);
}

// ---------- 7. halt during the fresh instance's startup ----------
static SLOW_STARTS: AtomicU32 = AtomicU32::new(0);

#[background_thread(restart = "on-failure", backoff = "1ms")]
#[derive(Default)]
struct SlowStart;

impl BackgroundThread for SlowStart {
    type Task = bool;
    fn startup(&mut self, ctx: &Context) -> Result<(), BoxError> {
        if SLOW_STARTS.fetch_add(1, Ordering::SeqCst) >= 1 {
            ctx.sleep(Duration::from_secs(3600));
        }
        Ok(())
    }
    fn handle(&mut self, fail: bool, _ctx: &Context) -> Result<(), BoxError> {
        fail_if(fail)
    }
}

#[test]
fn a_halt_during_a_restarts_startup_ends_it_and_returns_the_queue() {
    let t = SlowStart.spawn_in(&Registry::new()).unwrap();
    t.send(true).unwrap();
    t.send(false).unwrap();
    wait_for(|| SLOW_STARTS.load(Ordering::SeqCst) == 2, "second startup");
    std::thread::sleep(Duration::from_millis(20));
    t.halt();
    let exit = t.join_timeout(BOUND).unwrap();
    assert!(
        matches!(exit.outcome(), Outcome::Halted),
        "{:?}",
        exit.outcome()
    );
    assert_eq!(exit.undelivered(), [false]);
}

// ---------- 8. count invariant under racing senders, restarts and a stop ----------
#[background_thread(
    restart = "on-failure",
    backoff = "1ms",
    max_restarts = 100000,
    within = "1m"
)]
#[derive(Default)]
struct Counted;

impl BackgroundThread for Counted {
    type Task = u64;
    fn handle(&mut self, task: u64, _ctx: &Context) -> Result<(), BoxError> {
        if task % 7 == 0 {
            return Err("fail".into());
        }
        assert!(task % 11 != 0, "panic");
        Ok(())
    }
}

fn race(halt: bool) {
    let t = Counted.spawn_in(&Registry::new()).unwrap();
    let barrier = Arc::new(Barrier::new(4));
    let senders: Vec<_> = (0..3u64)
        .map(|s| {
            let (t, barrier) = (t.clone(), Arc::clone(&barrier));
            std::thread::spawn(move || {
                barrier.wait();
                let mut accepted = 0u64;
                for n in 0..3000 {
                    if t.send(s * 10000 + n + 1).is_ok() {
                        accepted += 1;
                    }
                }
                accepted
            })
        })
        .collect();
    barrier.wait();
    std::thread::sleep(Duration::from_millis(3));
    if halt {
        t.halt();
    } else {
        t.stop();
    }
    let accepted: u64 = senders.into_iter().map(|s| s.join().unwrap()).sum();
    let exit = t.join_timeout(BOUND).unwrap();
    assert_eq!(exit.handled() + exit.undelivered().len() as u64, accepted);
}

#[test]
fn counts_add_up_with_a_stop_racing_restarts() {
    for _ in 0..5 {
        race(false);
    }
}

#[test]
fn counts_add_up_with_a_halt_racing_restarts() {
    for _ in 0..5 {
        race(true);
    }
}

// ---------- 9. a blocking registry watcher and join_timeout ----------
#[test]
fn join_timeout_is_bounded_even_if_an_exit_watcher_blocks() {
    let registry = Registry::new();
    let (_keep, gate) = mpsc::channel::<()>();
    let gate = std::sync::Mutex::new(gate);
    registry.on_exit(move |_| {
        let _ = gate.lock().unwrap().recv_timeout(Duration::from_secs(3));
    });
    let t = threadward::thread("quick")
        .spawn_in(&registry, |_ctx| Ok(()))
        .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let asked = Instant::now();
    let r = t.join_timeout(Duration::from_millis(100));
    assert!(
        asked.elapsed() < Duration::from_secs(2),
        "join_timeout(100ms) took {:?}",
        asked.elapsed()
    );
    assert!(
        r.is_err(),
        "the watcher is still running: the thread has not finished"
    );
    // Once the watcher returned, the join completes.
    assert!(t.join_timeout(BOUND).is_ok());
}
