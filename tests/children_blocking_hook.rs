//! A child's `on_stop` hook that blocks holds its parent's (or supervisor's) stop up no
//! longer than the child's `shutdown_timeout`: the hooks run on a helper, and the child
//! is halted on time.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use threadward::{background_thread, BackgroundThread, BoxError, Context};

#[background_thread(shutdown_timeout = "100ms")]
struct Stubborn;
impl BackgroundThread for Stubborn {
    type Task = ();
    fn startup(&mut self, ctx: &Context) -> Result<(), BoxError> {
        // E.g. a graceful server close that waits for its connections.
        ctx.on_stop(|| std::thread::sleep(Duration::from_secs(8)));
        Ok(())
    }
    fn handle(&mut self, (): (), _: &Context) -> Result<(), BoxError> {
        Ok(())
    }
}

#[background_thread]
struct Parent;
impl BackgroundThread for Parent {
    type Task = ();
    fn startup(&mut self, ctx: &Context) -> Result<(), BoxError> {
        ctx.spawn_child(Stubborn)?;
        Ok(())
    }
    fn handle(&mut self, (): (), _: &Context) -> Result<(), BoxError> {
        Ok(())
    }
}

#[test]
fn a_blocking_child_on_stop_hook_does_not_hold_the_parent_past_the_timeouts() {
    let parent = Parent.spawn().unwrap();
    let started = Instant::now();
    parent.stop();
    // 100 ms to stop + 100 ms once halted, then left behind: well within 3 s.
    let joined = parent.join_timeout(Duration::from_secs(3));
    assert!(
        joined.is_ok(),
        "parent did not end within 3 s of stop ({:?}): the child's on_stop hook ran on it",
        started.elapsed()
    );
    let _ = mpsc::channel::<()>();
}

#[test]
fn a_blocking_child_on_stop_hook_does_not_hold_a_supervisor_past_its_stop_limit() {
    let tree = threadward::Supervisor::new("tree")
        .child(threadward::Child::new(|| Stubborn))
        .spawn_in(&threadward::Registry::new())
        .unwrap();
    tree.stop();
    let joined = tree.join_timeout(Duration::from_secs(3));
    assert!(joined.is_ok(), "supervisor did not end within 3 s of stop");
}
