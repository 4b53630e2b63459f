//! The manager at its edges: stops racing spawns in flight (and their failures),
//! joins from inside a managed startup or job, a join that times out, a dropped
//! manager, and everything at once. Every wait is bounded.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel as channel;
use threadward::{
    background_thread, BackgroundThread, BoxError, Context, JoinTimeoutError, Manager, Outcome,
    Registry,
};

const BOUND: Duration = Duration::from_secs(20);

fn wait_until(what: &str, done: impl Fn() -> bool) {
    let waited = Instant::now();
    while !done() {
        assert!(waited.elapsed() < BOUND, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// A startup that takes `ms` and then fails (or succeeds).
#[background_thread]
struct SlowStart {
    id: u32,
    ms: u64,
    fail: bool,
}

impl BackgroundThread for SlowStart {
    type Task = ();
    fn startup(&mut self, ctx: &Context) -> Result<(), BoxError> {
        ctx.sleep(Duration::from_millis(self.ms));
        if self.fail {
            return Err("startup failed".into());
        }
        Ok(())
    }
    fn handle(&mut self, (): (), _ctx: &Context) -> Result<(), BoxError> {
        Ok(())
    }
}

/// A value whose spawn is in flight when `stop` runs, and then fails, is handed back by
/// that `stop` (which waits for it), and a second `stop` hands back nothing more.
#[test]
fn a_stop_racing_a_failing_spawn_hands_the_value_back() {
    let registry = Registry::new();
    let manager = Manager::in_registry(1, &registry);
    manager
        .push(SlowStart {
            id: 7,
            ms: 300,
            fail: true,
        })
        .unwrap();
    let runner = std::thread::spawn({
        let manager = manager.clone();
        move || manager.run()
    });
    // The launch is in flight (startup sleeping).
    wait_until("the launch", || registry.len() == 1);
    let handed_back = manager.stop();
    assert_eq!(runner.join().unwrap(), Ok(0));
    let reports = manager.join_timeout(BOUND).unwrap();
    assert!(manager.stop().is_empty());
    assert_eq!((handed_back.len(), reports.len()), (1, 0));
    assert_eq!(
        handed_back[0].failure().map(ToString::to_string).as_deref(),
        Some("startup failed: startup failed")
    );
    assert_eq!(
        handed_back
            .into_iter()
            .next()
            .unwrap()
            .downcast::<SlowStart>()
            .unwrap()
            .id,
        7
    );
}

/// `halt` reaches a thread whose spawn is in flight: its interruptible startup is cut
/// short, and the value comes back.
#[test]
fn a_halt_reaches_a_startup_in_flight() {
    let registry = Registry::new();
    let manager = Manager::in_registry(1, &registry);
    manager
        .push(SlowStart {
            id: 1,
            ms: 5_000,
            fail: false,
        })
        .unwrap();
    let runner = std::thread::spawn({
        let manager = manager.clone();
        move || manager.run()
    });
    wait_until("the launch", || registry.len() == 1);
    let asked = Instant::now();
    let handed_back = manager.halt();
    assert!(
        asked.elapsed() < Duration::from_secs(4),
        "the 5 s startup was not halted"
    );
    assert_eq!(handed_back.len(), 1);
    assert!(matches!(
        handed_back[0].failure(),
        Some(threadward::SpawnFailure::Halted)
    ));
    assert!(manager.join_timeout(BOUND).unwrap().is_empty());
    assert_eq!(runner.join().unwrap(), Ok(0));
    assert!(registry.is_empty());
}

/// A managed thread's `startup` that joins its manager does not wait for its own
/// spawn (which could never finish meanwhile).
#[background_thread]
struct JoinsInStartup {
    manager: Manager,
    result: Arc<Mutex<Option<String>>>,
}

impl BackgroundThread for JoinsInStartup {
    type Task = ();
    fn startup(&mut self, _ctx: &Context) -> Result<(), BoxError> {
        let joined = self.manager.join_timeout(Duration::from_secs(2));
        *self.result.lock().unwrap() = Some(format!("{joined:?}"));
        Ok(())
    }
    fn handle(&mut self, (): (), _ctx: &Context) -> Result<(), BoxError> {
        Ok(())
    }
}

#[test]
fn a_join_from_a_managed_startup_does_not_wait_for_itself() {
    let registry = Registry::new();
    let manager = Manager::in_registry(2, &registry);
    let result = Arc::new(Mutex::new(None));
    manager
        .push(JoinsInStartup {
            manager: manager.clone(),
            result: Arc::clone(&result),
        })
        .unwrap();
    let started = Instant::now();
    assert_eq!(manager.run(), Ok(1));
    assert!(started.elapsed() < Duration::from_secs(2));
    manager.stop();
    manager.join_timeout(BOUND).unwrap();
    let result = result.lock().unwrap().clone().unwrap();
    assert_eq!(result, "Ok([])");
}

/// A `join_timeout` that times out keeps the reports of the threads it joined (whose
/// exits it took) for the next join: a failed thread's report is never lost.
#[test]
fn a_join_that_timed_out_leaves_its_reports_to_the_next() {
    let registry = Registry::new();
    let manager = Manager::in_registry(2, &registry);
    let (release, gate) = channel::unbounded::<()>();
    manager
        .push(threadward::thread("fails").build(|_ctx| Err("boom".into())))
        .unwrap();
    manager
        .push(threadward::thread("waits").build(move |ctx| {
            let _ = ctx.recv(&gate);
            Ok(())
        }))
        .unwrap();
    assert_eq!(manager.run(), Ok(2));
    let first = manager.join_timeout(Duration::from_millis(300));
    assert!(matches!(first, Err(JoinTimeoutError::Timeout)));
    drop(release);
    manager.stop();
    let rest = manager.join_timeout(BOUND).unwrap();
    let names: Vec<_> = rest.iter().map(threadward::ExitReport::name).collect();
    assert_eq!(names, ["fails", "waits"]);
    assert!(matches!(rest[0].outcome(), Outcome::Failed(_)));
}

/// Stress: pushers, run callers, a watch and a stopper at once, with some values whose
/// startup fails. Every pushed value must be handed back by the (first) stop, refused by
/// push, or reported exactly once by join.
#[test]
fn push_run_watch_and_stop_at_once_account_for_every_value() {
    for round in 0..40u64 {
        let registry = Registry::new();
        let manager = Manager::in_registry(2, &registry);
        let barrier = Arc::new(Barrier::new(5));
        let accepted = Arc::new(AtomicUsize::new(0));
        let mut pushers = Vec::new();
        for p in 0..2u32 {
            let (manager, barrier, accepted) =
                (manager.clone(), Arc::clone(&barrier), Arc::clone(&accepted));
            pushers.push(std::thread::spawn(move || {
                barrier.wait();
                for i in 0..15u32 {
                    let id = p * 100 + i;
                    if manager
                        .push(SlowStart {
                            id,
                            ms: u64::from(i % 3),
                            fail: i % 4 == 0,
                        })
                        .is_ok()
                    {
                        accepted.fetch_add(1, Ordering::SeqCst);
                    }
                }
            }));
        }
        let runner = std::thread::spawn({
            let (manager, barrier) = (manager.clone(), Arc::clone(&barrier));
            move || {
                barrier.wait();
                for _ in 0..30 {
                    let _ = manager.run();
                }
            }
        });
        let watcher = std::thread::spawn({
            let (manager, barrier) = (manager.clone(), Arc::clone(&barrier));
            move || {
                barrier.wait();
                let _ = manager.watch();
            }
        });
        barrier.wait();
        std::thread::sleep(Duration::from_millis(round % 7));
        let handed_back = manager.stop();
        for p in pushers {
            p.join().unwrap();
        }
        runner.join().unwrap();
        watcher.join().unwrap();
        let reports = manager.join_timeout(BOUND).unwrap();
        let mut ids: Vec<_> = reports.iter().map(threadward::ExitReport::id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), reports.len(), "a report appears twice");
        let accepted = accepted.load(Ordering::SeqCst);
        // Failed spawns publish no report through join; they are handed back.
        let accounted = handed_back.len() + reports.len();
        assert_eq!(accounted, accepted, "round {round}");
        assert!(manager.stop().is_empty(), "round {round}");
        wait_until("an empty registry", || registry.is_empty());
    }
}

/// A manager dropped while watching ends its watch thread.
#[test]
fn a_dropped_manager_ends_its_watch() {
    let registry = Registry::new();
    let manager = Manager::in_registry(1, &registry);
    manager.watch().unwrap();
    wait_until("the watch", || registry.find("manager").is_some());
    drop(manager);
    wait_until("the watch to end", || registry.find("manager").is_none());
}

/// `stop` and `join` called from inside a managed job.
#[test]
fn stop_and_join_from_inside_a_job() {
    let registry = Registry::new();
    let manager = Manager::in_registry(2, &registry);
    let (tx, rx) = channel::bounded(1);
    let inner = manager.clone();
    manager
        .push(threadward::thread("stopper").build(move |_ctx| {
            let left = inner.stop();
            let joined = inner.join_timeout(Duration::from_secs(5));
            let _ = tx.send((left.len(), joined.map(|r| r.len())));
            Ok(())
        }))
        .unwrap();
    for _ in 0..3 {
        manager
            .push(threadward::thread("other").build(|ctx| {
                ctx.sleep(Duration::from_secs(60));
                Ok(())
            }))
            .unwrap();
    }
    manager.watch().unwrap();
    let got = rx.recv_timeout(BOUND).expect("the job answered");
    let reports = manager.join_timeout(BOUND).unwrap();
    // Each job is accounted once: never started (handed back by the inner stop), or
    // its report taken by the inner join or, after it, by this one (the stopper's own,
    // and any the inner join did not wait for).
    let inner = got.1.as_ref().map_or(0, |joined| *joined);
    assert_eq!(
        got.0 + inner + reports.len(),
        4,
        "{got:?} {}",
        reports.len()
    );
}
