//! The "nothing is lost" promise through a pool: senders keep sending while workers
//! fail and are restarted in place, and while the pool is stopped, halted, or ended by a
//! worker that fails for good. Every task whose send returned `Ok` is handled by exactly
//! one worker or returned to whoever joins the pool, exactly once; every refused send
//! hands its task back.

mod restarting;

use std::collections::HashSet;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use restarting::{wait_for, BOUND};
use threadward::{
    background_thread, BackgroundThread, BoxError, Context, Handle, Outcome, Registry,
};

const SENDERS: u64 = 4;
const PER_SENDER: u64 = 2_000;
/// Every task whose id is a multiple of this fails the worker that handles it.
const POISON: u64 = 89;
/// The task that fails its worker for good, in the run that has one.
const FATAL: u64 = u64::MAX;

/// Restarted in place on each poison task, any number of times; a checkpoint between
/// tasks lets a halt land mid-run.
#[background_thread(
    restart = "on-failure",
    max_restarts = 100000,
    within = "600s",
    backoff = "1ns",
    workers = 3
)]
#[derive(Default)]
struct Counter {
    handled: Arc<Mutex<Vec<u64>>>,
}

/// Where every instance records what it handled (the factory's instances too).
static HANDLED: Mutex<Option<Arc<Mutex<Vec<u64>>>>> = Mutex::new(None);

impl BackgroundThread for Counter {
    type Task = u64;
    fn startup(&mut self, _: &Context) -> Result<(), BoxError> {
        if let Some(shared) = HANDLED.lock().unwrap().as_ref() {
            self.handled = Arc::clone(shared);
        }
        Ok(())
    }
    fn handle(&mut self, id: u64, ctx: &Context) -> Result<(), BoxError> {
        // Recorded first: a task handed to `handle` is delivered, even if a halt
        // unwinds out of it at the checkpoint.
        self.handled.lock().unwrap().push(id);
        ctx.checkpoint();
        debug_assert_ne!(id, FATAL);
        if id % POISON == 0 {
            return Err(format!("poison {id}").into());
        }
        Ok(())
    }
}

/// Not restarted: the fatal task fails its worker for good, which ends the pool.
#[background_thread(workers = 3)]
#[derive(Default)]
struct Fragile {
    handled: Arc<Mutex<Vec<u64>>>,
}

impl BackgroundThread for Fragile {
    type Task = u64;
    fn startup(&mut self, _: &Context) -> Result<(), BoxError> {
        if let Some(shared) = HANDLED.lock().unwrap().as_ref() {
            self.handled = Arc::clone(shared);
        }
        Ok(())
    }
    fn handle(&mut self, id: u64, _: &Context) -> Result<(), BoxError> {
        self.handled.lock().unwrap().push(id);
        if id == FATAL {
            return Err("fatal".into());
        }
        Ok(())
    }
}

/// How the run is ended while the senders send.
#[derive(Clone, Copy, Debug)]
enum End {
    Stop,
    Halt,
    FailForGood,
}

/// One run: senders race `end`; returns (accepted, handled, returned).
fn run(end: End) -> (Vec<u64>, Vec<u64>, Vec<u64>) {
    let registry = Registry::new();
    let handled = Arc::new(Mutex::new(Vec::new()));
    *HANDLED.lock().unwrap() = Some(Arc::clone(&handled));
    let (accepted, returned) = match end {
        End::FailForGood => race(&Fragile::default().spawn_in(&registry).unwrap(), end),
        _ => race(&Counter::default().spawn_in(&registry).unwrap(), end),
    };
    assert!(registry.is_empty());
    let handled = handled.lock().unwrap().clone();
    (accepted, handled, returned)
}

/// Senders race `end` on `pool`: the tasks accepted, and those returned by the join.
fn race<T: BackgroundThread<Task = u64>>(pool: &Handle<T>, end: End) -> (Vec<u64>, Vec<u64>) {
    // A restart first, for certain (the senders' poison tasks race more of them).
    let mut accepted = Vec::new();
    if !matches!(end, End::FailForGood) {
        pool.send(POISON * 1_000_000).unwrap();
        accepted.push(POISON * 1_000_000);
        wait_for(|| pool.info().restarts > 0, "a first restart");
    }
    // The end comes once the senders are under way: after the first half of the
    // first sender's tasks.
    let (halfway, at_half) = mpsc::channel();
    let senders: Vec<_> = (0..SENDERS)
        .map(|sender| {
            let pool = pool.clone();
            let halfway = halfway.clone();
            std::thread::spawn(move || {
                let mut accepted = Vec::new();
                for n in 0..PER_SENDER {
                    let id = sender * PER_SENDER + n + 1;
                    match pool.send(id) {
                        Ok(()) => accepted.push(id),
                        Err(refused) => assert_eq!(refused.into_inner(), id),
                    }
                    if n == PER_SENDER / 2 {
                        let _ = halfway.send(());
                    }
                }
                accepted
            })
        })
        .collect();
    at_half.recv_timeout(BOUND).unwrap();
    match end {
        End::Stop => pool.stop(),
        End::Halt => pool.halt(),
        End::FailForGood => {
            let _ = pool.send(FATAL);
        }
    }
    for sender in senders {
        accepted.extend(sender.join().unwrap());
    }
    if matches!(end, End::FailForGood) {
        accepted.push(FATAL);
    }
    let exit = pool.join_timeout(BOUND).unwrap();
    match end {
        End::Stop => assert!(exit.outcome().is_clean(), "{}", exit.outcome()),
        // Halted, unless a worker failed on a poison task as the halt came: a halted
        // worker is not restarted.
        End::Halt => assert!(
            matches!(exit.outcome(), Outcome::Halted) || exit.outcome().is_failure(),
            "{}",
            exit.outcome()
        ),
        End::FailForGood => assert!(exit.outcome().is_failure(), "{}", exit.outcome()),
    }
    (accepted, exit.into_undelivered())
}

fn check(end: End) {
    let (accepted, handled, returned) = run(end);
    let mut once = HashSet::new();
    for id in handled.iter().chain(&returned) {
        assert!(
            once.insert(*id),
            "{end:?}: task {id} handled or returned twice"
        );
    }
    let accepted: HashSet<u64> = accepted.into_iter().collect();
    let lost: Vec<_> = accepted.difference(&once).collect();
    let unknown: Vec<_> = once.difference(&accepted).collect();
    assert!(
        lost.is_empty() && unknown.is_empty(),
        "{end:?}: lost {lost:?}, never accepted {unknown:?}"
    );
}

/// One test for the three ends, one after another: every instance (the restarted ones
/// too, made by `Default`) finds the run's record through a static.
#[test]
fn senders_racing_restarts_and_a_stop_a_halt_or_a_worker_failing_for_good_lose_nothing() {
    check(End::Stop);
    check(End::Halt);
    check(End::FailForGood);
}
