//! The `async` counterparts of the waiting operations: `send_async`, `call_async`,
//! `cast_async` and `join_async`, awaited on tokio's current-thread runtime (one OS
//! thread: a future that blocked it would stall every other task, so each test checks
//! that another task ran meanwhile), and on a hand-rolled executor (no runtime at all).
//! Every wait is bounded.

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll, Wake, Waker};
use std::time::Duration;

use crossbeam_channel::{bounded, Receiver, Sender as Gate};
use threadward::{
    background_thread, BackgroundThread, BoxError, CallError, CastError, Context, JoinError,
    Outcome, State,
};

const BOUND: Duration = Duration::from_secs(30);

/// Holds each task until the test lets it through: the queue stays full meanwhile.
#[background_thread(capacity = 1)]
struct Gated {
    gate: Receiver<()>,
    /// Told each task as `handle` starts it.
    started: Gate<u32>,
    handled: Vec<u32>,
}

impl BackgroundThread for Gated {
    type Task = u32;

    fn handle(&mut self, task: u32, _ctx: &Context) -> Result<(), BoxError> {
        let _ = self.started.send(task);
        self.gate.recv_timeout(BOUND)?;
        self.handled.push(task);
        Ok(())
    }
}

/// A gated thread busy with task 0 and its queue (capacity 1) full with task 1.
fn full() -> (threadward::Handle<Gated>, Gate<()>) {
    let (thread, gate, _started) = full_and_started();
    (thread, gate)
}

/// As [`full`], and the tasks as the thread starts them.
fn full_and_started() -> (threadward::Handle<Gated>, Gate<()>, Receiver<u32>) {
    let (gate, opened) = bounded(0);
    let (started, starts) = crossbeam_channel::unbounded();
    let thread = Gated {
        gate: opened,
        started,
        handled: Vec::new(),
    }
    .spawn()
    .unwrap();
    thread.send(0).unwrap();
    thread.send(1).unwrap(); // waits until task 0 was taken, then fills the queue
    (thread, gate, starts)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
}

/// Runs `future` within the bound on the current-thread runtime.
fn within<F: Future>(future: F) -> F::Output {
    runtime()
        .block_on(async { tokio::time::timeout(BOUND, future).await })
        .expect("the future did not resolve within the bound")
}

#[test]
fn send_async_awaits_room_while_other_tasks_run_on_the_same_thread() {
    let (thread, gate) = full();
    let sender = thread.sender();
    let ticks = Arc::new(AtomicUsize::new(0));
    within(async {
        let sending = tokio::spawn(async move {
            for task in 2..5 {
                sender.send_async(task).await.unwrap();
            }
        });
        // The queue is full: the send waits, and this task still runs beside it.
        for _ in 0..3 {
            tokio::time::sleep(Duration::from_millis(5)).await;
            ticks.fetch_add(1, Ordering::SeqCst);
        }
        assert!(!sending.is_finished(), "a send into a full queue finished");
        let opening = std::thread::spawn(move || {
            for _ in 0..5 {
                gate.send_timeout((), BOUND).unwrap();
            }
        });
        sending.await.unwrap();
        opening.join().unwrap();
    });
    assert_eq!(ticks.load(Ordering::SeqCst), 3);
    thread.stop();
    assert_eq!(thread.call(|_, _| ()).map_err(|_| ()), Err(()));
    let exit = thread.join_timeout(BOUND).unwrap();
    assert_eq!(exit.handled(), 5, "every task sent was handled, in order");
}

#[test]
fn a_stop_while_send_async_awaits_room_hands_the_task_back() {
    let (thread, gate) = full();
    let stopper = thread.clone();
    let refused = within(async {
        let stop = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            stopper.stop();
        });
        let refused = thread.send_async(7).await;
        stop.await.unwrap();
        refused
    });
    let refused = refused.expect_err("the stop refused the waiting send");
    assert_eq!(refused.state(), State::Stopping);
    assert_eq!(refused.into_inner(), 7);
    // The tasks accepted before the stop are still handled.
    std::thread::spawn(move || while gate.send_timeout((), BOUND).is_ok() {});
    let exit = thread.join_timeout(BOUND).unwrap();
    assert_eq!(exit.handled(), 2);
}

#[test]
fn a_send_async_dropped_while_it_waits_queues_nothing() {
    let (thread, gate) = full();
    within(async {
        let timed_out = tokio::time::timeout(Duration::from_millis(20), thread.send_async(9));
        assert!(timed_out.await.is_err(), "the queue stayed full");
    });
    std::thread::spawn(move || while gate.send_timeout((), BOUND).is_ok() {});
    thread.stop();
    let exit = thread.join_timeout(BOUND).unwrap();
    assert_eq!(
        exit.handled(),
        2,
        "the dropped send's task was never queued"
    );
}

#[background_thread]
#[derive(Default)]
struct Ledger {
    entries: Vec<u32>,
}

impl BackgroundThread for Ledger {
    type Task = u32;

    fn handle(&mut self, entry: u32, _ctx: &Context) -> Result<(), BoxError> {
        self.entries.push(entry);
        Ok(())
    }
}

#[test]
fn call_async_resolves_to_the_closures_value_after_the_tasks_before_it() {
    let ledger = Ledger::default().spawn().unwrap();
    ledger.send(1).unwrap();
    ledger.send(2).unwrap();
    let entries = within(ledger.call_async(|ledger, _ctx| ledger.entries.clone()));
    assert_eq!(entries.unwrap(), [1, 2]);
    within(ledger.cast_async(|ledger, _ctx| ledger.entries.push(3))).unwrap();
    assert_eq!(
        within(ledger.call_async(|l, _| l.entries.len())).unwrap(),
        3
    );
    ledger.stop();
    ledger.join_timeout(BOUND).unwrap();
}

#[test]
fn call_async_and_cast_async_hand_the_closure_back_once_the_thread_stopped() {
    let ledger = Ledger::default().spawn().unwrap();
    ledger.stop();
    let marker = Arc::new(());
    let in_closure = Arc::clone(&marker);
    match within(ledger.call_async(move |_, _| drop(in_closure))) {
        Err(CallError::Closed(closure, state)) => {
            assert!(matches!(state, State::Stopping | State::Stopped));
            assert_eq!(Arc::strong_count(&marker), 2, "handed back, not dropped");
            drop(closure);
        }
        Ok(()) => panic!("expected Closed, got Ok"),
        Err(other) => panic!("expected Closed, got {other:?}"),
    }
    assert!(matches!(
        within(ledger.cast_async(|_, _| ())),
        Err(CastError::Closed(..))
    ));
    ledger.join_timeout(BOUND).unwrap();
}

#[test]
fn call_async_ends_with_ended_when_the_closure_panics_the_thread() {
    let ledger = Ledger::default().spawn().unwrap();
    let answer = within(ledger.call_async(|_, _| -> u32 { panic!("inside the call") }));
    assert!(matches!(answer, Err(CallError::Ended)));
    let exit = ledger.join_timeout(BOUND).unwrap();
    assert!(matches!(exit.outcome(), Outcome::Panicked { .. }));
}

#[test]
fn call_async_from_the_thread_itself_is_an_error_instead_of_a_deadlock() {
    let ledger = Ledger::default().spawn().unwrap();
    let me = ledger.clone();
    let answer = ledger
        .call(move |_, _| {
            let own = futures_block_on(me.call_async(|l, _| l.entries.len()));
            let join = futures_block_on(me.join_async());
            (
                matches!(own, Err(CallError::OwnThread(_))),
                matches!(join, Err(JoinError::OwnThread)),
            )
        })
        .unwrap();
    assert_eq!(answer, (true, true));
    ledger.stop();
    ledger.join_timeout(BOUND).unwrap();
}

#[test]
fn a_call_async_dropped_after_queuing_still_runs_its_closure() {
    let (thread, gate, started) = full_and_started();
    let ran = Arc::new(AtomicBool::new(false));
    let in_closure = Arc::clone(&ran);
    within(async {
        let mut call =
            pin!(thread.call_async(move |_, _| in_closure.store(true, Ordering::SeqCst)));
        let waited = tokio::time::timeout(Duration::from_millis(5), &mut call).await;
        assert!(
            waited.is_err(),
            "the queue is full: the call waits for room"
        );
        gate.send_timeout((), BOUND).unwrap(); // task 0 done; task 1 taken: room
        assert_eq!(started.recv_timeout(BOUND).unwrap(), 0);
        assert_eq!(started.recv_timeout(BOUND).unwrap(), 1);
        // Polled until the closure is queued (behind nothing: task 1 is being handled).
        while thread.info().queue_depth == 0 {
            let waited = tokio::time::timeout(Duration::from_millis(1), &mut call).await;
            assert!(
                waited.is_err(),
                "answered while task 1 still holds the thread"
            );
        }
    }); // dropped here, awaiting the answer
    std::thread::spawn(move || while gate.send_timeout((), BOUND).is_ok() {});
    thread.stop();
    thread.join_timeout(BOUND).unwrap();
    assert!(
        ran.load(Ordering::SeqCst),
        "a queued call runs even if nobody awaits it"
    );
}

#[test]
fn join_async_resolves_when_the_thread_ends_and_only_once() {
    let ledger = Ledger::default().spawn().unwrap();
    let stopper = ledger.clone();
    let exit = within(async {
        let stop = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            stopper.stop();
        });
        let exit = ledger.join_async().await;
        stop.await.unwrap();
        exit
    });
    let exit = exit.unwrap();
    assert!(matches!(exit.outcome(), Outcome::Stopped));
    assert!(matches!(
        within(ledger.join_async()),
        Err(JoinError::AlreadyJoined(_))
    ));
}

/// A waker that records that it was woken: with it, a test polls a future only once it
/// was woken, so a lost wake-up fails the test (an executor's spurious polls would
/// hide it).
#[derive(Default)]
struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Polls `future` once now, then only after its waker was called (waiting for that
/// within the bound), until it resolves.
fn poll_only_when_woken<F: Future>(future: F, between: impl FnOnce()) -> F::Output {
    let flag = Arc::new(Flag::default());
    let waker = Waker::from(Arc::clone(&flag));
    let mut cx = TaskContext::from_waker(&waker);
    let mut future = pin!(future);
    assert!(
        future.as_mut().poll(&mut cx).is_pending(),
        "resolved before it had to wait"
    );
    between();
    let deadline = std::time::Instant::now() + BOUND;
    loop {
        while !flag.0.swap(false, Ordering::SeqCst) {
            assert!(std::time::Instant::now() < deadline, "never woken");
            std::thread::sleep(Duration::from_millis(1));
        }
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
    }
}

#[test]
fn each_future_is_woken_when_what_it_waits_for_happens() {
    // Room: the queue is full until the gate lets task 0 through.
    let (thread, gate, started) = full_and_started();
    let room = poll_only_when_woken(thread.send_async(2), || {
        gate.send_timeout((), BOUND).unwrap();
    });
    assert!(room.is_ok());
    // The answer: the call waits behind task 1, held at the gate.
    assert_eq!(started.recv_timeout(BOUND).unwrap(), 0);
    assert_eq!(started.recv_timeout(BOUND).unwrap(), 1);
    let answer = poll_only_when_woken(thread.call_async(|t, _| t.handled.len()), || {
        for _ in 0..2 {
            gate.send_timeout((), BOUND).unwrap(); // tasks 1 and 2
        }
    });
    assert_eq!(answer.unwrap(), 3);
    // The exit: the thread runs until stopped.
    let exit = poll_only_when_woken(thread.join_async(), || thread.stop());
    assert_eq!(exit.unwrap().handled(), 3);
}

#[test]
fn the_futures_can_move_between_threads() {
    fn assert_send<F: Future + Send>(_: &F) {}
    let ledger = Ledger::default().spawn().unwrap();
    assert_send(&ledger.send_async(1));
    assert_send(&ledger.sender().send_async(1));
    assert_send(&ledger.call_async(|_, _| 1));
    assert_send(&ledger.cast_async(|_, _| ()));
    assert_send(&ledger.join_async());
    ledger.stop();
    ledger.join_timeout(BOUND).unwrap();
}

#[test]
fn the_futures_need_no_runtime() {
    // A hand-rolled executor: park the thread until the future's waker unparks it.
    let (thread, gate) = full();
    let opening = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        while gate.send_timeout((), BOUND).is_ok() {}
    });
    futures_block_on(thread.send_async(2)).unwrap();
    // Tasks 0, 1 and 2 come before the call.
    assert_eq!(
        futures_block_on(thread.call_async(|t, _| t.handled.len())).unwrap(),
        3
    );
    thread.stop();
    let exit = futures_block_on(thread.join_async()).unwrap();
    assert_eq!(exit.handled(), 3);
    opening.join().unwrap();
}

/// The smallest executor: polls on this thread, parks until woken, gives up after
/// `BOUND`.
fn futures_block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = TaskContext::from_waker(&waker);
    let mut future = pin!(future);
    let deadline = std::time::Instant::now() + BOUND;
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        assert!(!left.is_zero(), "the future was never woken");
        std::thread::park_timeout(left);
    }
}
