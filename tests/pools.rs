//! Worker pools: `n` instances of one type serving one queue. Every task is handled by
//! exactly one worker (or returned to whoever joins the pool), tasks are handled side by
//! side, the pool is stopped and halted as one, a failed worker is restarted without
//! losing what is queued, and the registry shows the pool with its workers.

mod restarting;

use std::collections::HashSet;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use restarting::{wait_for, BOUND};
use threadward::{
    background_thread, BackgroundThread, BoxError, Context, Outcome, Pool, Registry, SpawnFailure,
    State, ThreadId,
};

/// What every instance of a pool shares with the test: the tasks each worker handled,
/// and how many instances were dropped.
#[derive(Default)]
struct Seen {
    handled: Mutex<Vec<(ThreadId, u64)>>,
    dropped: AtomicUsize,
}

/// A worker that records each task with the worker that handled it.
#[background_thread(name = "recorder")]
struct Recorder {
    seen: Arc<Seen>,
}

impl BackgroundThread for Recorder {
    type Task = u64;
    fn handle(&mut self, task: u64, ctx: &Context) -> Result<(), BoxError> {
        self.seen.handled.lock().unwrap().push((ctx.id(), task));
        Ok(())
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.seen.dropped.fetch_add(1, Ordering::SeqCst);
    }
}

fn workers(n: usize) -> NonZeroUsize {
    NonZeroUsize::new(n).unwrap()
}

fn recorders(n: usize, seen: &Arc<Seen>) -> Pool<Recorder> {
    let seen = Arc::clone(seen);
    Pool::new(workers(n), move || Recorder {
        seen: Arc::clone(&seen),
    })
}

#[test]
fn every_task_is_handled_once_and_the_registry_shows_the_pool_and_its_workers() {
    let registry = Registry::new();
    let seen = Arc::new(Seen::default());
    let pool = recorders(3, &seen).spawn_in(&registry).unwrap();

    let active = registry.active();
    assert_eq!(active.len(), 4, "the pool and its three workers");
    assert_eq!(active[0].id, pool.id());
    assert_eq!(active[0].workers, 3);
    let worker_ids: HashSet<ThreadId> = active[1..].iter().map(|w| w.id).collect();
    for worker in &active[1..] {
        assert_eq!(worker.parent, Some(pool.id()));
        assert_eq!(worker.name, "recorder");
        assert_eq!(worker.workers, 0);
    }
    // Found by name: the pool, not one of its workers.
    assert_eq!(registry.find("recorder").unwrap().id(), pool.id());

    for task in 0..3_000 {
        pool.send(task).unwrap();
    }
    // `call` runs on one of the workers.
    let on = pool.call(|_, ctx| ctx.id()).unwrap();
    assert!(worker_ids.contains(&on));

    pool.stop();
    let exit = pool.join_timeout(BOUND).unwrap();
    assert!(
        matches!(exit.outcome(), Outcome::Stopped),
        "{}",
        exit.outcome()
    );
    assert_eq!(exit.handled(), 3_000);
    assert!(exit.undelivered().is_empty());
    let handled = seen.handled.lock().unwrap();
    let tasks: HashSet<u64> = handled.iter().map(|&(_, task)| task).collect();
    assert_eq!(
        (handled.len(), tasks.len()),
        (3_000, 3_000),
        "each task once"
    );
    assert!(handled.iter().all(|(by, _)| worker_ids.contains(by)));
    // Every instance was dropped before the join returned, and the registry is empty.
    assert_eq!(seen.dropped.load(Ordering::SeqCst), 3);
    assert!(registry.is_empty());
}

/// A worker that tells the test it took a task, then waits until the test lets it go.
#[background_thread]
struct Rendezvous {
    entered: mpsc::Sender<ThreadId>,
    release: Arc<Mutex<mpsc::Receiver<()>>>,
}

impl BackgroundThread for Rendezvous {
    type Task = ();
    fn handle(&mut self, (): (), ctx: &Context) -> Result<(), BoxError> {
        self.entered.send(ctx.id())?;
        // One release per task; the lock only hands the receiver over.
        let release = self.release.lock().unwrap().recv_timeout(BOUND);
        release.map_err(Into::into)
    }
}

#[test]
fn the_workers_handle_tasks_side_by_side() {
    let registry = Registry::new();
    let (entered, arrivals) = mpsc::channel();
    let (release, released) = mpsc::channel();
    let released = Arc::new(Mutex::new(released));
    let pool = Pool::new(workers(2), move || Rendezvous {
        entered: entered.clone(),
        release: Arc::clone(&released),
    })
    .spawn_in(&registry)
    .unwrap();
    pool.send(()).unwrap();
    pool.send(()).unwrap();
    // Both tasks are taken before either is let go: two workers hold one each.
    let first = arrivals.recv_timeout(BOUND).unwrap();
    let second = arrivals.recv_timeout(BOUND).unwrap();
    assert_ne!(first, second);
    assert_eq!(pool.info().queue_depth, 0);
    release.send(()).unwrap();
    release.send(()).unwrap();
    pool.stop();
    let exit = pool.join_timeout(BOUND).unwrap();
    assert!(
        matches!(exit.outcome(), Outcome::Stopped),
        "{}",
        exit.outcome()
    );
    assert_eq!(exit.handled(), 2);
}

/// A worker that passes a checkpoint in a loop until halted, after telling the test.
#[background_thread]
struct Spinner {
    entered: mpsc::Sender<()>,
}

impl BackgroundThread for Spinner {
    type Task = u64;
    fn handle(&mut self, _: u64, ctx: &Context) -> Result<(), BoxError> {
        self.entered.send(())?;
        loop {
            ctx.checkpoint();
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

#[test]
fn a_halt_reaches_every_worker_and_returns_each_unhandled_task_once() {
    let registry = Registry::new();
    let (entered, arrivals) = mpsc::channel();
    let pool = Pool::new(workers(3), move || Spinner {
        entered: entered.clone(),
    })
    .spawn_in(&registry)
    .unwrap();
    for task in 0..100 {
        pool.send(task).unwrap();
    }
    for _ in 0..3 {
        arrivals.recv_timeout(BOUND).unwrap();
    }
    // Halted through one worker: the whole pool halts.
    let worker = registry.active()[1].id;
    registry.get(worker).unwrap().halt();
    let exit = pool.join_timeout(BOUND).unwrap();
    assert!(
        matches!(exit.outcome(), Outcome::Halted),
        "{}",
        exit.outcome()
    );
    // Three tasks were taken (and halted in); the rest come back, each once.
    assert_eq!(exit.handled(), 3);
    let mut back = exit.into_undelivered();
    back.sort_unstable();
    back.dedup();
    assert_eq!(back.len(), 97);
    assert!(registry.is_empty());
}

/// A worker that hosts something blocking in `handle`, ended by its `on_stop` hook.
#[background_thread]
struct Server {
    serving: mpsc::Sender<()>,
}

impl BackgroundThread for Server {
    type Task = ();
    fn handle(&mut self, (): (), ctx: &Context) -> Result<(), BoxError> {
        let (stop, stopped) = mpsc::channel::<()>();
        ctx.on_stop(move || {
            let _ = stop.send(());
        });
        self.serving.send(())?;
        // Blocks until the hook runs ("the server's accept loop").
        stopped.recv_timeout(BOUND)?;
        Ok(())
    }
}

#[test]
fn a_stop_runs_the_on_stop_hooks_of_every_worker() {
    let registry = Registry::new();
    let (serving, started) = mpsc::channel();
    let pool = Pool::new(workers(2), move || Server {
        serving: serving.clone(),
    })
    .spawn_in(&registry)
    .unwrap();
    pool.send(()).unwrap();
    pool.send(()).unwrap();
    started.recv_timeout(BOUND).unwrap();
    started.recv_timeout(BOUND).unwrap();
    pool.stop();
    let exit = pool.join_timeout(BOUND).unwrap();
    assert!(
        matches!(exit.outcome(), Outcome::Stopped),
        "{}",
        exit.outcome()
    );
    assert_eq!(exit.handled(), 2);
}

#[test]
fn a_stop_from_inside_one_worker_stops_the_pool() {
    let registry = Registry::new();
    let seen = Arc::new(Seen::default());
    let pool = recorders(2, &seen).spawn_in(&registry).unwrap();
    for task in 0..50 {
        pool.send(task).unwrap();
    }
    pool.cast(|_, ctx| ctx.stop()).unwrap();
    let exit = pool.join_timeout(BOUND).unwrap();
    assert!(
        matches!(exit.outcome(), Outcome::Stopped),
        "{}",
        exit.outcome()
    );
    // The tasks queued before the stop are all handled.
    assert_eq!(exit.handled(), 50);
    assert!(pool.send(0).is_err());
}

/// A worker that fails on `true`, restarted each time.
#[background_thread(
    restart = "on-failure",
    max_restarts = 1000,
    within = "60s",
    backoff = "1ms",
    workers = 2
)]
#[derive(Default)]
struct Flaky;

impl BackgroundThread for Flaky {
    type Task = bool;
    fn handle(&mut self, fail: bool, _: &Context) -> Result<(), BoxError> {
        restarting::fail_if(fail)
    }
}

#[test]
fn a_failed_worker_is_restarted_and_nothing_queued_is_lost() {
    let registry = Registry::new();
    let pool = Flaky.spawn_in(&registry).unwrap();
    assert_eq!(pool.info().workers, 2);
    // Four senders race the restarts: every tenth task fails its worker.
    std::thread::scope(|scope| {
        for _ in 0..4 {
            let pool = pool.clone();
            scope.spawn(move || {
                for task in 0..250 {
                    pool.send(task % 10 == 0).unwrap();
                }
            });
        }
    });
    wait_for(|| pool.info().restarts == 100, "a restart per failing task");
    pool.stop();
    let exit = pool.join_timeout(BOUND).unwrap();
    assert!(
        matches!(exit.outcome(), Outcome::Stopped),
        "{}",
        exit.outcome()
    );
    assert_eq!(
        exit.handled(),
        1_000,
        "every task once, the failing ones too"
    );
    assert!(exit.undelivered().is_empty());
    assert_eq!(exit.restarts(), 100);
}

/// A worker that fails for good on `true`, and takes its time otherwise.
#[background_thread(workers = 3)]
#[derive(Default)]
struct Brittle;

impl BackgroundThread for Brittle {
    type Task = bool;
    fn handle(&mut self, fail: bool, _: &Context) -> Result<(), BoxError> {
        std::thread::sleep(Duration::from_micros(200));
        restarting::fail_if(fail)
    }
}

#[test]
fn a_worker_that_fails_for_good_ends_the_pool_and_every_task_is_accounted_for() {
    let registry = Registry::new();
    let pool = Brittle.spawn_in(&registry).unwrap();
    for task in 0..300 {
        pool.send(task == 10).unwrap();
    }
    let exit = pool.join_timeout(BOUND).unwrap();
    assert!(
        matches!(exit.outcome(), Outcome::Failed(_)),
        "{}",
        exit.outcome()
    );
    // Accepted tasks were handled (the failing one too) or are returned.
    assert_eq!(exit.handled() + exit.undelivered().len() as u64, 300);
    assert!(pool.send(false).is_err(), "the pool takes no more");
    // The failure is remembered for a shutdown's report: the pool's, once.
    drop(exit);
    assert!(registry.is_empty());
}

/// A worker whose third instance fails to start; each counts its shutdowns.
#[background_thread]
struct Numbered {
    number: usize,
    shut_down: Arc<AtomicUsize>,
}

impl BackgroundThread for Numbered {
    type Task = ();
    fn startup(&mut self, _: &Context) -> Result<(), BoxError> {
        if self.number == 2 {
            return Err("no port left".into());
        }
        Ok(())
    }
    fn handle(&mut self, (): (), _: &Context) -> Result<(), BoxError> {
        Ok(())
    }
    fn shutdown(&mut self, _: &Context) {
        self.shut_down.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn a_worker_that_fails_to_start_fails_the_spawn_and_stops_the_others() {
    let registry = Registry::new();
    let shut_down = Arc::new(AtomicUsize::new(0));
    let made = Arc::new(AtomicUsize::new(0));
    let (count, made_by) = (Arc::clone(&shut_down), Arc::clone(&made));
    let error = Pool::new(workers(4), move || Numbered {
        number: made_by.fetch_add(1, Ordering::SeqCst),
        shut_down: Arc::clone(&count),
    })
    .spawn_in(&registry)
    .unwrap_err();
    assert!(
        matches!(error.failure(), SpawnFailure::Startup(_)),
        "{error}"
    );
    assert!(error.to_string().contains("no port left"));
    // The first instance made is handed back, never started.
    assert_eq!(error.into_inner().number, 0);
    // Instances 1 and 2 ... the second of them failed; the one before it was stopped.
    assert_eq!(made.load(Ordering::SeqCst), 3, "the fourth was never made");
    assert_eq!(shut_down.load(Ordering::SeqCst), 1);
    assert!(registry.is_empty());
    assert!(registry.unjoined_exits().is_empty(), "the caller was told");
}

#[test]
fn a_pool_takes_a_place_for_itself_and_one_per_worker_in_a_registry_with_a_limit() {
    let registry = Registry::with_limit(3);
    let seen = Arc::new(Seen::default());
    let error = recorders(3, &seen).spawn_in(&registry).unwrap_err();
    assert!(matches!(
        error.failure(),
        SpawnFailure::LimitReached { limit: 3 }
    ));
    assert!(registry.is_empty(), "the workers started were stopped");
    let pool = recorders(2, &seen).spawn_in(&registry).unwrap();
    assert_eq!(pool.state(), State::Running);
    pool.stop();
    pool.join_timeout(BOUND).unwrap();
}

#[test]
fn a_pool_cannot_be_joined_from_one_of_its_workers() {
    let registry = Registry::new();
    let seen = Arc::new(Seen::default());
    let pool = recorders(2, &seen).spawn_in(&registry).unwrap();
    let same = pool.clone();
    let joined = pool.call(move |_, _| same.join().map(|_| ())).unwrap();
    assert!(matches!(joined, Err(threadward::JoinError::OwnThread)));
    pool.stop();
    pool.join_timeout(BOUND).unwrap();
}
