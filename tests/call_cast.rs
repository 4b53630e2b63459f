//! Request–reply (`call`) and fire-and-forget (`cast`) closures run on the thread,
//! in queue order with the tasks.

use std::sync::mpsc;
use std::time::Duration;

use threadward::{
    background_thread, BackgroundThread, BoxError, CallError, Context, Handle, Registry, State,
};

const BOUND: Duration = Duration::from_secs(10);

#[background_thread(name = "ledger")]
#[derive(Default)]
struct Ledger {
    entries: Vec<i64>,
}

impl BackgroundThread for Ledger {
    type Task = i64;
    fn handle(&mut self, amount: i64, _ctx: &Context) -> Result<(), BoxError> {
        self.entries.push(amount);
        Ok(())
    }
}

fn ledger() -> Handle<Ledger> {
    Ledger::default().spawn_in(&Registry::new()).unwrap()
}

fn finish(handle: &Handle<Ledger>) {
    handle.stop();
    handle.join_timeout(BOUND).unwrap();
}

#[test]
fn call_runs_after_the_queued_tasks_and_returns_its_value() {
    let ledger = ledger();
    for amount in [10, -3, 5] {
        ledger.send(amount).unwrap();
    }
    let balance: i64 = ledger.call(|l, _| l.entries.iter().sum()).unwrap();
    assert_eq!(balance, 12);
    let on_thread = ledger
        .call(|_, ctx| (ctx.name(), std::thread::current().name().map(str::to_owned)))
        .unwrap();
    assert_eq!(on_thread, ("ledger", Some("ledger".to_owned())));
    finish(&ledger);
}

#[test]
fn cast_runs_on_the_thread_without_waiting() {
    let ledger = ledger();
    let (tx, rx) = mpsc::channel();
    ledger.send(7).unwrap();
    ledger
        .cast(move |l, _| tx.send(l.entries.clone()).unwrap())
        .unwrap();
    assert_eq!(rx.recv_timeout(BOUND).unwrap(), [7]);
    ledger.cast(|l, _| l.entries.clear()).unwrap();
    assert!(ledger.call(|l, _| l.entries.is_empty()).unwrap());
    finish(&ledger);
}

/// Occupies the thread with a cast until the returned sender sends (or is dropped); the
/// cast runs `then` when released. Returns once the cast is running.
fn occupy(ledger: &Handle<Ledger>, then: fn()) -> mpsc::Sender<()> {
    let (release, blocked) = mpsc::channel::<()>();
    let (entered_tx, entered_rx) = mpsc::channel();
    ledger
        .cast(move |_, _| {
            entered_tx.send(()).unwrap();
            let _ = blocked.recv_timeout(BOUND);
            then();
        })
        .unwrap();
    entered_rx.recv_timeout(BOUND).unwrap();
    release
}

/// Waits (bounded) until `depth` messages wait in the queue.
fn wait_for_depth(ledger: &Handle<Ledger>, depth: usize) {
    let deadline = std::time::Instant::now() + BOUND;
    while ledger.info().queue_depth != depth {
        assert!(
            std::time::Instant::now() < deadline,
            "queue never reached {depth}"
        );
        std::thread::yield_now();
    }
}

#[test]
fn calls_accepted_before_stop_still_run() {
    let ledger = ledger();
    let release = occupy(&ledger, || {});
    let (answer_tx, answer_rx) = mpsc::channel();
    let caller = ledger.clone();
    let waiting = std::thread::spawn(move || answer_tx.send(caller.call(|l, _| l.entries.len())));
    // The call is queued behind the blocked cast; let it enter the queue, then stop.
    wait_for_depth(&ledger, 1);
    ledger.stop();
    release.send(()).unwrap();
    assert_eq!(answer_rx.recv_timeout(BOUND).unwrap().unwrap(), 0);
    waiting.join().unwrap().unwrap();
    ledger.join_timeout(BOUND).unwrap();
}

#[test]
fn call_and_cast_on_a_stopped_thread_hand_the_closure_back() {
    let ledger = ledger();
    finish(&ledger);
    let marker = String::from("kept");
    let err = ledger.call(move |_, _| marker.len()).unwrap_err();
    assert!(matches!(err, CallError::Closed(_, State::Stopped)));
    assert_eq!(
        err.to_string(),
        "calling a background thread that has stopped"
    );
    let f = err.into_inner().expect("the closure is handed back");
    assert_eq!(f(&mut Ledger::default(), &dummy_context()), 4);

    let err = ledger.cast(|l, _| l.entries.push(1)).unwrap_err();
    let mut l = Ledger::default();
    (err.into_inner())(&mut l, &dummy_context());
    assert_eq!(l.entries, [1]);
}

/// A `Context` for running handed-back closures in the test: taken from a real thread.
fn dummy_context() -> Context {
    let probe = ledger();
    let ctx = probe.call(|_, ctx| ctx.clone()).unwrap();
    finish(&probe);
    ctx
}

#[test]
fn a_call_that_panics_ends_the_thread_and_the_caller_learns_it() {
    let ledger = ledger();
    let err = ledger
        .call(|_, _| -> u8 { panic!("bad call") })
        .unwrap_err();
    assert!(matches!(err, CallError::Ended));
    assert!(err.into_inner().is_none());
    let exit = ledger.join_timeout(BOUND).unwrap();
    assert_eq!(exit.outcome().to_string(), "panicked: bad call");
}

#[test]
fn a_call_queued_behind_a_failure_ends_unanswered() {
    let ledger = ledger();
    let release = occupy(&ledger, || panic!("fails first"));
    let caller = ledger.clone();
    let waiting = std::thread::spawn(move || {
        caller
            .call(|l, _| l.entries.len())
            .map_err(|e| e.to_string())
    });
    wait_for_depth(&ledger, 1);
    release.send(()).unwrap();
    assert_eq!(
        waiting.join().unwrap(),
        Err("the background thread ended before answering the call".to_owned())
    );
    ledger.join_timeout(BOUND).unwrap();
}

#[test]
fn a_thread_calling_itself_gets_an_error_instead_of_a_deadlock() {
    let ledger = ledger();
    let me = ledger.clone();
    let result = ledger
        .call(move |_, _| match me.call(|l, _| l.entries.len()) {
            Err(CallError::OwnThread(_)) => "own thread",
            Err(_) => "other error",
            Ok(_) => "answered",
        })
        .unwrap();
    assert_eq!(result, "own thread");
    finish(&ledger);
}
