//! The "nothing is lost" promise under races: four senders keep sending while the thread
//! is stopped (or fails). Every task whose send returned `Ok` must be handled or returned
//! as undelivered — exactly once — and every refused send must hand its own task back.
//!
//! No assertion depends on how often a race happens. Each round is set up so that the
//! interleaving under test is all but certain (the stop waits until every sender is
//! sending, and senders slow down instead of giving up while it comes; the failure waits
//! until tasks are queued behind it), checks the books, and reports whether the
//! interleaving did occur. A scenario runs rounds until it has seen it `REQUIRED` times,
//! so it cannot pass vacuously, and fails, saying so, only if it has not within
//! `MAX_ROUNDS` rounds or `TIME_LIMIT`.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use threadward::{
    background_thread, BackgroundThread, BoxError, Context, Declared, Handle, Registry,
};

/// The bound on every single wait in a round.
const BOUND: Duration = Duration::from_secs(30);
const SENDERS: usize = 4;
/// Rounds in which a scenario must see its interleaving.
const REQUIRED: usize = 30;
/// Rounds a scenario runs at least (time permitting), so the stop lands at every offset.
const MIN_ROUNDS: usize = 60;
/// A scenario that has not seen its interleaving `REQUIRED` times after this many
/// rounds, or after `TIME_LIMIT`, fails.
const MAX_ROUNDS: usize = 20 * REQUIRED;
const TIME_LIMIT: Duration = Duration::from_secs(60);
/// After this many accepted tasks a sender slows down (it spins a little between sends,
/// staying on its CPU and still sending), so that a stop delayed by the scheduler does
/// not cost a flood of tasks.
const PACE_AFTER: usize = 1_000;
/// A sender gives up after this many accepted tasks, so an unbounded queue stays small.
const MAX_PER_SENDER: usize = 20_000;
/// How long a stop waits for the last sender to get going.
const STRAGGLER: Duration = Duration::from_millis(20);
/// The capacity of `BoundedSink` (checked against its declaration).
const CAPACITY: usize = 8;

/// What the senders of one round have done so far.
#[derive(Debug, Default)]
struct Progress {
    /// Tasks accepted, by all senders.
    accepted: AtomicUsize,
    /// Senders that had a task accepted.
    sending: AtomicUsize,
}

/// Makes `handle` fail mid-stream: on its `at`-th task, once `queued` more tasks were
/// accepted. They are then in the queue (the thread is busy with the `at`-th), so the
/// thread ends with tasks still queued, and with the senders still sending.
#[derive(Debug)]
struct Failure {
    at: usize,
    queued: usize,
    progress: Arc<Progress>,
    /// Whether the `queued` tasks were accepted before the failure (not timed out).
    held: Arc<AtomicBool>,
}

#[background_thread(name = "sink")]
#[derive(Default)]
struct Sink {
    handled: Arc<Mutex<Vec<u64>>>,
    failure: Option<Failure>,
}

impl BackgroundThread for Sink {
    type Task = u64;
    fn handle(&mut self, id: u64, _ctx: &Context) -> Result<(), BoxError> {
        let mut handled = self.handled.lock().unwrap();
        handled.push(id);
        match &self.failure {
            Some(failure) if handled.len() == failure.at => {
                let until = failure.at + failure.queued;
                let held = wait_until(|| failure.progress.accepted.load(Ordering::SeqCst) >= until);
                failure.held.store(held, Ordering::SeqCst);
                Err("injected failure".into())
            }
            _ => Ok(()),
        }
    }
}

#[background_thread(name = "bounded-sink", capacity = 8)]
#[derive(Default)]
struct BoundedSink {
    inner: Sink,
}

impl BackgroundThread for BoundedSink {
    type Task = u64;
    fn handle(&mut self, id: u64, ctx: &Context) -> Result<(), BoxError> {
        self.inner.handle(id, ctx)
    }
}

#[derive(Clone, Copy, Debug)]
enum Flavour {
    Send,
    TrySend,
    SendTimeout,
}

/// Waits (yielding, so that the threads it waits for get the CPU) until `done`, or
/// until `BOUND` has passed; returns whether `done`.
fn wait_until(mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + BOUND;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::yield_now();
    }
}

/// Joins `thread` within `BOUND`, passing its panic on.
fn join_bounded<R>(thread: JoinHandle<R>, what: &str) -> R {
    let deadline = Instant::now() + BOUND;
    while !thread.is_finished() {
        assert!(
            Instant::now() < deadline,
            "{what} still running after {BOUND:?}"
        );
        std::thread::sleep(Duration::from_micros(100));
    }
    thread
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// Sends ids until refused (or `MAX_PER_SENDER` were accepted; slower after
/// `PACE_AFTER`); returns the accepted ids and whether a send was refused. Checks that
/// every failed send (refused, full or timed out) hands back the very task it was given.
fn send_until_refused<T>(
    handle: &Handle<T>,
    sender: u64,
    flavour: Flavour,
    progress: &Progress,
) -> (Vec<u64>, bool)
where
    T: BackgroundThread<Task = u64>,
{
    let mut accepted = Vec::new();
    for seq in 0.. {
        if accepted.len() == MAX_PER_SENDER {
            return (accepted, false);
        }
        let id = (sender << 32) | seq;
        // Only the errors' methods are used: their shape is not part of this test.
        let refused = match flavour {
            Flavour::Send => match handle.send(id) {
                Ok(()) => None,
                Err(e) => Some(e.into_inner()),
            },
            Flavour::TrySend => match handle.try_send(id) {
                Ok(()) => None,
                Err(e) if e.is_full() => {
                    assert_eq!(e.into_inner(), id, "a full queue hands back the task");
                    std::thread::yield_now();
                    continue;
                }
                Err(e) => {
                    assert!(e.is_closed(), "a try_send not refused as full is closed");
                    Some(e.into_inner())
                }
            },
            Flavour::SendTimeout => match handle.send_timeout(id, Duration::from_millis(1)) {
                Ok(()) => None,
                Err(e) if e.is_timeout() => {
                    assert_eq!(e.into_inner(), id, "a timed-out send hands back the task");
                    continue;
                }
                Err(e) => {
                    assert!(e.is_closed(), "a send_timeout not timed out is closed");
                    Some(e.into_inner())
                }
            },
        };
        match refused {
            None => {
                if accepted.is_empty() {
                    progress.sending.fetch_add(1, Ordering::SeqCst);
                }
                accepted.push(id);
                progress.accepted.fetch_add(1, Ordering::SeqCst);
                if accepted.len() > PACE_AFTER {
                    for _ in 0..200 {
                        std::hint::spin_loop();
                    }
                }
            }
            Some(back) => {
                assert_eq!(back, id, "a refused send hands back its own task");
                return (accepted, true);
            }
        }
    }
    unreachable!("the loop returns")
}

/// How a round ends the thread.
#[derive(Clone, Copy, Debug)]
enum End {
    /// `stop` once every sender has had a task accepted (or `STRAGGLER` passed), and
    /// `after` tasks in all.
    Stop { after: usize },
    /// `handle` fails on its `at`-th task, once `queued` more tasks were accepted.
    Fail { at: usize, queued: usize },
}

/// Stops the thread while the senders send: once every sender is under way (or
/// `STRAGGLER` has passed: a sender may find a bounded queue full for long), and `after`
/// tasks were accepted, an offset that varies from round to round. Spins rather than
/// yields, so that the stop follows as closely as the scheduler lets it.
fn stop_while_sending<T: BackgroundThread>(handle: &Handle<T>, progress: &Progress, after: usize) {
    let began = Instant::now();
    while !((progress.sending.load(Ordering::SeqCst) == SENDERS || began.elapsed() >= STRAGGLER)
        && progress.accepted.load(Ordering::SeqCst) >= after)
        && began.elapsed() < BOUND
    {
        std::hint::spin_loop();
    }
    handle.stop();
}

/// Nothing lost, nothing twice: handled ∪ undelivered == accepted, no id twice.
fn check_books(handled: &[u64], undelivered: &[u64], accepted: &[u64], what: &str) {
    let mut seen = HashSet::with_capacity(accepted.len());
    for id in handled.iter().chain(undelivered) {
        assert!(seen.insert(*id), "task {id:#x} came back twice ({what})");
    }
    let accepted_set: HashSet<u64> = accepted.iter().copied().collect();
    assert_eq!(
        accepted_set.len(),
        accepted.len(),
        "no id was accepted twice ({what})"
    );
    let mut lost: Vec<_> = accepted_set.difference(&seen).collect();
    let mut unknown: Vec<_> = seen.difference(&accepted_set).collect();
    lost.sort_unstable();
    unknown.sort_unstable();
    assert!(
        lost.is_empty() && unknown.is_empty(),
        "handled + undelivered == accepted ({what}): {} handled, {} undelivered, {} accepted; \
         {} accepted tasks lost (first: {:x?}), {} came back unaccepted (first: {:x?})",
        handled.len(),
        undelivered.len(),
        accepted.len(),
        lost.len(),
        &lost[..lost.len().min(4)],
        unknown.len(),
        &unknown[..unknown.len().min(4)],
    );
}

/// One round: spawn, race senders against a stop (or a failure), check the books.
/// Returns whether the interleaving under test occurred: a sender had sends accepted
/// and then refused, i.e. was sending as the queue closed (and, for a failure, tasks
/// were still queued when it ended the thread).
fn round<T>(spawn: impl FnOnce(Sink) -> Handle<T>, flavour: Flavour, end: End, round: usize) -> bool
where
    T: BackgroundThread<Task = u64>,
{
    let handled = Arc::new(Mutex::new(Vec::new()));
    let progress = Arc::new(Progress::default());
    let held = Arc::new(AtomicBool::new(false));
    let failure = match end {
        End::Stop { .. } => None,
        End::Fail { at, queued } => Some(Failure {
            at,
            queued,
            progress: Arc::clone(&progress),
            held: Arc::clone(&held),
        }),
    };
    let handle = spawn(Sink {
        handled: Arc::clone(&handled),
        failure,
    });
    let start = Arc::new(Barrier::new(SENDERS + 1));
    let senders: Vec<_> = (0..SENDERS)
        .map(|sender| {
            let handle = handle.clone();
            let start = Arc::clone(&start);
            let progress = Arc::clone(&progress);
            std::thread::spawn(move || {
                start.wait();
                send_until_refused(&handle, sender as u64, flavour, &progress)
            })
        })
        .collect();
    start.wait();
    if let End::Stop { after } = end {
        stop_while_sending(&handle, &progress, after);
    }
    let exit = handle.join_timeout(BOUND).expect("the thread ends in time");
    let results: Vec<_> = senders
        .into_iter()
        .map(|sender| join_bounded(sender, "a sender"))
        .collect();
    let raced = results
        .iter()
        .any(|(accepted, refused)| *refused && !accepted.is_empty());
    let accepted: Vec<u64> = results.into_iter().flat_map(|(ids, _)| ids).collect();

    let handled = std::mem::take(&mut *handled.lock().unwrap());
    let undelivered = exit.undelivered().to_vec();
    assert_eq!(
        usize::try_from(exit.handled()).unwrap(),
        handled.len(),
        "the count matches the calls"
    );
    assert_eq!(exit.report().undelivered(), undelivered.len());
    check_books(
        &handled,
        &undelivered,
        &accepted,
        &format!("{flavour:?}, {end:?}, round {round}"),
    );
    match end {
        End::Stop { .. } => {
            assert!(
                undelivered.is_empty(),
                "a stopped thread drains everything it accepted ({flavour:?}, round {round}): {} undelivered",
                undelivered.len()
            );
            assert!(exit.outcome().is_clean(), "{:?}", exit.outcome());
            raced
        }
        End::Fail { at, queued } => {
            assert!(
                !exit.outcome().is_clean(),
                "the injected failure ends the thread"
            );
            assert_eq!(handled.len(), at, "the thread ends on the failing task");
            let held = held.load(Ordering::SeqCst);
            if held {
                assert!(
                    undelivered.len() >= queued,
                    "the {queued} tasks queued behind the failure come back ({flavour:?}, round {round}): {} undelivered",
                    undelivered.len()
                );
            }
            raced && held
        }
    }
}

/// Runs rounds until the interleaving under test was seen `REQUIRED` times (and at least
/// `MIN_ROUNDS` rounds ran, unless `TIME_LIMIT` is up); fails if it was not seen that
/// often within `MAX_ROUNDS` rounds or `TIME_LIMIT`.
fn rounds<T>(
    spawn: fn(Sink, &Registry) -> Handle<T>,
    flavour: Flavour,
    fail: Option<(usize, usize)>,
) where
    T: BackgroundThread<Task = u64>,
{
    let registry = Registry::new();
    let began = Instant::now();
    let (mut ran, mut seen) = (0, 0);
    loop {
        let out_of_time = began.elapsed() >= TIME_LIMIT;
        if seen >= REQUIRED && (ran >= MIN_ROUNDS || out_of_time) {
            break;
        }
        assert!(
            ran < MAX_ROUNDS && !out_of_time,
            "{flavour:?}, {}: senders racing the {} in only {seen} of {ran} rounds \
             ({:.1?}); {REQUIRED} needed: the interleaving under test did not happen",
            std::any::type_name::<T>(),
            if fail.is_some() { "failure" } else { "stop" },
            began.elapsed()
        );
        let end = match fail {
            // A bounded queue holds few tasks: later stops would only make rounds longer.
            None => End::Stop {
                after: (ran % 30) * if T::CAPACITY.is_some() { 10 } else { 100 },
            },
            Some((at, queued)) => End::Fail { at, queued },
        };
        if round(|sink| spawn(sink, &registry), flavour, end, ran) {
            seen += 1;
        }
        ran += 1;
    }
    assert!(registry.is_empty());
    eprintln!(
        "{flavour:?}, {}, {}: interleaving seen in {seen} of {ran} rounds ({:.1?})",
        std::any::type_name::<T>(),
        if fail.is_some() { "failure" } else { "stop" },
        began.elapsed()
    );
}

fn unbounded(sink: Sink, registry: &Registry) -> Handle<Sink> {
    sink.spawn_in(registry).unwrap()
}

fn bounded(sink: Sink, registry: &Registry) -> Handle<BoundedSink> {
    BoundedSink { inner: sink }.spawn_in(registry).unwrap()
}

#[test]
fn senders_racing_stop_on_an_unbounded_queue() {
    rounds(unbounded, Flavour::Send, None);
}

#[test]
fn blocked_senders_racing_stop_on_a_bounded_queue() {
    rounds(bounded, Flavour::Send, None);
}

#[test]
fn try_send_racing_stop_on_a_bounded_queue() {
    rounds(bounded, Flavour::TrySend, None);
}

#[test]
fn send_timeout_racing_stop_on_a_bounded_queue() {
    rounds(bounded, Flavour::SendTimeout, None);
}

#[test]
fn senders_racing_a_failure_get_the_rest_back() {
    // 100 tasks wait behind the failure in the unbounded queue; the bounded one is full
    // (and its senders block on it) when the failure comes.
    assert_eq!(<BoundedSink as Declared>::CAPACITY, Some(CAPACITY));
    rounds(unbounded, Flavour::Send, Some((500, 100)));
    rounds(bounded, Flavour::Send, Some((50, CAPACITY)));
}
