//! The "nothing is lost" promise under races: four senders keep sending while the thread
//! is stopped (or fails). Every task whose send returned `Ok` must be handled or returned
//! as undelivered — exactly once — and every failed send must hand its own task back.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::Duration;
use std::time::Instant;

use threadward::{
    background_thread, BackgroundThread, BoxError, Context, Handle, Registry, SendError,
};

const BOUND: Duration = Duration::from_secs(30);
const SENDERS: usize = 4;
const ROUNDS: usize = 150;
/// A sender gives up after this many accepted tasks, so an unbounded queue stays small.
const MAX_PER_SENDER: usize = 5_000;

#[background_thread(name = "sink")]
#[derive(Default)]
struct Sink {
    handled: Arc<Mutex<Vec<u64>>>,
    /// Fail on this many-th task, to end the thread with tasks still queued.
    fail_at: Option<usize>,
}

impl BackgroundThread for Sink {
    type Task = u64;
    fn handle(&mut self, id: u64, _ctx: &Context) -> Result<(), BoxError> {
        let mut handled = self.handled.lock().unwrap();
        handled.push(id);
        if Some(handled.len()) == self.fail_at {
            return Err("injected failure".into());
        }
        Ok(())
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

/// Sends ids until refused (or `MAX_PER_SENDER` were accepted); returns the accepted ids
/// and whether a send was refused. Checks that a refused send hands back the very task it
/// was given.
fn send_until_refused<T>(
    handle: &Handle<T>,
    sender: u64,
    flavour: Flavour,
    total: &AtomicUsize,
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
        let refused = match flavour {
            Flavour::Send => handle.send(id).err().map(SendError::into_inner),
            Flavour::TrySend => match handle.try_send(id) {
                Ok(()) => None,
                Err(e) if e.is_full() => continue,
                Err(e) => Some(e.into_inner()),
            },
            Flavour::SendTimeout => match handle.send_timeout(id, Duration::from_millis(1)) {
                Ok(()) => None,
                Err(e) if e.is_timeout() => continue,
                Err(e) => Some(e.into_inner()),
            },
        };
        match refused {
            None => {
                accepted.push(id);
                total.fetch_add(1, Ordering::Relaxed);
            }
            Some(back) => {
                assert_eq!(back, id, "a refused send hands back its own task");
                return (accepted, true);
            }
        }
    }
    unreachable!("the loop returns")
}

/// One round: spawn, race senders against a stop (or a failure), check the books.
/// Returns whether a sender had sends both accepted and refused: the race happened.
fn round<T>(
    spawn: impl FnOnce(Sink) -> Handle<T>,
    flavour: Flavour,
    round: usize,
    fail_at: Option<usize>,
) -> bool
where
    T: BackgroundThread<Task = u64>,
{
    let handled = Arc::new(Mutex::new(Vec::new()));
    let handle = spawn(Sink {
        handled: Arc::clone(&handled),
        fail_at,
    });
    let start = Arc::new(Barrier::new(SENDERS + 1));
    let total = Arc::new(AtomicUsize::new(0));
    let senders: Vec<_> = (0..SENDERS)
        .map(|sender| {
            let handle = handle.clone();
            let start = Arc::clone(&start);
            let total = Arc::clone(&total);
            std::thread::spawn(move || {
                start.wait();
                send_until_refused(&handle, sender as u64, flavour, &total)
            })
        })
        .collect();
    start.wait();
    // Vary when the stop lands, from the very first sends to a few thousand in, but
    // always while the senders are still going (each may send `MAX_PER_SENDER`).
    if fail_at.is_none() {
        let stop_after = (round % 30) * 100;
        let deadline = Instant::now() + BOUND;
        while total.load(Ordering::Relaxed) < stop_after && Instant::now() < deadline {
            std::hint::spin_loop();
        }
        handle.stop();
    }
    let exit = handle.join_timeout(BOUND).expect("the thread ends in time");
    let results: Vec<_> = senders
        .into_iter()
        .map(|s| s.join().expect("sender thread"))
        .collect();
    let raced = results
        .iter()
        .any(|(accepted, refused)| *refused && !accepted.is_empty());
    let accepted: Vec<u64> = results.into_iter().flat_map(|(ids, _)| ids).collect();

    let handled = handled.lock().unwrap().clone();
    let undelivered = exit.undelivered().to_vec();
    assert_eq!(
        usize::try_from(exit.handled()).unwrap(),
        handled.len(),
        "the count matches the calls"
    );
    assert_eq!(exit.report().undelivered(), undelivered.len());
    let mut seen = HashSet::with_capacity(accepted.len());
    for id in handled.iter().chain(&undelivered) {
        assert!(
            seen.insert(*id),
            "task {id:#x} came back twice ({flavour:?}, round {round})"
        );
    }
    let accepted_set: HashSet<u64> = accepted.iter().copied().collect();
    assert_eq!(
        accepted_set.len(),
        accepted.len(),
        "no id was accepted twice"
    );
    assert_eq!(
        seen, accepted_set,
        "handled + undelivered == accepted ({flavour:?}, round {round}): {} handled, {} undelivered, {} accepted",
        handled.len(),
        undelivered.len(),
        accepted.len()
    );
    if fail_at.is_none() {
        assert!(
            undelivered.is_empty(),
            "a stopped thread drains everything it accepted"
        );
        assert!(exit.outcome().is_clean());
    }
    raced
}

fn rounds<T>(spawn: fn(Sink, &Registry) -> Handle<T>, flavour: Flavour, fail_at: Option<usize>)
where
    T: BackgroundThread<Task = u64>,
{
    let registry = Registry::new();
    let raced = (0..ROUNDS)
        .filter(|&r| round(|sink| spawn(sink, &registry), flavour, r, fail_at))
        .count();
    assert!(registry.is_empty());
    // Without this the test could pass with every stop landing after the senders gave up.
    assert!(
        raced >= ROUNDS / 4,
        "the stop raced the senders in only {raced} of {ROUNDS} rounds ({flavour:?})"
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
    rounds(unbounded, Flavour::Send, Some(500));
    rounds(bounded, Flavour::Send, Some(50));
}
