//! A supervisor stopped in the middle of a one-for-all cascade starts no new generation
//! of its children: restarts wait while the supervisor is stopping.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use threadward::{
    background_thread, BackgroundThread, BoxError, Child, Context, Registry, Strategy, Supervisor,
};

static STARTS: AtomicUsize = AtomicUsize::new(0);

#[background_thread]
#[derive(Default)]
struct SlowStop;
impl BackgroundThread for SlowStop {
    type Task = ();
    fn startup(&mut self, _: &Context) -> Result<(), BoxError> {
        STARTS.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
    fn handle(&mut self, (): (), _: &Context) -> Result<(), BoxError> {
        Ok(())
    }
    fn shutdown(&mut self, _: &Context) {
        std::thread::sleep(Duration::from_millis(600));
    }
}

#[background_thread]
#[derive(Default)]
struct Flaky;
impl BackgroundThread for Flaky {
    type Task = bool;
    fn handle(&mut self, fail: bool, _: &Context) -> Result<(), BoxError> {
        if fail {
            return Err("boom".into());
        }
        Ok(())
    }
}

#[test]
fn a_supervisor_stopped_during_a_cascade_starts_no_new_generation() {
    let registry = Registry::new();
    let tree = Supervisor::new("tree")
        .strategy(Strategy::OneForAll)
        .backoff(Duration::from_millis(1))
        .child(Child::new(SlowStop::default))
        .child(Child::new(Flaky::default))
        .spawn_in(&registry)
        .unwrap();
    let flaky = tree.call(|t, _| t.find("flaky")).unwrap().unwrap();
    flaky.downcast::<Flaky>().ok().unwrap().send(true).unwrap();
    std::thread::sleep(Duration::from_millis(200)); // the cascade is stopping SlowStop
    tree.stop();
    let exit = tree.join_timeout(Duration::from_secs(10)).unwrap();
    assert!(exit.outcome().is_clean());
    let starts = STARTS.load(Ordering::SeqCst);
    assert_eq!(
        starts, 1,
        "SlowStop was started {starts} times: a new generation after the stop"
    );
}
