//! The manager: at most `limit` threads at once, a pending queue, `run`, an
//! event-driven `watch`, graceful `stop` and abrupt `halt`, typed errors, and pending
//! values handed back rather than dropped. Every wait is bounded.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use crossbeam_channel as channel;
use threadward::{
    background_thread, BackgroundThread, BoxError, ClosureThread, Context, Manager, Outcome,
    Registry, RunError, SpawnFailure, WatchError,
};

const BOUND: Duration = Duration::from_secs(30);

/// Closure jobs that each wait for one token on `release` (or a stop), counting how
/// many run at once.
struct Jobs {
    release: channel::Sender<()>,
    gate: channel::Receiver<()>,
    live: Arc<AtomicUsize>,
    most: Arc<AtomicUsize>,
    done: Arc<AtomicUsize>,
}

impl Jobs {
    fn new() -> Self {
        let (release, gate) = channel::unbounded();
        Self {
            release,
            gate,
            live: Arc::default(),
            most: Arc::default(),
            done: Arc::default(),
        }
    }

    fn job(&self) -> ClosureThread {
        let (gate, live, most, done) = (
            self.gate.clone(),
            Arc::clone(&self.live),
            Arc::clone(&self.most),
            Arc::clone(&self.done),
        );
        threadward::thread("job").build(move |ctx| {
            let now = live.fetch_add(1, Ordering::SeqCst) + 1;
            most.fetch_max(now, Ordering::SeqCst);
            let _ = ctx.recv(&gate);
            live.fetch_sub(1, Ordering::SeqCst);
            done.fetch_add(1, Ordering::SeqCst);
            Ok(())
        })
    }

    /// Waits (bounded) until `n` jobs run at once.
    fn wait_live(&self, n: usize) {
        wait_until(|| self.live.load(Ordering::SeqCst) == n);
    }
}

fn wait_until(done: impl Fn() -> bool) {
    let waited = Instant::now();
    while !done() {
        assert!(waited.elapsed() < BOUND, "timed out");
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn run_starts_what_fits_and_says_why_it_cannot() {
    let registry = Registry::new();
    let manager = Manager::in_registry(2, &registry);
    assert_eq!(manager.run(), Err(RunError::NothingToRun));
    let jobs = Jobs::new();
    for _ in 0..5 {
        manager.push(jobs.job()).unwrap();
    }
    assert_eq!(manager.run(), Ok(2));
    jobs.wait_live(2);
    assert_eq!((manager.running(), manager.pending()), (2, 3));
    assert_eq!(manager.run(), Err(RunError::AlreadyRunning { limit: 2 }));
    assert_eq!(
        RunError::AlreadyRunning { limit: 2 }.to_string(),
        "all 2 slots are taken by running threads"
    );
    // One ends; its slot frees; `run` fills it.
    jobs.release.send(()).unwrap();
    wait_until(|| manager.running() == 1);
    assert_eq!(manager.run(), Ok(1));
    assert_eq!(jobs.most.load(Ordering::SeqCst), 2);
    assert_eq!(registry.len(), 2);

    let left = manager.stop();
    assert_eq!(left.len(), 2);
    assert!(left
        .iter()
        .all(|pending| pending.name() == "job" && pending.failure().is_none()));
    let exits = manager.join_timeout(BOUND).unwrap();
    assert_eq!(exits.len(), 3);
    assert!(exits.iter().all(|exit| exit.outcome().is_clean()));
    assert!(registry.is_empty());
    assert_eq!(manager.run(), Err(RunError::Stopped));
}

#[test]
fn watch_starts_pending_threads_as_slots_free_and_never_exceeds_the_limit() {
    let registry = Registry::new();
    let manager = Manager::in_registry(2, &registry);
    let jobs = Jobs::new();
    for _ in 0..5 {
        manager.push(jobs.job()).unwrap();
    }
    manager.watch().unwrap();
    assert!(manager.is_watching());
    assert!(matches!(manager.watch(), Err(WatchError::AlreadyWatching)));
    jobs.wait_live(2);
    for finished in 1..=5 {
        jobs.release.send(()).unwrap();
        wait_until(|| jobs.done.load(Ordering::SeqCst) == finished);
    }
    wait_until(|| manager.running() == 0);
    assert_eq!(manager.pending(), 0);
    assert_eq!(jobs.most.load(Ordering::SeqCst), 2);
    // A push to a watching manager starts at once.
    manager.push(jobs.job()).unwrap();
    jobs.wait_live(1);
    jobs.release.send(()).unwrap();
    wait_until(|| jobs.done.load(Ordering::SeqCst) == 6);

    assert!(manager.stop().is_empty());
    let exits = manager.join_timeout(BOUND).unwrap();
    assert_eq!(exits.len(), 6);
    assert!(!manager.is_watching());
    assert!(matches!(manager.watch(), Err(WatchError::Stopped)));
    assert!(registry.is_empty(), "{:?}", registry.active());
}

/// The voluntary context switches of the process's thread named `name`.
#[cfg(target_os = "linux")]
fn switches_of(name: &str) -> Option<u64> {
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let path = task.ok()?.path();
        let comm = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
        if comm.trim() == name {
            let status = std::fs::read_to_string(path.join("status")).ok()?;
            return status
                .lines()
                .find_map(|line| line.strip_prefix("voluntary_ctxt_switches:"))
                .and_then(|n| n.trim().parse().ok());
        }
    }
    None
}

#[cfg(target_os = "linux")]
#[test]
fn an_idle_watch_sleeps_until_a_slot_frees() {
    let registry = Registry::new();
    let manager = Manager::in_registry(1, &registry);
    let jobs = Jobs::new();
    manager.push(jobs.job()).unwrap();
    manager.push(jobs.job()).unwrap();
    manager.watch().unwrap();
    jobs.wait_live(1);
    // The watch sleeps while the slot is taken: no wake-ups over 200 ms (a polling
    // loop at any useful rate would show some). The first reading may race the watch
    // falling asleep; a few tries find a quiet window.
    let quiet = (0..5).any(|_| {
        let before = switches_of("manager").expect("the watch's thread");
        std::thread::sleep(Duration::from_millis(200));
        switches_of("manager") == Some(before)
    });
    assert!(quiet, "the watch woke while nothing changed");
    // A freed slot wakes it, and the second job starts.
    jobs.release.send(()).unwrap();
    wait_until(|| jobs.done.load(Ordering::SeqCst) == 1);
    jobs.wait_live(1);
    assert_eq!(manager.pending(), 0);
    manager.halt();
    manager.join_timeout(BOUND).unwrap();
}

#[background_thread]
struct Numbered {
    n: u32,
}

impl BackgroundThread for Numbered {
    type Task = ();
    fn startup(&mut self, _ctx: &Context) -> Result<(), BoxError> {
        if self.n == 13 {
            return Err("unlucky".into());
        }
        Ok(())
    }
    fn handle(&mut self, (): (), _ctx: &Context) -> Result<(), BoxError> {
        Ok(())
    }
}

#[test]
fn stop_hands_back_what_never_started_typed_and_with_any_failure() {
    let registry = Registry::new();
    let manager = Manager::in_registry(2, &registry);
    for n in [1, 13, 2, 3, 4] {
        manager.push(Numbered { n }).unwrap();
    }
    // 1 starts, 13 fails (set aside), 2 starts; 3 and 4 wait.
    assert_eq!(manager.run(), Ok(2));
    let left = manager.stop();
    let described: Vec<_> = left
        .iter()
        .map(|pending| pending.failure().map(ToString::to_string))
        .collect();
    assert_eq!(
        described,
        [Some("startup failed: unlucky".to_owned()), None, None]
    );
    let values: Vec<u32> = left
        .into_iter()
        .map(|pending| pending.downcast::<Numbered>().unwrap().n)
        .collect();
    assert_eq!(values, [13, 3, 4]);
    // Graceful: the running ones were stopped and drained.
    let exits = manager.join_timeout(BOUND).unwrap();
    assert_eq!(exits.len(), 2);
    assert!(exits
        .iter()
        .all(|exit| matches!(exit.outcome(), Outcome::Stopped)));
    // Stopped: pushes are refused with the value.
    let refused = manager.push(Numbered { n: 5 }).unwrap_err();
    assert_eq!(
        refused.to_string(),
        "the manager was stopped and takes no more threads"
    );
    assert_eq!(refused.into_inner().n, 5);
    assert!(manager.stop().is_empty());
    assert!(registry.is_empty());
}

#[test]
fn a_pending_value_of_another_type_is_handed_back_unchanged() {
    let manager = Manager::in_registry(1, &Registry::new());
    manager.push(Numbered { n: 1 }).unwrap();
    let pending = manager.stop().pop().unwrap();
    let pending = pending.downcast::<ClosureThread>().unwrap_err();
    assert_eq!(pending.downcast::<Numbered>().unwrap().n, 1);
}

#[test]
fn halt_unwinds_what_runs_at_its_checkpoint() {
    let registry = Registry::new();
    let manager = Manager::in_registry(2, &registry);
    let entered = Arc::new(AtomicUsize::new(0));
    for _ in 0..3 {
        let entered = Arc::clone(&entered);
        manager
            .push(threadward::thread("spinner").build(move |ctx| {
                entered.fetch_add(1, Ordering::SeqCst);
                loop {
                    ctx.checkpoint();
                    std::thread::sleep(Duration::from_millis(1));
                }
            }))
            .unwrap();
    }
    manager.watch().unwrap();
    wait_until(|| entered.load(Ordering::SeqCst) == 2);
    let left = manager.halt();
    assert_eq!(left.len(), 1);
    let exits = manager.join_timeout(BOUND).unwrap();
    assert_eq!(exits.len(), 2);
    assert!(exits
        .iter()
        .all(|exit| matches!(exit.outcome(), Outcome::Halted)));
    assert!(registry.is_empty());
}

#[test]
fn a_stop_racing_the_watch_loses_no_thread() {
    // Whatever the interleaving, every pushed value is either handed back or started
    // (and then stopped, with an exit report).
    for _ in 0..20 {
        let registry = Registry::new();
        let manager = Manager::in_registry(3, &registry);
        let ran = Arc::new(AtomicUsize::new(0));
        for _ in 0..10 {
            let ran = Arc::clone(&ran);
            manager
                .push(threadward::thread("quick").build(move |_ctx| {
                    ran.fetch_add(1, Ordering::SeqCst);
                    Ok(())
                }))
                .unwrap();
        }
        let barrier = Arc::new(Barrier::new(2));
        let stopper = std::thread::spawn({
            let (manager, barrier) = (manager.clone(), Arc::clone(&barrier));
            move || {
                barrier.wait();
                manager.stop()
            }
        });
        manager.watch().unwrap();
        barrier.wait();
        let handed_back = stopper.join().unwrap().len();
        let exits = manager.join_timeout(BOUND).unwrap();
        assert_eq!(handed_back + exits.len(), 10);
        assert!(exits.iter().all(|exit| exit.outcome().is_clean()));
        assert!(registry.is_empty(), "{:?}", registry.active());
    }
}

#[test]
fn a_limit_of_zero_is_taken_as_one() {
    let manager = Manager::in_registry(0, &Registry::new());
    assert_eq!(manager.limit(), 1);
    manager.stop();
}

#[test]
fn what_the_registry_refuses_is_handed_back_with_why_and_a_watch_says_why() {
    // A registry that takes no thread at all.
    let registry = Registry::with_limit(0);
    let manager = Manager::in_registry(1, &registry);
    assert!(matches!(
        manager.watch(),
        Err(WatchError::Spawn(SpawnFailure::LimitReached { limit: 0 }))
    ));
    assert!(!manager.is_watching());
    manager.push(Numbered { n: 1 }).unwrap();
    assert_eq!(manager.run(), Ok(0));
    assert_eq!(manager.running(), 0);
    let left = manager.stop();
    assert!(matches!(
        left[0].failure(),
        Some(SpawnFailure::LimitReached { limit: 0 })
    ));
    assert!(manager.join_timeout(BOUND).unwrap().is_empty());
}
