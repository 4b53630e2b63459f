//! What a fresh instance does not inherit from the one it replaces: the backoff run,
//! `on_stop` hooks, and the count of replacements. Every wait is bounded.

mod restarting;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use threadward::{background_thread, BackgroundThread, BoxError, Context, Outcome, Registry};

use restarting::{fail_if, wait_for, BOUND};

// ---- the backoff of repeated failed startups after a long-lived instance ----
static FAIL_STARTS: AtomicU32 = AtomicU32::new(0);
static STARTS_AT: Mutex<Vec<Instant>> = Mutex::new(Vec::new());

#[background_thread(
    restart = "on-failure",
    max_restarts = 50,
    within = "300ms",
    backoff = "100ms"
)]
#[derive(Default)]
struct LongLived;

impl BackgroundThread for LongLived {
    type Task = bool;
    fn startup(&mut self, _ctx: &Context) -> Result<(), BoxError> {
        STARTS_AT.lock().unwrap().push(Instant::now());
        if FAIL_STARTS.load(Ordering::SeqCst) > 0 {
            FAIL_STARTS.fetch_sub(1, Ordering::SeqCst);
            return Err("not yet".into());
        }
        Ok(())
    }
    fn handle(&mut self, fail: bool, _ctx: &Context) -> Result<(), BoxError> {
        fail_if(fail)
    }
}

#[test]
fn failed_startups_in_a_row_back_off_exponentially() {
    let t = LongLived.spawn_in(&Registry::new()).unwrap();
    std::thread::sleep(Duration::from_millis(400)); // a whole window without failing
    FAIL_STARTS.store(4, Ordering::SeqCst);
    t.send(true).unwrap();
    assert_eq!(t.call_timeout(BOUND, |_, _| ()).ok(), Some(()));
    let at = STARTS_AT.lock().unwrap().clone();
    let gaps: Vec<_> = at.windows(2).skip(1).map(|w| w[1] - w[0]).collect();
    t.stop();
    let _ = t.join_timeout(BOUND);
    // 5 restarts in a row: 100, 200, 400, 800 ms in full, each at least half of it.
    assert!(gaps.len() == 4, "{gaps:?}");
    assert!(
        gaps[3] >= Duration::from_millis(400),
        "the 5th restart in a row waited only {:?}: the backoff did not double",
        gaps[3]
    );
}

// ---- on_stop hooks of dead instances pile up ----
static ALIVE: AtomicU32 = AtomicU32::new(0);
struct Resource;
impl Resource {
    fn new() -> Self {
        ALIVE.fetch_add(1, Ordering::SeqCst);
        Resource
    }
}
impl Drop for Resource {
    fn drop(&mut self) {
        ALIVE.fetch_sub(1, Ordering::SeqCst);
    }
}

#[background_thread(
    restart = "on-failure",
    max_restarts = 100,
    within = "1m",
    backoff = "1ms"
)]
#[derive(Default)]
struct Hooked {
    res: Option<Arc<Resource>>,
}

impl BackgroundThread for Hooked {
    type Task = bool;
    fn startup(&mut self, ctx: &Context) -> Result<(), BoxError> {
        let res = Arc::new(Resource::new());
        let held = Arc::clone(&res);
        ctx.on_stop(move || drop(held)); // e.g. unblock this instance's socket
        self.res = Some(res);
        Ok(())
    }
    fn handle(&mut self, fail: bool, _ctx: &Context) -> Result<(), BoxError> {
        fail_if(fail)
    }
}

#[test]
fn the_on_stop_hooks_of_replaced_instances_do_not_pile_up() {
    let t = Hooked::default().spawn_in(&Registry::new()).unwrap();
    for _ in 0..20 {
        t.send(true).unwrap();
    }
    wait_for(|| t.info().restarts == 20, "20 restarts");
    let _ = t.call_timeout(BOUND, |_, _| ());
    let alive = ALIVE.load(Ordering::SeqCst);
    t.stop();
    let _ = t.join_timeout(BOUND);
    assert_eq!(
        alive,
        1,
        "the replaced instances' on_stop hooks keep {} of their resources",
        alive - 1
    );
}

// ---- `restarts` counts a replacement that never happened ----
static BUILT: AtomicU32 = AtomicU32::new(0);

#[background_thread(restart = "on-failure", backoff = "1h", factory = Patient::new)]
struct Patient;
impl Patient {
    fn new() -> Self {
        BUILT.fetch_add(1, Ordering::SeqCst);
        Patient
    }
}
impl BackgroundThread for Patient {
    type Task = bool;
    fn handle(&mut self, fail: bool, _ctx: &Context) -> Result<(), BoxError> {
        fail_if(fail)
    }
}

#[test]
fn restarts_counts_only_replacements_by_a_fresh_value() {
    let t = Patient::new().spawn_in(&Registry::new()).unwrap();
    t.send(true).unwrap();
    wait_for(|| t.info().last_failure.is_some(), "the backoff");
    t.halt();
    let exit = t.join_timeout(BOUND).unwrap();
    assert!(matches!(exit.outcome(), Outcome::Halted));
    assert_eq!(exit.restarts(), 0);
    assert_eq!(BUILT.load(Ordering::SeqCst), 1);
}
