//! What the console makes of restarts: a thread waiting out its backoff is idle, not
//! stuck; a fresh value's `startup` that hangs is stuck, even after a task that blocked
//! by design failed (its exemption ended with it).

mod support;

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use support::{events, BOUND};
use threadward::{background_thread, BackgroundThread, BoxError, Context, Registry};
use threadward_console::Console;

/// Its task registers an `on_stop` hook (a server inside one `handle`) and fails; it
/// is restarted after an hour.
#[background_thread(restart = "on-failure", backoff = "1h", factory = Patient::new)]
struct Patient;

impl Patient {
    fn new() -> Self {
        Self
    }
}

impl BackgroundThread for Patient {
    type Task = ();

    fn handle(&mut self, (): (), ctx: &Context) -> Result<(), BoxError> {
        ctx.on_stop(|| {});
        Err("its socket failed".into())
    }
}

static HANGING_STARTS: AtomicU32 = AtomicU32::new(0);
static RELEASE: AtomicBool = AtomicBool::new(false);

/// As `Patient`, restarted at once; every `startup` after the first hangs (passing no
/// checkpoint) until released, as a reconnect that never answers.
#[background_thread(restart = "on-failure", backoff = "1ms", factory = Hanging::new)]
struct Hanging;

impl Hanging {
    fn new() -> Self {
        Self
    }
}

impl BackgroundThread for Hanging {
    type Task = ();

    fn startup(&mut self, _ctx: &Context) -> Result<(), BoxError> {
        if HANGING_STARTS.fetch_add(1, Ordering::SeqCst) > 0 {
            while !RELEASE.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        Ok(())
    }

    fn handle(&mut self, (): (), ctx: &Context) -> Result<(), BoxError> {
        ctx.on_stop(|| {});
        Err("its socket failed".into())
    }
}

#[test]
fn a_backoff_is_idle_and_a_restart_that_hangs_is_stuck() {
    let registry = Registry::new();
    let console = Console::bind("127.0.0.1:0")
        .registry(&registry)
        .interval(Duration::from_millis(20))
        .stuck_after(Duration::from_millis(300))
        .spawn()
        .expect("the console starts");
    let patient = Patient.spawn_in(&registry).unwrap();
    let hanging = Hanging.spawn_in(&registry).unwrap();
    let by_id = |snapshot: &serde_json::Value, id: u64| {
        snapshot["threads"]
            .as_array()
            .and_then(|threads| threads.iter().find(|t| t["id"] == id).cloned())
    };
    let (patient_id, hanging_id) = (patient.id().as_u64(), hanging.id().as_u64());
    let mut stream = events(console.address(), &[]);
    patient.send(()).unwrap();
    stream.until(|s| by_id(s, patient_id).is_some_and(|t| t["last_failure"].is_string()));
    hanging.send(()).unwrap();
    // At least the threshold later, the restart's `startup` is stuck; the thread in
    // its backoff all that time is idle, not stuck.
    let seen = stream.until(|s| by_id(s, hanging_id).is_some_and(|t| t["stuck"] == true));
    let waiting = by_id(&seen, patient_id).unwrap();
    assert_eq!(waiting["stuck"], false, "{waiting}");
    assert_eq!(waiting["idle"], true, "{waiting}");
    let stuck = by_id(&seen, hanging_id).unwrap();
    assert_eq!(stuck["blocks_by_design"], false, "{stuck}");
    assert_eq!(stuck["restarts"], 1, "{stuck}");
    RELEASE.store(true, Ordering::SeqCst);
    patient.stop();
    hanging.stop();
    let _ended = (patient.join_timeout(BOUND), hanging.join_timeout(BOUND));
    console.handle().stop();
    console.handle().join_timeout(BOUND).unwrap();
}
