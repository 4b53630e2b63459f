//! `delay`: `spawn` returns at once and `startup` runs after the delay; tasks sent
//! meanwhile wait for it; a stop or halt during the delay ends the thread unstarted with
//! those tasks returned; a startup that fails after the delay is told by the exit. Every
//! wait is bounded.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use threadward::{background_thread, BackgroundThread, BoxError, Context, Outcome, State};

const BOUND: Duration = Duration::from_secs(30);

/// What a delayed thread did.
#[derive(Default)]
struct Seen {
    started: AtomicBool,
    shut_down: AtomicBool,
}

#[background_thread(delay = "1h")]
#[derive(Default)]
struct Late {
    seen: Arc<Seen>,
}

impl BackgroundThread for Late {
    type Task = u32;
    fn startup(&mut self, _ctx: &Context) -> Result<(), BoxError> {
        self.seen.started.store(true, Ordering::SeqCst);
        Ok(())
    }
    fn handle(&mut self, _task: u32, _ctx: &Context) -> Result<(), BoxError> {
        Ok(())
    }
    fn shutdown(&mut self, _ctx: &Context) {
        self.seen.shut_down.store(true, Ordering::SeqCst);
    }
}

/// Spawns on another thread, so that a `spawn` that waited for the delay fails the
/// test at the bound instead of hanging it.
fn spawn_late(seen: &Arc<Seen>) -> threadward::Handle<Late> {
    let late = Late {
        seen: Arc::clone(seen),
    };
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || tx.send(late.spawn()));
    let spawned = rx.recv_timeout(BOUND).expect("spawn waited for the delay");
    spawned.unwrap_or_else(|_| panic!("spawn failed"))
}

#[test]
fn a_stop_during_the_delay_ends_the_thread_unstarted_and_returns_its_tasks() {
    let seen = Arc::new(Seen::default());
    let late = spawn_late(&seen);
    assert_eq!(late.state(), State::Starting);
    late.send(1).unwrap();
    late.send(2).unwrap();
    late.stop();
    let exit = late.join_timeout(BOUND).unwrap();
    assert!(
        matches!(exit.outcome(), Outcome::StoppedBeforeStart),
        "{:?}",
        exit.outcome()
    );
    assert!(exit.outcome().is_clean());
    assert_eq!(
        exit.undelivered(),
        [1, 2],
        "the tasks sent meanwhile come back"
    );
    assert!(!seen.started.load(Ordering::SeqCst), "startup never runs");
    assert!(!seen.shut_down.load(Ordering::SeqCst), "nor shutdown");
}

#[test]
fn a_halt_during_the_delay_ends_the_thread_unstarted_too() {
    let seen = Arc::new(Seen::default());
    let late = spawn_late(&seen);
    late.send(3).unwrap();
    late.halt();
    let exit = late.join_timeout(BOUND).unwrap();
    assert!(
        matches!(exit.outcome(), Outcome::Halted),
        "{:?}",
        exit.outcome()
    );
    assert_eq!(exit.undelivered(), [3]);
    assert!(!seen.started.load(Ordering::SeqCst));
}

#[background_thread(delay = "50ms")]
#[derive(Default)]
struct Soon {
    started_at: Option<Instant>,
    handled: Vec<(u32, bool)>,
    fail: bool,
}

impl BackgroundThread for Soon {
    type Task = u32;
    fn startup(&mut self, _ctx: &Context) -> Result<(), BoxError> {
        if self.fail {
            return Err("no database".into());
        }
        self.started_at = Some(Instant::now());
        Ok(())
    }
    fn handle(&mut self, task: u32, _ctx: &Context) -> Result<(), BoxError> {
        self.handled.push((task, self.started_at.is_some()));
        Ok(())
    }
}

#[test]
fn startup_runs_after_the_delay_and_then_handles_what_waited() {
    let spawned = Instant::now();
    let soon = Soon::default().spawn().unwrap();
    soon.send(7).unwrap();
    let (started_at, handled) = soon.call(|s, _| (s.started_at, s.handled.clone())).unwrap();
    let started_at = started_at.expect("startup ran");
    assert!(started_at.duration_since(spawned) >= Duration::from_millis(50));
    assert_eq!(handled, [(7, true)], "handled after startup");
    soon.stop();
    let exit = soon.join_timeout(BOUND).unwrap();
    assert!(matches!(exit.outcome(), Outcome::Stopped));
}

#[test]
fn a_startup_failing_after_the_delay_is_told_by_the_exit_and_remembered() {
    let registry = threadward::Registry::new();
    let soon = Soon {
        fail: true,
        ..Soon::default()
    }
    .spawn_in(&registry)
    .expect("spawn does not wait for a delayed startup");
    let deadline = Instant::now() + BOUND;
    while soon.is_alive() {
        assert!(Instant::now() < deadline, "never ended");
        std::thread::sleep(Duration::from_millis(2));
    }
    // Nobody was told by `spawn`: the registry remembers it until it is joined.
    let remembered = registry.unjoined_exits();
    assert_eq!(remembered.len(), 1);
    assert!(matches!(
        remembered[0].outcome(),
        Outcome::StartupFailed { .. }
    ));
    let exit = soon.join_timeout(BOUND).unwrap();
    assert!(registry.unjoined_exits().is_empty(), "joined: forgotten");
    match exit.outcome() {
        Outcome::StartupFailed { message } => assert!(message.contains("no database")),
        other => panic!("expected StartupFailed, got {other:?}"),
    }
}
