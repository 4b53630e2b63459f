//! Pools at their edges: a stop or halt that comes while the workers start reaches
//! every worker (hooks registered later run at once), a worker cannot tie children to
//! itself (their exits would reach whichever worker is free), and the pool's queue is
//! counted once.

mod restarting;

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};

use restarting::{wait_for, BOUND};
use threadward::{
    background_thread, BackgroundThread, BoxError, Context, Handle, Outcome, Pool, Registry,
    SpawnFailure,
};

fn workers(n: usize) -> NonZeroUsize {
    NonZeroUsize::new(n).unwrap()
}

/// Its `startup` waits until the test lets it go, then registers an `on_stop` hook.
#[background_thread(name = "gated")]
struct Gated {
    gate: Arc<Mutex<mpsc::Receiver<()>>>,
    hooks: Arc<AtomicUsize>,
}

impl BackgroundThread for Gated {
    type Task = u32;
    fn startup(&mut self, ctx: &Context) -> Result<(), BoxError> {
        self.gate.lock().unwrap().recv_timeout(BOUND)?;
        let hooks = Arc::clone(&self.hooks);
        ctx.on_stop(move || {
            hooks.fetch_add(1, Ordering::SeqCst);
        });
        Ok(())
    }
    fn handle(&mut self, _: u32, _: &Context) -> Result<(), BoxError> {
        Ok(())
    }
}

/// Spawns a pool of three `Gated` on another thread; the test holds the gate.
fn gated_pool(
    registry: &Registry,
) -> (
    std::thread::JoinHandle<Handle<Gated>>,
    mpsc::Sender<()>,
    Arc<AtomicUsize>,
) {
    let (open, gate) = mpsc::channel();
    let gate = Arc::new(Mutex::new(gate));
    let hooks = Arc::new(AtomicUsize::new(0));
    let made = Arc::clone(&hooks);
    let registry = registry.clone();
    let spawner = std::thread::spawn(move || {
        Pool::new(workers(3), move || Gated {
            gate: Arc::clone(&gate),
            hooks: Arc::clone(&made),
        })
        .spawn_in(&registry)
        .unwrap()
    });
    (spawner, open, hooks)
}

#[test]
fn a_halt_while_the_workers_start_reaches_every_worker() {
    let registry = Registry::new();
    let (spawner, open, _) = gated_pool(&registry);
    // Found while the first worker's `startup` waits: the spawn is not done.
    wait_for(
        || registry.find("gated").is_some(),
        "the pool in the registry",
    );
    let found = registry.find("gated").unwrap();
    let pool: Handle<Gated> = found.clone().downcast().unwrap();
    for task in 0..10 {
        pool.send(task).unwrap();
    }
    found.halt();
    for _ in 0..3 {
        open.send(()).unwrap();
    }
    let pool = spawner.join().unwrap();
    let exit = pool.join_timeout(BOUND).unwrap();
    assert!(
        matches!(exit.outcome(), Outcome::Halted),
        "{}",
        exit.outcome()
    );
    // No worker handled a task: the halt reached each before its first.
    assert_eq!(exit.handled(), 0);
    assert_eq!(exit.undelivered().len(), 10);
    assert!(registry.is_empty());
}

#[test]
fn a_stop_while_the_workers_start_runs_the_hooks_they_register_later() {
    let registry = Registry::new();
    let (spawner, open, hooks) = gated_pool(&registry);
    wait_for(
        || registry.find("gated").is_some(),
        "the pool in the registry",
    );
    registry.find("gated").unwrap().stop();
    for _ in 0..3 {
        open.send(()).unwrap();
    }
    let pool = spawner.join().unwrap();
    let exit = pool.join_timeout(BOUND).unwrap();
    assert!(exit.outcome().is_clean(), "{}", exit.outcome());
    assert_eq!(hooks.load(Ordering::SeqCst), 3, "every worker's hook ran");
}

#[background_thread]
struct Kid;

impl BackgroundThread for Kid {
    type Task = ();
    fn handle(&mut self, (): (), _: &Context) -> Result<(), BoxError> {
        Ok(())
    }
}

/// Tries to tie a child to itself in `startup`, and keeps the error.
#[background_thread(name = "parents")]
#[derive(Default)]
struct Parents {
    refused: Option<String>,
}

impl BackgroundThread for Parents {
    type Task = ();
    fn startup(&mut self, ctx: &Context) -> Result<(), BoxError> {
        match ctx.spawn_child(Kid) {
            Ok(kid) => {
                kid.stop();
                Err("a worker tied a child to itself".into())
            }
            Err(error) => {
                assert!(matches!(error.failure(), SpawnFailure::OnPoolWorker { .. }));
                self.refused = Some(error.to_string());
                Ok(())
            }
        }
    }
    fn handle(&mut self, (): (), _: &Context) -> Result<(), BoxError> {
        Ok(())
    }
}

#[test]
fn a_worker_cannot_tie_a_child_to_itself() {
    let registry = Registry::new();
    let pool = Pool::new(workers(2), Parents::default)
        .spawn_in(&registry)
        .unwrap();
    let refused = pool.call(|p, _| p.refused.clone()).unwrap().unwrap();
    assert!(
        refused.contains("cannot be called on a worker of the pool `parents`"),
        "{refused}"
    );
    assert_eq!(registry.active().len(), 3, "no child was started");
    pool.stop();
    pool.join_timeout(BOUND).unwrap();
}

/// Blocks in `handle` until the test lets it go.
#[background_thread]
struct Held {
    release: Arc<Mutex<mpsc::Receiver<()>>>,
    entered: mpsc::Sender<()>,
}

impl BackgroundThread for Held {
    type Task = ();
    fn handle(&mut self, (): (), _: &Context) -> Result<(), BoxError> {
        self.entered.send(())?;
        self.release.lock().unwrap().recv_timeout(BOUND)?;
        Ok(())
    }
}

#[test]
fn the_pool_counts_its_queue_once() {
    let registry = Registry::new();
    let (release, held) = mpsc::channel();
    let (entered, arrivals) = mpsc::channel();
    let held = Arc::new(Mutex::new(held));
    let pool = Pool::new(workers(2), move || Held {
        release: Arc::clone(&held),
        entered: entered.clone(),
    })
    .spawn_in(&registry)
    .unwrap();
    // Both workers busy, five tasks queued behind them.
    for _ in 0..7 {
        pool.send(()).unwrap();
    }
    arrivals.recv_timeout(BOUND).unwrap();
    arrivals.recv_timeout(BOUND).unwrap();
    let depths: Vec<usize> = registry.active().iter().map(|t| t.queue_depth).collect();
    assert_eq!(depths, [5, 0, 0], "the pool's queue, on the pool alone");
    for _ in 0..7 {
        release.send(()).unwrap();
    }
    pool.stop();
    assert_eq!(pool.join_timeout(BOUND).unwrap().handled(), 7);
}

#[test]
fn a_pool_of_closure_threads_runs_the_body_once_per_worker() {
    let registry = Registry::new();
    let runs = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&runs);
    let pool = Pool::new(workers(3), move || {
        let counted = Arc::clone(&counted);
        threadward::thread("closures").build(move |_ctx| {
            counted.fetch_add(1, Ordering::SeqCst);
            Ok(())
        })
    })
    .spawn_in(&registry)
    .unwrap();
    wait_for(|| runs.load(Ordering::SeqCst) == 3, "three runs");
    pool.stop();
    assert_eq!(pool.join_timeout(BOUND).unwrap().handled(), 3);
}

/// Restarted on `true`; its factory and `Default` say where an instance came from.
#[background_thread(restart = "on-failure", backoff = "1ms")]
struct Tagged {
    made_by: &'static str,
}

impl Default for Tagged {
    fn default() -> Self {
        Self { made_by: "default" }
    }
}

impl BackgroundThread for Tagged {
    type Task = bool;
    fn handle(&mut self, fail: bool, _: &Context) -> Result<(), BoxError> {
        if fail {
            return Err("fail".into());
        }
        Ok(())
    }
}

#[test]
fn a_runtime_pool_restarts_its_workers_with_make() {
    let registry = Registry::new();
    let pool = Pool::new(workers(1), || Tagged { made_by: "make" })
        .spawn_in(&registry)
        .unwrap();
    pool.send(true).unwrap();
    wait_for(|| pool.info().restarts == 1, "a restart");
    assert_eq!(pool.call(|t, _| t.made_by).unwrap(), "make");
    pool.stop();
    pool.join_timeout(BOUND).unwrap();
}
