//! A thread whose `startup` fails publishes an exit like every other thread: a handle
//! taken from the registry while `startup` ran sees `join` return at once with the
//! failure, every task it sent comes back as undelivered, a call waiting on it learns
//! that the thread ended, and later sends say the thread failed.

use std::sync::mpsc;
use std::time::Duration;

use threadward::{
    background_thread, BackgroundThread, BoxError, CallError, Context, Handle, Outcome, Registry,
    SpawnError, SpawnFailure, State,
};

const BOUND: Duration = Duration::from_secs(10);

/// Says when `startup` began, then fails or succeeds as it is told.
#[background_thread(name = "slow-failer")]
struct SlowFailer {
    entered: mpsc::Sender<()>,
    verdict: mpsc::Receiver<bool>,
}

impl BackgroundThread for SlowFailer {
    type Task = u32;
    fn startup(&mut self, _ctx: &Context) -> Result<(), BoxError> {
        let _ = self.entered.send(());
        match self.verdict.recv_timeout(BOUND) {
            Ok(true) => Ok(()),
            _ => Err("config missing".into()),
        }
    }
    fn handle(&mut self, _: u32, _ctx: &Context) -> Result<(), BoxError> {
        Ok(())
    }
}

/// A spawn running on a thread of its own.
type Spawning = std::thread::JoinHandle<Result<Handle<SlowFailer>, SpawnError<SlowFailer>>>;

/// Spawns a `SlowFailer` into `registry` from a thread of its own and returns once its
/// `startup` began: the spawn's result, and the sender of the verdict.
fn start_slowly(registry: &Registry) -> (Spawning, mpsc::Sender<bool>) {
    let (entered_tx, entered) = mpsc::channel();
    let (verdict, verdict_rx) = mpsc::channel();
    let failer = SlowFailer {
        entered: entered_tx,
        verdict: verdict_rx,
    };
    let registry = registry.clone();
    let spawner = std::thread::spawn(move || failer.spawn_in(&registry));
    entered.recv_timeout(BOUND).expect("startup began");
    (spawner, verdict)
}

#[test]
fn a_handle_from_the_registry_sees_a_failed_startup_end_and_gets_its_tasks_back() {
    let registry = Registry::new();
    let (spawner, verdict) = start_slowly(&registry);

    let handle = registry
        .find("slow-failer")
        .expect("in the registry while starting")
        .downcast::<SlowFailer>()
        .expect("a SlowFailer");
    for task in 1..=3 {
        handle.send(task).expect("accepted while starting");
    }
    let (call_tx, call_rx) = mpsc::channel();
    let caller = handle.clone();
    std::thread::spawn(move || {
        let _ = call_tx.send(caller.call(|_, _| 7).map_err(|e| e.to_string()));
    });
    // Fail only once the call waits in the queue behind the three tasks.
    for _ in 0..10_000 {
        if handle.info().queue_depth == 4 {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(handle.info().queue_depth, 4, "the call was queued");

    verdict.send(false).unwrap();
    let err = spawner.join().unwrap().unwrap_err();
    assert!(matches!(err.failure(), SpawnFailure::Startup(_)), "{err}");

    let exit = handle.join_timeout(BOUND).expect("join returns at once");
    assert!(
        matches!(exit.outcome(), Outcome::StartupFailed { .. }),
        "{:?}",
        exit.outcome()
    );
    assert_eq!(exit.outcome().to_string(), "startup failed: config missing");
    assert_eq!(exit.handled(), 0);
    assert_eq!(
        exit.undelivered(),
        [1, 2, 3],
        "every accepted task comes back"
    );
    assert_eq!(
        call_rx.recv_timeout(BOUND).expect("the call returns"),
        Err(CallError::<()>::Ended.to_string())
    );

    assert_eq!(handle.state(), State::Failed);
    let refused = handle.send(4).unwrap_err();
    assert_eq!(refused.state(), State::Failed);
    assert_eq!(
        refused.to_string(),
        "sending to a background thread that failed"
    );
    assert!(registry.is_empty());
    assert!(
        registry.unjoined_exits().is_empty(),
        "spawn handed the failure to its caller"
    );
}

#[test]
fn a_type_erased_join_returns_at_once_too() {
    let registry = Registry::new();
    let (spawner, verdict) = start_slowly(&registry);
    let any = registry.find("slow-failer").expect("in the registry");
    verdict.send(false).unwrap();
    let report = any.join_timeout(BOUND).expect("join returns");
    assert!(matches!(report.outcome(), Outcome::StartupFailed { .. }));
    assert!(spawner.join().unwrap().is_err(), "spawn failed");
}

#[test]
fn a_startup_that_succeeds_keeps_the_tasks_sent_meanwhile() {
    let registry = Registry::new();
    let (spawner, verdict) = start_slowly(&registry);
    let early = registry
        .find("slow-failer")
        .and_then(|any| any.downcast::<SlowFailer>().ok())
        .expect("a SlowFailer");
    early.send(1).unwrap();
    verdict.send(true).unwrap();
    let handle = spawner.join().unwrap().map_err(drop).expect("started");
    handle.stop();
    let exit = handle.join_timeout(BOUND).expect("ends");
    assert!(exit.outcome().is_clean());
    assert_eq!(exit.handled(), 1);
}
