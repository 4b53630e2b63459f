//! Loom models of the close protocol: every interleaving of a few threads is run, so a
//! race that a stress test would hit once in a million runs is found on every run.
//!
//! What is modelled:
//!
//! 1. senders (`send`, and `try_send`/`send` on a capacity-1 queue) racing a
//!    [`Closable::close`] while the [`Inbox`] drains: every accepted item is received
//!    exactly once, every refused item is handed back to its own sender, and `next`
//!    returns `None` only once every accepted item was received; and a sender asleep
//!    on a full queue woken by the receiver making room, or by a close alone;
//! 2. `request_stop` racing `request_halt` (and the end of `startup`, and a late
//!    `on_stop`) on one [`Control`]: each hook runs exactly once, the queue is closed,
//!    the halt flag set, the state `Stopping`, and the draining inbox ends;
//! 3. `Registry::insert` racing `Registry::begin_shutdown`: a thread is either refused
//!    or in the shutdown's snapshot, never accepted and missed; and a thread that ends
//!    unclean racing it is either still running or remembered, never in neither;
//! 4. a stop from another thread (`Context::stop`, `Control::request_stop`) waking a
//!    thread idle in `Inbox::next`, with and without a sender racing it.
//!
//! A missing wake-up shows up as a deadlock, which loom reports.
//!
//! Loom sees only its own primitives: under `--cfg loom`, `sync.rs` hands out loom's
//! atomics, cells, mutex and condition variable, so the queue's own channel (its
//! reservations, its close mark, its blocks, which are two slots long here so that the
//! models cross them, and its sleeping receiver and senders), the stop hooks and the
//! registry lock are all visible to the model: what is checked is the code that runs.
//!
//! Run them with (release: loom is slow in debug builds):
//!
//! ```text
//! RUSTFLAGS="--cfg loom" cargo test -p threadward-runtime --features async --lib --release loom_models
//! ```
//!
//! `LOOM_MAX_PREEMPTIONS` overrides the preemption bound the larger models set.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::thread;

use crate::context::Context;
use crate::control::Control;
use crate::error::{BoxError, SpawnFailure};
use crate::handle::{Managed, Message, Shared};
use crate::ids::State;
use crate::queue::{Closable, Inbox, Item, Queue, Refused};
use crate::registry::Registry;
use crate::thread::{BackgroundThread, Declared};

/// Runs `model` over every interleaving, or, given `preemptions`, over every one with
/// at most that many preemptions (`LOOM_MAX_PREEMPTIONS` overrides it). The larger
/// models are bounded to stay under half a minute each on two cores; every race the
/// mutation checks planted was found with two or three preemptions.
pub(crate) fn check(preemptions: Option<usize>, model: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = builder.preemption_bound.or(preemptions);
    builder.check(model);
}

/// Receives until `next` says the queue is closed and drained.
pub(crate) fn drain<M: Item>(inbox: &Inbox<M>) -> Vec<M> {
    let mut received = Vec::new();
    while let Some(item) = inbox.next(|| ()) {
        received.push(item);
    }
    received
}

/// What became of one item a sender offered: accepted, or handed back.
pub(crate) type Offer = (u32, Result<(), u32>);

/// The whole promise of the queue: an accepted item is received exactly once, a refused
/// one is handed back to its own sender (and so never received).
pub(crate) fn assert_nothing_lost(offers: &[Offer], received: &[u32]) {
    for &(item, outcome) in offers {
        let times = received.iter().filter(|&&r| r == item).count();
        match outcome {
            Ok(()) => assert_eq!(times, 1, "accepted {item} was received {times} times"),
            Err(back) => {
                assert_eq!(back, item, "a refused sender got another item back");
                assert_eq!(times, 0, "refused {item} was received too");
            }
        }
    }
    assert_eq!(
        received.len(),
        offers.iter().filter(|(_, outcome)| outcome.is_ok()).count(),
        "received {received:?}, but offered {offers:?}"
    );
}

fn refused_item<M>(refused: Refused<M>) -> M {
    match refused {
        Refused::Full(item) | Refused::Timeout(item) | Refused::Closed(item) => item,
    }
}

/// A sender thread that offers `items` in order with `send`.
pub(crate) fn sender(
    queue: &Arc<Queue<u32>>,
    items: &'static [u32],
) -> thread::JoinHandle<Vec<Offer>> {
    let queue = Arc::clone(queue);
    thread::spawn(move || items.iter().map(|&i| (i, queue.send(i))).collect())
}

/// A thread that closes `queue`.
pub(crate) fn closer(queue: &Arc<Queue<u32>>) -> thread::JoinHandle<()> {
    let queue = Arc::clone(queue);
    thread::spawn(move || {
        queue.close();
    })
}

/// The receiving side drains on the model's main thread, so it can block in `recv`
/// while the others run; it has to return, and account for everything, whatever order
/// they ran in.
fn drain_and_check(
    queue: &Queue<u32>,
    inbox: &Inbox<u32>,
    senders: Vec<thread::JoinHandle<Vec<Offer>>>,
    closer: thread::JoinHandle<()>,
) {
    let received = drain(inbox);
    assert!(queue.is_closed(), "next returned None on an open queue");
    let offers: Vec<Offer> = senders
        .into_iter()
        .flat_map(|sender| sender.join().unwrap())
        .collect();
    closer.join().unwrap();
    assert_nothing_lost(&offers, &received);
    assert_eq!(
        inbox.next(|| ()),
        None,
        "a drained, closed queue stays empty"
    );
    assert_eq!(queue.len(), 0, "the depth counts a lost item");
}

// 1. Senders racing a close.

#[test]
fn a_sender_racing_a_close() {
    check(Some(4), || {
        let (queue, inbox) = Queue::new(None);
        let senders = vec![sender(&queue, &[1, 2])];
        let closer = closer(&queue);
        drain_and_check(&queue, &inbox, senders, closer);
    });
}

#[test]
fn a_sender_crossing_blocks_racing_a_close() {
    // Three items: the second fills the first two-slot block, so its sender links in
    // the next one while the receiver may be waiting for it and the close may land.
    check(Some(3), || {
        let (queue, inbox) = Queue::new(None);
        let senders = vec![sender(&queue, &[1, 2, 3])];
        let closer = closer(&queue);
        drain_and_check(&queue, &inbox, senders, closer);
    });
}

#[test]
fn two_senders_racing_a_close() {
    check(Some(2), || {
        let (queue, inbox) = Queue::new(None);
        let senders = vec![sender(&queue, &[1]), sender(&queue, &[2])];
        let closer = closer(&queue);
        drain_and_check(&queue, &inbox, senders, closer);
    });
}

#[test]
fn try_send_on_a_full_bounded_queue_racing_a_close() {
    // Capacity 1: a `try_send` may be refused as full rather than closed; either way it
    // gets its item back.
    check(Some(4), || {
        let (queue, inbox) = Queue::new(Some(1));
        let sending = Arc::clone(&queue);
        let senders = vec![thread::spawn(move || {
            [1, 2]
                .into_iter()
                .map(|i| (i, sending.try_send(i).map_err(refused_item)))
                .collect()
        })];
        let closer = closer(&queue);
        drain_and_check(&queue, &inbox, senders, closer);
    });
}

#[test]
fn send_blocked_on_a_full_bounded_queue_racing_a_close() {
    // The second `send` may sleep on the full queue: the receiver making room wakes it,
    // or the close does, and then it is refused with its item handed back.
    check(Some(4), || {
        let (queue, inbox) = Queue::new(Some(1));
        let senders = vec![sender(&queue, &[1, 2])];
        let closer = closer(&queue);
        drain_and_check(&queue, &inbox, senders, closer);
    });
}

#[test]
fn a_sender_asleep_on_a_full_bounded_queue_wakes_when_room_is_made() {
    // No close to wake it: only the receiver taking an item can.
    check(None, || {
        let (queue, inbox) = Queue::new(Some(1));
        let sender = sender(&queue, &[1, 2]);
        assert_eq!(inbox.next(|| ()), Some(1));
        assert_eq!(inbox.next(|| ()), Some(2));
        assert_eq!(sender.join().unwrap(), vec![(1, Ok(())), (2, Ok(()))]);
    });
}

#[test]
fn two_senders_asleep_on_a_full_bounded_queue_each_get_room() {
    // Each item received wakes one sleeping sender: neither may be left asleep. (With
    // three preemptions the model outgrows loom's step limit.)
    check(Some(2), || {
        let (queue, inbox) = Queue::new(Some(1));
        queue.send(0).unwrap();
        let senders = [sender(&queue, &[1]), sender(&queue, &[2])];
        let mut received: Vec<u32> = (0..3).filter_map(|_| inbox.next(|| ())).collect();
        received.sort_unstable();
        assert_eq!(received, [0, 1, 2]);
        for sender in senders {
            assert!(sender.join().unwrap().iter().all(|(_, sent)| sent.is_ok()));
        }
    });
}

#[test]
fn a_close_alone_wakes_a_sender_asleep_on_a_full_bounded_queue() {
    // Nobody receives: only the close can wake the sender, which gets its item back.
    check(None, || {
        let (queue, _inbox) = Queue::new(Some(1));
        queue.send(0).unwrap();
        let sender = sender(&queue, &[1]);
        assert!(queue.close());
        assert_eq!(sender.join().unwrap(), vec![(1, Err(1))]);
    });
}

// 2. A stop racing a halt.

/// A hook that counts its runs.
fn counting_hook(runs: &Arc<AtomicUsize>) -> Box<dyn FnOnce() + Send> {
    let runs = Arc::clone(runs);
    Box::new(move || {
        runs.fetch_add(1, Ordering::SeqCst);
    })
}

fn control_of(queue: &Arc<Queue<u32>>) -> Arc<Control> {
    let closable: Arc<dyn Closable> = Arc::clone(queue) as Arc<dyn Closable>;
    Arc::new(Control::new("modelled", "Modelled", closable, None))
}

#[test]
fn a_stop_racing_a_halt_runs_every_hook_once() {
    check(Some(4), || {
        let (queue, inbox) = Queue::<u32>::new(None);
        let control = control_of(&queue);
        let early = Arc::new(AtomicUsize::new(0));
        let late = Arc::new(AtomicUsize::new(0));
        control.on_stop(counting_hook(&early));

        let stopping = Arc::clone(&control);
        let stop = thread::spawn(move || stopping.request_stop());
        let halting = Arc::clone(&control);
        let halt = thread::spawn(move || halting.request_halt());

        // The thread itself: `startup` ends (moving to `Running` unless a stop came
        // first) after registering one more hook, and the loop drains.
        control.on_stop(counting_hook(&late));
        control.transition(State::Starting, State::Running);
        assert_eq!(drain(&inbox), Vec::<u32>::new());

        stop.join().unwrap();
        halt.join().unwrap();
        assert_eq!(early.load(Ordering::SeqCst), 1, "the early hook's runs");
        assert_eq!(late.load(Ordering::SeqCst), 1, "the late hook's runs");
        assert!(control.is_closed());
        assert!(control.halt.is_halted());
        assert_eq!(control.state(), State::Stopping);
        assert!(control.stop_requested().is_some());
        assert_eq!(queue.send(3), Err(3), "a stopped queue hands items back");
    });
}

#[test]
fn a_stop_racing_the_end_of_startup_leaves_the_thread_stopping() {
    // The run loop moves `Starting` to `Running` once `startup` returned; a stop at that
    // moment must not be overwritten, or the thread reports `Running` with its queue
    // closed (in `SendError::state`, `ThreadInfo`) until it has drained.
    check(None, || {
        let (queue, _inbox) = Queue::<u32>::new(None);
        let control = control_of(&queue);
        let stopping = Arc::clone(&control);
        let stop = thread::spawn(move || stopping.request_stop());
        control.transition(State::Starting, State::Running);
        stop.join().unwrap();
        assert_eq!(control.state(), State::Stopping);
    });
}

// 3. A spawn racing a shutdown.

/// A thread type, declared by hand as `#[background_thread]` would.
struct Modelled;

impl Declared for Modelled {
    const NAME: &'static str = "modelled";
    const CAPACITY: Option<usize> = None;
}

impl BackgroundThread for Modelled {
    type Task = u32;

    fn handle(&mut self, _: u32, _: &Context) -> Result<(), BoxError> {
        Ok(())
    }
}

#[test]
fn a_spawn_racing_a_shutdown_is_refused_or_in_the_snapshot() {
    check(None, || {
        let registry = Registry::new();
        // What `spawn_in` builds before it inserts.
        let (queue, _inbox) = Queue::<Message<Modelled>>::new(Modelled::CAPACITY);
        let closable: Arc<dyn Closable> = Arc::clone(&queue) as Arc<dyn Closable>;
        let control = Arc::new(Control::new(Modelled::NAME, "Modelled", closable, None));
        let id = control.id;
        let shared: Arc<dyn Managed> = Arc::new(Shared::<Modelled>::new(control, queue, None));

        let shutting_down = registry.clone();
        let shutdown = thread::spawn(move || {
            shutting_down
                .begin_shutdown()
                .0
                .iter()
                .map(crate::AnyHandle::id)
                .collect::<Vec<_>>()
        });
        let inserted = registry.insert(shared, false);
        let snapshot = shutdown.join().unwrap();

        match inserted {
            Ok(()) => assert_eq!(snapshot, [id], "accepted, but missed by the shutdown"),
            Err(SpawnFailure::ShuttingDown) => {
                assert!(snapshot.is_empty());
                assert!(registry.is_empty(), "refused, but kept");
            }
            Err(other) => panic!("unexpected refusal: {other}"),
        }
        assert!(registry.is_shutting_down());
    });
}

#[test]
fn a_failure_racing_a_shutdown_is_running_or_remembered() {
    check(None, || {
        let registry = Registry::new();
        let (queue, _inbox) = Queue::<Message<Modelled>>::new(Modelled::CAPACITY);
        let closable: Arc<dyn Closable> = Arc::clone(&queue) as Arc<dyn Closable>;
        let control = Arc::new(Control::new(Modelled::NAME, "Modelled", closable, None));
        let id = control.id;
        let taken = control.exit_taken_flag();
        let shared: Arc<dyn Managed> = Arc::new(Shared::<Modelled>::new(control, queue, None));
        registry.insert(shared, false).unwrap();

        let shutting_down = registry.clone();
        let shutdown = thread::spawn(move || {
            let (running, earlier) = shutting_down.begin_shutdown();
            let running: Vec<_> = running.iter().map(crate::AnyHandle::id).collect();
            let earlier: Vec<_> = earlier.iter().map(|r| r.report.id()).collect();
            (running, earlier)
        });
        // What `finish` does for a thread that failed: it leaves the running threads
        // and is remembered, in one step.
        let report = crate::ExitReport {
            name: Modelled::NAME,
            id,
            outcome: crate::Outcome::Halted,
            handled: 0,
            undelivered: 0,
            ran_for: std::time::Duration::ZERO,
            stop_took: None,
            restarts: 0,
            parent: None,
            source: None,
        };
        registry.remove(id, Some(crate::registry::Remembered { report, taken }));
        let (running, earlier) = shutdown.join().unwrap();
        assert_eq!(
            running.len() + earlier.len(),
            1,
            "running {running:?} or remembered {earlier:?}: exactly one"
        );
        assert!(running.iter().chain(&earlier).all(|seen| *seen == id));
    });
}

// 4. A stop from another thread waking an idle thread.

#[test]
fn context_stop_from_another_thread_wakes_an_idle_thread() {
    check(None, || {
        let (queue, inbox) = Queue::<u32>::new(None);
        let control = control_of(&queue);
        let idle = thread::spawn(move || drain(&inbox));
        let ctx = Context::new(Arc::clone(&control));
        ctx.stop();
        // A missing wake-up leaves `idle` blocked for ever: loom reports the deadlock.
        assert_eq!(idle.join().unwrap(), Vec::<u32>::new());
        assert_eq!(control.state(), State::Stopping);
    });
}

#[test]
fn request_stop_racing_a_sender_wakes_an_idle_thread() {
    check(Some(4), || {
        let (queue, inbox) = Queue::<u32>::new(None);
        let control = control_of(&queue);
        let idle = thread::spawn(move || drain(&inbox));
        let senders = vec![sender(&queue, &[1])];
        control.request_stop();
        let received = idle.join().unwrap();
        let offers: Vec<Offer> = senders
            .into_iter()
            .flat_map(|sender| sender.join().unwrap())
            .collect();
        assert_nothing_lost(&offers, &received);
    });
}
