//! The lifecycle promise: startup → handle* → shutdown, each exactly once, in order;
//! spawn errors; panics and failures captured; drain on stop; stop idempotent in every
//! state; joining from the thread itself is an error.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use threadward::{
    background_thread, BackgroundThread, BoxError, Context, Exit, Handle, JoinError,
    JoinTimeoutError, Outcome, Registry, SpawnFailure, State,
};

const BOUND: Duration = Duration::from_secs(10);

fn join<T: BackgroundThread>(handle: &Handle<T>) -> Exit<T> {
    handle.join_timeout(BOUND).expect("the thread ends in time")
}

type Log = Arc<Mutex<Vec<String>>>;

fn entries(log: &Log) -> Vec<String> {
    log.lock().unwrap().clone()
}

/// Records every lifecycle call; tasks say how `handle` behaves.
#[background_thread(name = "recorder")]
#[derive(Default)]
struct Recorder {
    log: Log,
    fail_startup: bool,
    panic_startup: bool,
}

enum Step {
    Note(&'static str),
    Fail,
    Panic,
    /// Blocks until the sender of the channel sends or is dropped.
    WaitFor(Mutex<mpsc::Receiver<()>>),
}

impl BackgroundThread for Recorder {
    type Task = Step;

    fn startup(&mut self, ctx: &Context) -> Result<(), BoxError> {
        self.log
            .lock()
            .unwrap()
            .push(format!("startup {}", ctx.state()));
        assert!(!self.panic_startup, "no config");
        if self.fail_startup {
            return Err("config missing".into());
        }
        Ok(())
    }

    fn handle(&mut self, step: Step, ctx: &Context) -> Result<(), BoxError> {
        match step {
            Step::Note(note) => self.log.lock().unwrap().push(format!("handle {note}")),
            Step::Fail => return Err("cannot send".into()),
            Step::Panic => panic!("boom in {}", ctx.name()),
            Step::WaitFor(rx) => {
                let _ = rx.lock().unwrap().recv_timeout(BOUND);
            }
        }
        Ok(())
    }

    fn shutdown(&mut self, ctx: &Context) {
        self.log
            .lock()
            .unwrap()
            .push(format!("shutdown {}", ctx.state()));
    }
}

fn recorder(registry: &Registry) -> (Handle<Recorder>, Log) {
    let log = Log::default();
    let recorder = Recorder {
        log: log.clone(),
        ..Recorder::default()
    };
    (recorder.spawn_in(registry).unwrap(), log)
}

#[test]
fn runs_startup_then_each_task_then_shutdown_exactly_once() {
    let registry = Registry::new();
    let (handle, log) = recorder(&registry);
    assert_eq!(
        handle.state(),
        State::Running,
        "spawn returns after startup"
    );
    assert_eq!(entries(&log), ["startup starting"]);
    for note in ["a", "b", "c"] {
        handle.send(Step::Note(note)).unwrap();
    }
    handle.stop();
    let exit = join(&handle);
    assert_eq!(
        entries(&log),
        [
            "startup starting",
            "handle a",
            "handle b",
            "handle c",
            "shutdown stopping"
        ]
    );
    assert!(matches!(exit.outcome(), Outcome::Stopped));
    assert_eq!(exit.handled(), 3);
    assert!(exit.undelivered().is_empty());
    assert_eq!(handle.state(), State::Stopped);
    assert!(!handle.is_alive());
}

#[test]
fn failing_startup_returns_the_error_and_the_value_and_leaves_nothing() {
    let registry = Registry::new();
    let log = Log::default();
    let recorder = Recorder {
        log: log.clone(),
        fail_startup: true,
        ..Recorder::default()
    };
    let err = recorder.spawn_in(&registry).unwrap_err();
    assert!(matches!(err.failure(), SpawnFailure::Startup(e) if e.to_string() == "config missing"));
    assert_eq!(err.name(), "recorder");
    assert_eq!(
        err.to_string(),
        "could not spawn thread `recorder`: startup failed: config missing"
    );
    assert!(err.into_inner().fail_startup, "the value is handed back");
    assert!(registry.is_empty());
    assert_eq!(
        entries(&log),
        ["startup starting"],
        "neither handle nor shutdown ran"
    );
}

#[test]
fn panicking_startup_returns_the_message_and_leaves_nothing() {
    let registry = Registry::new();
    let log = Log::default();
    let recorder = Recorder {
        log: log.clone(),
        panic_startup: true,
        ..Recorder::default()
    };
    let err = recorder.spawn_in(&registry).unwrap_err();
    assert!(
        matches!(err.failure(), SpawnFailure::StartupPanicked { message } if message == "no config"),
        "{err}"
    );
    assert!(registry.is_empty());
    assert_eq!(entries(&log), ["startup starting"]);
}

#[test]
fn panic_in_handle_still_runs_shutdown_and_reports_the_message() {
    let registry = Registry::new();
    let (handle, log) = recorder(&registry);
    let (bystander, _) = recorder(&registry);
    let (release, blocked) = mpsc::channel();
    handle.send(Step::WaitFor(Mutex::new(blocked))).unwrap();
    handle.send(Step::Panic).unwrap();
    handle.send(Step::Note("queued after the panic")).unwrap();
    release.send(()).unwrap();

    let exit = join(&handle);
    assert!(
        matches!(exit.outcome(), Outcome::Panicked { message } if message == "boom in recorder"),
        "{:?}",
        exit.outcome()
    );
    assert_eq!(exit.handled(), 2, "the panicking task counts as handled");
    assert_eq!(
        exit.undelivered().len(),
        1,
        "the task queued behind it is returned"
    );
    assert!(matches!(
        exit.undelivered()[0],
        Step::Note("queued after the panic")
    ));
    assert_eq!(entries(&log).last().unwrap(), "shutdown stopping");
    assert_eq!(handle.state(), State::Failed);
    assert!(handle.send(Step::Note("late")).is_err());

    // The registry lost the panicked thread and kept the other one, which still works.
    assert_eq!(registry.len(), 1);
    assert_eq!(registry.active()[0].id, bystander.id());
    bystander.send(Step::Note("still here")).unwrap();
    bystander.stop();
    assert_eq!(join(&bystander).handled(), 1);
}

#[test]
fn error_from_handle_ends_the_thread_and_returns_the_rest() {
    let registry = Registry::new();
    let (handle, log) = recorder(&registry);
    let (release, blocked) = mpsc::channel();
    handle.send(Step::WaitFor(Mutex::new(blocked))).unwrap();
    handle.send(Step::Fail).unwrap();
    handle.send(Step::Note("x")).unwrap();
    handle.send(Step::Note("y")).unwrap();
    release.send(()).unwrap();

    let exit = join(&handle);
    assert!(matches!(exit.outcome(), Outcome::Failed(e) if e.to_string() == "cannot send"));
    assert!(!exit.outcome().is_clean());
    assert_eq!(exit.handled(), 2);
    assert_eq!(exit.report().undelivered(), 2);
    let undelivered = exit.into_undelivered();
    assert!(matches!(
        undelivered[..],
        [Step::Note("x"), Step::Note("y")]
    ));
    assert_eq!(entries(&log).last().unwrap(), "shutdown stopping");
}

#[test]
fn stop_drains_the_queue_then_refuses_new_tasks() {
    let registry = Registry::new();
    let (handle, log) = recorder(&registry);
    let (release, blocked) = mpsc::channel();
    handle.send(Step::WaitFor(Mutex::new(blocked))).unwrap();
    for note in ["1", "2", "3"] {
        handle.send(Step::Note(note)).unwrap();
    }
    handle.stop();
    assert_eq!(handle.state(), State::Stopping);
    let refused = handle.send(Step::Note("late")).unwrap_err();
    assert!(
        matches!(refused.into_inner(), Step::Note("late")),
        "the task is handed back"
    );
    assert!(handle.try_send(Step::Note("late")).unwrap_err().is_closed());
    assert!(handle
        .send_timeout(Step::Note("late"), Duration::from_millis(1))
        .unwrap_err()
        .is_closed());
    release.send(()).unwrap();

    let exit = join(&handle);
    assert_eq!(exit.handled(), 4);
    assert!(exit.undelivered().is_empty());
    assert_eq!(
        entries(&log)[1..],
        ["handle 1", "handle 2", "handle 3", "shutdown stopping"]
    );
}

#[test]
fn stop_is_idempotent_in_every_state() {
    let registry = Registry::new();
    let (handle, _) = recorder(&registry);
    handle.stop();
    handle.stop();
    join(&handle);
    handle.stop();
    handle.to_any().stop();
    assert_eq!(handle.state(), State::Stopped);
}

#[test]
fn the_exit_is_taken_once_and_the_report_stays_readable() {
    let registry = Registry::new();
    let (handle, _) = recorder(&registry);
    let other = handle.clone();
    handle.stop();
    let exit = join(&handle);
    match other.join_timeout(BOUND) {
        Err(JoinTimeoutError::AlreadyJoined(report)) => {
            assert_eq!(report.handled(), exit.handled());
            assert_eq!(report.id(), handle.id());
        }
        other => panic!("expected AlreadyJoined, got {other:?}"),
    }
    let report = handle.to_any().join_timeout(BOUND).unwrap();
    assert!(report.outcome().is_clean());
    assert!(report.stop_took().unwrap() <= report.ran_for());
    assert!(
        report
            .to_string()
            .starts_with("thread `recorder` stopped after"),
        "{report}"
    );
}

#[test]
fn join_timeout_times_out_on_a_running_thread() {
    let registry = Registry::new();
    let (handle, _) = recorder(&registry);
    assert!(matches!(
        handle.join_timeout(Duration::from_millis(20)),
        Err(JoinTimeoutError::Timeout)
    ));
    handle.stop();
    join(&handle);
}

/// Joins itself from `handle` and reports what it got.
#[background_thread]
#[derive(Default)]
struct SelfJoiner {
    me: Option<Handle<SelfJoiner>>,
}

impl BackgroundThread for SelfJoiner {
    type Task = (Handle<SelfJoiner>, mpsc::Sender<String>);

    fn handle(&mut self, (me, report): Self::Task, _ctx: &Context) -> Result<(), BoxError> {
        let joined = match me.join() {
            Err(JoinError::OwnThread) => "join: own thread".to_owned(),
            other => format!("join: {other:?}"),
        };
        let timed = match me.join_timeout(Duration::from_secs(1)) {
            Err(JoinTimeoutError::OwnThread) => "join_timeout: own thread".to_owned(),
            other => format!("join_timeout: {other:?}"),
        };
        let any = format!("{:?}", me.to_any().join().map(|_| ()));
        report.send(format!("{joined}; {timed}; {any}"))?;
        self.me = Some(me);
        Ok(())
    }
}

#[test]
fn joining_from_the_thread_itself_is_an_error_not_a_deadlock() {
    let handle = SelfJoiner::default().spawn_in(&Registry::new()).unwrap();
    let (tx, rx) = mpsc::channel();
    handle.send((handle.clone(), tx)).unwrap();
    let answer = rx
        .recv_timeout(BOUND)
        .expect("the thread answers instead of hanging");
    assert_eq!(
        answer,
        "join: own thread; join_timeout: own thread; Err(OwnThread)"
    );
    handle.stop();
    join(&handle);
}

/// Reports the OS thread's name.
#[background_thread(name = "os-name-probe")]
#[derive(Default)]
struct NameProbe;

impl BackgroundThread for NameProbe {
    type Task = ();
    fn handle(&mut self, (): (), _ctx: &Context) -> Result<(), BoxError> {
        Ok(())
    }
}

#[test]
fn the_os_thread_carries_the_name() {
    let handle = NameProbe.spawn_in(&Registry::new()).unwrap();
    let name = handle
        .call(|_, _| std::thread::current().name().map(str::to_owned))
        .unwrap();
    assert_eq!(name.as_deref(), Some("os-name-probe"));
    handle.stop();
    join(&handle);
}

#[test]
fn a_thread_can_stop_itself() {
    let registry = Registry::new();
    let handle = NameProbe.spawn_in(&registry).unwrap();
    handle.cast(|_, ctx| ctx.stop()).unwrap();
    let exit = join(&handle);
    assert!(exit.outcome().is_clean());
    assert!(registry.is_empty());
}

/// Startup waits for the test's go-ahead, so the test can act while it is `Starting`.
#[background_thread(name = "slow-start")]
#[derive(Default)]
struct SlowStart {
    go: Option<Mutex<mpsc::Receiver<()>>>,
    log: Log,
}

impl BackgroundThread for SlowStart {
    type Task = &'static str;
    fn startup(&mut self, _ctx: &Context) -> Result<(), BoxError> {
        if let Some(go) = &self.go {
            let _ = go.lock().unwrap().recv_timeout(BOUND);
        }
        Ok(())
    }
    fn handle(&mut self, task: &'static str, _ctx: &Context) -> Result<(), BoxError> {
        self.log.lock().unwrap().push(format!("handle {task}"));
        Ok(())
    }
    fn shutdown(&mut self, _ctx: &Context) {
        self.log.lock().unwrap().push("shutdown".to_owned());
    }
}

#[test]
fn stop_during_startup_lets_startup_finish_then_ends_without_handling() {
    let registry = Registry::new();
    let (go, wait) = mpsc::channel();
    let log = Log::default();
    let slow = SlowStart {
        go: Some(Mutex::new(wait)),
        log: log.clone(),
    };
    let spawner = std::thread::spawn({
        let registry = registry.clone();
        move || slow.spawn_in(&registry).map_err(|e| e.to_string())
    });
    // It is in the registry, starting, before `spawn` returns.
    let deadline = std::time::Instant::now() + BOUND;
    let starting = loop {
        if let Some(found) = registry.find("slow-start") {
            break found;
        }
        assert!(std::time::Instant::now() < deadline, "never registered");
        std::thread::yield_now();
    };
    assert_eq!(starting.state(), State::Starting);
    starting.stop();
    assert_eq!(starting.state(), State::Stopping);
    go.send(()).unwrap();

    let handle = spawner.join().unwrap().expect("startup itself succeeded");
    assert!(
        handle.send("too late").is_err(),
        "a stopped thread accepts nothing"
    );
    let exit = join(&handle);
    assert!(exit.outcome().is_clean());
    assert_eq!(exit.handled(), 0);
    assert_eq!(entries(&log), ["shutdown"]);
    assert!(registry.is_empty());
}
