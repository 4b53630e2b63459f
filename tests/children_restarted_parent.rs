//! A thread declared `restart = "on-failure"`: the failed instance stops its children
//! itself (before its `shutdown`), and the fresh instance's `child_exited` is not told
//! of them: an override that respawns a child on its exit runs one worker, not two.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use threadward::{background_thread, BackgroundThread, BoxError, Context, ExitReport, Handle};

static WORKERS_SPAWNED: AtomicUsize = AtomicUsize::new(0);
static STALE_NOTICES: AtomicUsize = AtomicUsize::new(0);

#[background_thread]
struct Worker;
impl BackgroundThread for Worker {
    type Task = ();
    fn handle(&mut self, (): (), _: &Context) -> Result<(), BoxError> {
        Ok(())
    }
}

#[background_thread(restart = "on-failure", max_restarts = 5, within = "1m", backoff = "10ms", factory = Owner::default)]
#[derive(Default)]
struct Owner {
    worker: Option<Handle<Worker>>,
}
impl BackgroundThread for Owner {
    type Task = bool;
    fn startup(&mut self, ctx: &Context) -> Result<(), BoxError> {
        WORKERS_SPAWNED.fetch_add(1, Ordering::SeqCst);
        self.worker = Some(ctx.spawn_child(Worker)?);
        Ok(())
    }
    fn handle(&mut self, fail: bool, _: &Context) -> Result<(), BoxError> {
        if fail {
            return Err("boom".into());
        }
        Ok(())
    }
    fn child_exited(&mut self, child: &ExitReport, ctx: &Context) -> Result<(), BoxError> {
        if self.worker.as_ref().map(Handle::id) != Some(child.id()) {
            STALE_NOTICES.fetch_add(1, Ordering::SeqCst);
        }
        // Keep a worker running, as the docs suggest ("Override it to restart the child").
        WORKERS_SPAWNED.fetch_add(1, Ordering::SeqCst);
        self.worker = Some(ctx.spawn_child(Worker)?);
        Ok(())
    }
}

#[test]
fn a_fresh_instance_is_not_told_of_the_children_its_predecessor_stopped() {
    let owner = Owner::default().spawn().unwrap();
    owner.send(true).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while owner.info().restarts < 1 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    // Let the queued notices be handled.
    owner
        .call_timeout(Duration::from_secs(5), |_, _| ())
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    owner
        .call_timeout(Duration::from_secs(5), |_, _| ())
        .unwrap();
    let stale = STALE_NOTICES.load(Ordering::SeqCst);
    let spawned = WORKERS_SPAWNED.load(Ordering::SeqCst);
    owner.stop();
    owner.join_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(stale, 0, "the fresh instance was told of {stale} child(ren) it never spawned; workers spawned: {spawned} (expected 2)");
}
