//! Timeouts where users wait: `call_timeout` (the closure handed back if it never ran,
//! `Late` if it ran too late) and `startup_timeout` (a startup that overruns is halted
//! and `spawn` fails, the value handed back). Every wait is bounded.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel as channel;
use threadward::{
    background_thread, BackgroundThread, BoxError, CallTimeoutError, Context, Handle, Outcome,
    Registry, SpawnFailure, State,
};

const BOUND: Duration = Duration::from_secs(30);

/// Handles each task by waiting for the channel it carries (bounded), so a test decides
/// when the thread is free.
#[background_thread(capacity = 1)]
#[derive(Default)]
struct Gated {
    value: u32,
}

impl BackgroundThread for Gated {
    type Task = channel::Receiver<()>;
    fn handle(&mut self, gate: channel::Receiver<()>, ctx: &Context) -> Result<(), BoxError> {
        let _ = gate.recv_timeout(BOUND);
        ctx.checkpoint();
        Ok(())
    }
}

/// A `Gated` thread busy with a task until `open` is sent, its one-slot queue full
/// behind it (with a task that waits on a channel kept open by the third value).
fn busy_and_full() -> (Handle<Gated>, channel::Sender<()>, channel::Sender<()>) {
    let gated = Gated::default().spawn_in(&Registry::new()).unwrap();
    let (open, gate) = channel::bounded(2);
    let (keep, never) = channel::bounded(1);
    gated.send(gate).unwrap();
    // Capacity 1: once the thread took the first task, this one fills the queue.
    let waited = Instant::now();
    while gated.try_send(never.clone()).is_err() {
        assert!(waited.elapsed() < BOUND);
        std::thread::sleep(Duration::from_millis(1));
    }
    (gated, open, keep)
}

fn ran_flag() -> (Arc<AtomicBool>, Arc<AtomicBool>) {
    let ran = Arc::new(AtomicBool::new(false));
    (Arc::clone(&ran), ran)
}

#[test]
fn a_call_answered_in_time_returns_its_value() {
    let gated = Gated { value: 7 }.spawn_in(&Registry::new()).unwrap();
    let answer = gated.call_timeout(BOUND, |gated, _ctx| gated.value * 2);
    assert_eq!(answer.unwrap(), 14);
    gated.stop();
    gated.join_timeout(BOUND).unwrap();
}

#[test]
fn a_call_that_never_started_is_handed_back_and_never_runs() {
    let gated = Gated::default().spawn_in(&Registry::new()).unwrap();
    let (open, gate) = channel::bounded(1);
    gated.send(gate).unwrap(); // the thread is busy until `open`
    let (ran, flag) = ran_flag();
    let started = Instant::now();
    let error = gated
        .call_timeout(Duration::from_millis(30), move |_gated, _ctx| {
            flag.store(true, Ordering::SeqCst);
        })
        .unwrap_err();
    assert!(started.elapsed() >= Duration::from_millis(30));
    assert!(matches!(error, CallTimeoutError::Timeout(_)), "{error:?}");
    assert_eq!(
        error.to_string(),
        "the call timed out before it ran; it will not run"
    );
    let closure = error.into_inner().expect("handed back");
    // The thread runs the taken-back job later and finds it empty.
    open.send(()).unwrap();
    assert_eq!(gated.call_timeout(BOUND, |_, _| 1).unwrap(), 1);
    assert!(!ran.load(Ordering::SeqCst));
    drop(closure);
    gated.stop();
    assert!(gated.join_timeout(BOUND).unwrap().outcome().is_clean());
}

#[test]
fn a_call_that_waits_for_room_in_a_full_queue_times_out_too() {
    let (gated, open, _keep) = busy_and_full();
    let (ran, flag) = ran_flag();
    let error = gated
        .call_timeout(Duration::from_millis(20), move |_, _| {
            flag.store(true, Ordering::SeqCst);
        })
        .unwrap_err();
    assert!(matches!(error, CallTimeoutError::Timeout(_)), "{error:?}");
    gated.halt();
    open.send(()).unwrap();
    let exit = gated.join_timeout(BOUND).unwrap();
    assert!(matches!(exit.outcome(), Outcome::Halted));
    assert!(!ran.load(Ordering::SeqCst));
}

#[test]
fn a_call_that_started_but_answered_late_says_so_and_runs_to_its_end() {
    let gated = Gated::default().spawn_in(&Registry::new()).unwrap();
    let (entered_tx, entered) = channel::bounded(1);
    let (finish, finish_rx) = channel::bounded::<()>(1);
    let finished = Arc::new(AtomicU32::new(0));
    let counted = Arc::clone(&finished);
    let caller = std::thread::spawn({
        let gated = gated.clone();
        move || {
            gated.call_timeout(Duration::from_millis(50), move |_, _| {
                entered_tx.send(()).unwrap();
                let _ = finish_rx.recv_timeout(BOUND);
                counted.fetch_add(1, Ordering::SeqCst);
                "too late"
            })
        }
    });
    entered.recv_timeout(BOUND).unwrap();
    // The closure runs and holds the thread until the caller gave up.
    let error = caller.join().unwrap().unwrap_err();
    assert!(matches!(error, CallTimeoutError::Late), "{error:?}");
    assert_eq!(error.to_string(), "the call ran but did not answer in time");
    assert!(error.into_inner().is_none());
    finish.send(()).unwrap();
    gated.stop();
    gated.join_timeout(BOUND).unwrap();
    assert_eq!(finished.load(Ordering::SeqCst), 1);
}

#[test]
fn a_call_refused_or_ended_hands_the_closure_back_when_it_never_ran() {
    let gated = Gated::default().spawn_in(&Registry::new()).unwrap();
    // Ended: the thread is halted while the call waits behind a task.
    let (open, gate) = channel::bounded(1);
    gated.send(gate).unwrap();
    let waited = Instant::now();
    while gated.info().handled == 0 {
        assert!(waited.elapsed() < BOUND, "the task never started");
        std::thread::sleep(Duration::from_millis(1));
    }
    let caller = std::thread::spawn({
        let gated = gated.clone();
        move || gated.call_timeout(BOUND, |_, _| 1)
    });
    while gated.info().queue_depth == 0 {
        assert!(waited.elapsed() < BOUND, "the call never queued");
        std::thread::sleep(Duration::from_millis(1));
    }
    gated.halt();
    open.send(()).unwrap();
    let error = caller.join().unwrap().unwrap_err();
    assert!(
        matches!(error, CallTimeoutError::Ended(Some(_))),
        "{error:?}"
    );
    gated.join_timeout(BOUND).unwrap();
    // Closed: the thread has ended.
    let error = gated.call_timeout(BOUND, |_, _| 1).unwrap_err();
    assert!(
        matches!(error, CallTimeoutError::Closed(_, State::Stopped)),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "calling a background thread that has stopped"
    );
    assert!(error.into_inner().is_some());
}

#[test]
fn a_call_from_the_thread_itself_is_refused() {
    let gated = Gated::default().spawn_in(&Registry::new()).unwrap();
    let inner = gated.clone();
    let refused = gated
        .call_timeout(BOUND, move |_, _| {
            matches!(
                inner.call_timeout(BOUND, |_, _| ()),
                Err(CallTimeoutError::OwnThread(_))
            )
        })
        .unwrap();
    assert!(refused);
    gated.stop();
    gated.join_timeout(BOUND).unwrap();
}

/// A startup that waits (interruptibly) as long as it is told.
#[background_thread(startup_timeout = "50ms")]
#[derive(Default)]
struct SlowStart {
    wait: Duration,
    /// Spin without checkpoints instead of waiting interruptibly.
    spin: bool,
    shut_down: Arc<AtomicBool>,
}

impl BackgroundThread for SlowStart {
    type Task = ();
    fn startup(&mut self, ctx: &Context) -> Result<(), BoxError> {
        if self.spin {
            let started = Instant::now();
            while started.elapsed() < self.wait {
                std::hint::spin_loop();
            }
        } else {
            ctx.sleep(self.wait);
        }
        Ok(())
    }
    fn handle(&mut self, (): (), _ctx: &Context) -> Result<(), BoxError> {
        Ok(())
    }
    fn shutdown(&mut self, _ctx: &Context) {
        self.shut_down.store(true, Ordering::SeqCst);
    }
}

#[test]
fn a_startup_that_overruns_is_halted_and_spawn_hands_the_value_back() {
    let registry = Registry::new();
    let started = Instant::now();
    let error = SlowStart {
        wait: Duration::from_secs(3600),
        ..SlowStart::default()
    }
    .spawn_in(&registry)
    .unwrap_err();
    assert!(started.elapsed() < BOUND);
    assert!(
        matches!(error.failure(), SpawnFailure::StartupTimedOut { limit } if *limit == Duration::from_millis(50)),
        "{:?}",
        error.failure()
    );
    assert_eq!(
        error.to_string(),
        "could not spawn thread `slow_start`: startup did not finish within 50ms"
    );
    let value = error.into_inner();
    assert_eq!(value.wait, Duration::from_secs(3600));
    // It never started: `shutdown` did not run, and nothing stays in the registry.
    assert!(!value.shut_down.load(Ordering::SeqCst));
    assert!(registry.is_empty());
    assert!(registry.unjoined_exits().is_empty());
}

#[test]
fn a_startup_that_finishes_late_without_a_checkpoint_is_shut_down_and_handed_back() {
    let registry = Registry::new();
    let error = SlowStart {
        wait: Duration::from_millis(300),
        spin: true,
        ..SlowStart::default()
    }
    .spawn_in(&registry)
    .unwrap_err();
    assert!(matches!(
        error.failure(),
        SpawnFailure::StartupTimedOut { .. }
    ));
    // It did start (late): its `shutdown` ran before the value came back.
    assert!(error.into_inner().shut_down.load(Ordering::SeqCst));
    assert!(registry.is_empty());
}

#[test]
fn a_startup_that_finishes_at_the_limit_either_started_or_was_handed_back_whole() {
    // Around the limit, the startup and the timeout race: whichever wins, the result is
    // whole (a running thread, or the value back and nothing left behind).
    for wait in [40, 45, 50, 55, 60] {
        let registry = Registry::new();
        let shut_down = Arc::new(AtomicBool::new(false));
        let spawned = SlowStart {
            wait: Duration::from_millis(wait),
            spin: true,
            shut_down: Arc::clone(&shut_down),
        }
        .spawn_in(&registry);
        match spawned {
            Ok(handle) => {
                assert_eq!(handle.state(), State::Running);
                assert_eq!(registry.len(), 1);
                handle.stop();
                assert!(handle.join_timeout(BOUND).unwrap().outcome().is_clean());
            }
            Err(error) => {
                assert!(matches!(
                    error.failure(),
                    SpawnFailure::StartupTimedOut { .. }
                ));
                assert!(registry.is_empty());
            }
        }
        assert!(shut_down.load(Ordering::SeqCst));
    }
}

#[test]
fn a_startup_within_its_limit_starts_the_thread() {
    let slow = SlowStart {
        wait: Duration::from_millis(1),
        ..SlowStart::default()
    }
    .spawn_in(&Registry::new())
    .unwrap();
    slow.stop();
    assert!(slow.join_timeout(BOUND).unwrap().outcome().is_clean());
}

#[test]
fn a_cast_that_finds_no_room_in_time_is_handed_back() {
    let (gated, open, _keep) = busy_and_full();
    let (ran, flag) = ran_flag();
    let error = gated
        .cast_timeout(Duration::from_millis(20), move |_, _| {
            flag.store(true, Ordering::SeqCst);
        })
        .unwrap_err();
    assert!(
        matches!(error, threadward::CastError::Timeout(_)),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "timed out waiting for room in a background thread's queue"
    );
    drop(error.into_inner());
    gated.halt();
    open.send(()).unwrap();
    gated.join_timeout(BOUND).unwrap();
    assert!(!ran.load(Ordering::SeqCst));
    // With room, it is queued and runs.
    let gated = Gated::default().spawn_in(&Registry::new()).unwrap();
    gated.cast_timeout(BOUND, |g, _| g.value = 3).unwrap();
    assert_eq!(gated.call_timeout(BOUND, |g, _| g.value).unwrap(), 3);
    gated.stop();
    gated.join_timeout(BOUND).unwrap();
}
