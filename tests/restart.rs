//! Restarts (`restart = "on-failure"`): a failed instance is replaced by a fresh value
//! from the factory, which runs `startup` and handles the tasks queued behind the
//! failure; the task it failed on is reported, not retried; the intensity ends it for
//! good; a stop during the backoff drains, a halt returns the queue; the handle stays
//! valid. Every wait is bounded.

mod restarting;

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use threadward::{
    background_thread, BackgroundThread, BoxError, Context, Declared, Outcome, Registry,
    RestartPolicy,
};

use restarting::{fail_if, wait_for, BOUND};

/// Counts across instances: how many were built and started, what was handled.
static STARTS: AtomicU32 = AtomicU32::new(0);

/// Fails on a task of 0, panics on `u64::MAX`, adds up the rest (into `SUM`).
#[background_thread(
    restart = "on-failure",
    max_restarts = 2,
    within = "1m",
    backoff = "20ms"
)]
#[derive(Default)]
struct Flaky {
    seen: u64,
}

static SUM: AtomicU64 = AtomicU64::new(0);
static SHUT_DOWN: AtomicU32 = AtomicU32::new(0);

impl BackgroundThread for Flaky {
    type Task = u64;
    fn startup(&mut self, _ctx: &Context) -> Result<(), BoxError> {
        STARTS.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
    fn handle(&mut self, task: u64, _ctx: &Context) -> Result<(), BoxError> {
        match task {
            0 => Err("task 0 is poison".into()),
            u64::MAX => panic!("task MAX panics"),
            n => {
                self.seen += 1;
                SUM.fetch_add(n, Ordering::SeqCst);
                Ok(())
            }
        }
    }
    fn shutdown(&mut self, _ctx: &Context) {
        SHUT_DOWN.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn a_failed_instance_is_replaced_and_the_queue_behind_it_is_handled() {
    assert_eq!(Flaky::RESTART.policy(), RestartPolicy::OnFailure);
    let registry = Registry::new();
    let flaky = Flaky::default().spawn_in(&registry).unwrap();
    // One batch: good, poison, good, panic, good. Each failure loses only its own task.
    for task in [1, 0, 2, u64::MAX, 4] {
        flaky.send(task).unwrap();
    }
    // The fresh instance answers: `seen` counts since its start.
    wait_for(
        || SUM.load(Ordering::SeqCst) >= 7,
        "the queue behind the failures to be handled",
    );
    assert_eq!(flaky.call(|f, _| f.seen).unwrap(), 1);
    let info = flaky.info();
    assert_eq!(info.restarts, 2);
    assert_eq!(
        info.last_failure.as_deref(),
        Some("panicked: task MAX panics")
    );
    assert_eq!(STARTS.load(Ordering::SeqCst), 3);
    // Each replaced instance ran `shutdown` (its `startup` had succeeded).
    assert_eq!(SHUT_DOWN.load(Ordering::SeqCst), 2);
    // A third failure within the minute exceeds the intensity: failed for good.
    flaky.send(0).unwrap();
    flaky.send(8).unwrap(); // returned, not handled
    let exit = flaky.join_timeout(BOUND).unwrap();
    assert!(
        matches!(exit.outcome(), Outcome::Failed(e) if e.to_string() == "task 0 is poison"),
        "{:?}",
        exit.outcome()
    );
    assert_eq!(exit.restarts(), 2);
    assert_eq!(SHUT_DOWN.load(Ordering::SeqCst), 3);
    assert_eq!(exit.undelivered(), [8]);
    assert_eq!(SUM.load(Ordering::SeqCst), 7);
    assert_eq!(exit.handled(), 6); // every task given to `handle`, the failed ones too
    assert_eq!(registry.unjoined_exits().len(), 0); // joined
}

/// Fails at once on every task; built through a factory that counts.
#[background_thread(restart = "on-failure", max_restarts = 100, within = "1m", backoff = "1h", factory = Patient::new)]
struct Patient;

static PATIENT_BUILT: AtomicU32 = AtomicU32::new(0);

impl Patient {
    fn new() -> Self {
        PATIENT_BUILT.fetch_add(1, Ordering::SeqCst);
        Patient
    }
}

impl BackgroundThread for Patient {
    type Task = bool;
    fn handle(&mut self, fail: bool, _ctx: &Context) -> Result<(), BoxError> {
        fail_if(fail)
    }
}

#[test]
fn a_stop_during_the_backoff_drains_the_queue_with_a_fresh_instance() {
    let patient = Patient::new().spawn_in(&Registry::new()).unwrap();
    patient.send(true).unwrap(); // fails; the restart waits an hour
    patient.send(false).unwrap();
    patient.send(false).unwrap();
    wait_for(|| patient.info().last_failure.is_some(), "the failure");
    let built = PATIENT_BUILT.load(Ordering::SeqCst);
    let asked = Instant::now();
    patient.stop();
    let exit = patient.join_timeout(BOUND).unwrap();
    assert!(
        asked.elapsed() < Duration::from_secs(10),
        "the backoff was not cut short"
    );
    assert!(
        matches!(exit.outcome(), Outcome::Stopped),
        "{:?}",
        exit.outcome()
    );
    assert_eq!(exit.handled(), 3);
    assert!(exit.undelivered().is_empty());
    assert!(
        PATIENT_BUILT.load(Ordering::SeqCst) > built,
        "no fresh value drained"
    );
}

#[test]
fn a_halt_during_the_backoff_returns_the_queue() {
    let patient = Patient::new().spawn_in(&Registry::new()).unwrap();
    patient.send(true).unwrap();
    patient.send(false).unwrap();
    wait_for(|| patient.info().last_failure.is_some(), "the failure");
    patient.halt();
    let exit = patient.join_timeout(BOUND).unwrap();
    assert!(
        matches!(exit.outcome(), Outcome::Halted),
        "{:?}",
        exit.outcome()
    );
    assert_eq!(exit.undelivered(), [false]);
    // No fresh value was built: no restart counted, the failure shown.
    assert_eq!(exit.restarts(), 0);
}

/// Its `startup` fails while `FAILING_STARTS` is above zero.
#[background_thread(
    restart = "on-failure",
    max_restarts = 3,
    within = "1m",
    backoff = "1ms"
)]
#[derive(Default)]
struct Shaky;

static FAILING_STARTS: AtomicU32 = AtomicU32::new(0);

impl BackgroundThread for Shaky {
    type Task = bool;
    fn startup(&mut self, _ctx: &Context) -> Result<(), BoxError> {
        if FAILING_STARTS.load(Ordering::SeqCst) > 0 {
            FAILING_STARTS.fetch_sub(1, Ordering::SeqCst);
            return Err("not yet".into());
        }
        Ok(())
    }
    fn handle(&mut self, fail: bool, _ctx: &Context) -> Result<(), BoxError> {
        fail_if(fail)
    }
}

#[test]
fn a_failed_startup_of_a_restart_counts_and_is_retried_within_the_intensity() {
    let shaky = Shaky.spawn_in(&Registry::new()).unwrap();
    FAILING_STARTS.store(2, Ordering::SeqCst);
    shaky.send(true).unwrap();
    shaky.send(false).unwrap();
    // Restart 1 fails in startup, restart 2 too, restart 3 starts and handles `false`.
    assert_eq!(shaky.call_timeout(BOUND, |_, _| ()).ok(), Some(()));
    let info = shaky.info();
    assert_eq!(info.restarts, 3);
    assert_eq!(
        info.last_failure.as_deref(),
        Some("startup failed: not yet")
    );
    shaky.stop();
    let exit = shaky.join_timeout(BOUND).unwrap();
    assert!(matches!(exit.outcome(), Outcome::Stopped));
    assert_eq!(exit.handled(), 2);
}

#[background_thread(
    restart = "on-failure",
    max_restarts = 1000,
    within = "1m",
    backoff = "1ms"
)]
#[derive(Default)]
struct Counted;

static COUNTED_HANDLED: AtomicU64 = AtomicU64::new(0);

impl BackgroundThread for Counted {
    type Task = u64;
    fn handle(&mut self, task: u64, _ctx: &Context) -> Result<(), BoxError> {
        COUNTED_HANDLED.fetch_add(1, Ordering::SeqCst);
        if task % 50 == 0 {
            return Err("every fiftieth task fails".into());
        }
        Ok(())
    }
}

#[test]
fn senders_racing_restarts_lose_nothing() {
    // Four senders, 1,000 tasks each, racing the restarts; every fiftieth task fails
    // and restarts the thread. Every task is handled exactly once (the failed ones
    // included): none lost, none retried.
    let counted = Counted.spawn_in(&Registry::new()).unwrap();
    let barrier = Arc::new(Barrier::new(5));
    let senders: Vec<_> = (0..4u64)
        .map(|s| {
            let (counted, barrier) = (counted.clone(), Arc::clone(&barrier));
            std::thread::spawn(move || {
                barrier.wait();
                let mut accepted = 0u64;
                for n in 0..1000 {
                    if counted.send(s * 1000 + n + 1).is_ok() {
                        accepted += 1;
                    }
                }
                accepted
            })
        })
        .collect();
    barrier.wait();
    let accepted: u64 = senders.into_iter().map(|s| s.join().unwrap()).sum();
    assert_eq!(accepted, 4000);
    // A stopping thread is still restarted, to drain its queue.
    counted.stop();
    let exit = counted.join_timeout(BOUND).unwrap();
    assert!(exit.outcome().is_clean(), "{:?}", exit.outcome());
    assert_eq!(exit.handled(), 4000);
    assert!(exit.undelivered().is_empty());
    assert_eq!(exit.restarts(), 80);
    assert_eq!(COUNTED_HANDLED.load(Ordering::SeqCst), 4000);
}
