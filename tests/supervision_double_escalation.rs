//! Two top-level supervisors give up at once (a common-mode failure): the installed
//! Shutdown takes the second escalation as nothing more, not as a second signal, and
//! the other threads stop gracefully within `grace` instead of being halted.

use std::time::Duration;

use threadward::{
    background_thread, BackgroundThread, BoxError, Child, Context, Outcome, Registry, Shutdown,
    Supervisor,
};

#[background_thread]
#[derive(Default)]
struct Flaky;
impl BackgroundThread for Flaky {
    type Task = bool;
    fn handle(&mut self, fail: bool, _: &Context) -> Result<(), BoxError> {
        if fail {
            return Err("database down".into());
        }
        Ok(())
    }
}

#[background_thread]
struct Slow;
impl BackgroundThread for Slow {
    type Task = u32;
    fn handle(&mut self, _: u32, _: &Context) -> Result<(), BoxError> {
        std::thread::sleep(Duration::from_millis(50));
        Ok(())
    }
}

fn tree(name: &'static str, registry: &Registry) -> threadward::Handle<Supervisor> {
    Supervisor::new(name)
        .intensity(0, Duration::from_secs(60))
        .child(Child::new(Flaky::default))
        .spawn_in(registry)
        .unwrap()
}

#[test]
fn a_second_escalation_does_not_cut_the_grace_short() {
    let registry = Registry::new();
    let a = tree("a", &registry);
    let b = tree("b", &registry);
    let slow = Slow.spawn_in(&registry).unwrap();
    let shutdown = Shutdown::without_signals()
        .registry(&registry)
        .grace(Duration::from_secs(10))
        .halt_grace(Duration::from_secs(2))
        .install()
        .unwrap();
    for t in [&a, &b] {
        let flaky = t.call(|t, _| t.find("flaky")).unwrap().unwrap();
        flaky.downcast::<Flaky>().ok().unwrap().send(true).unwrap();
    }
    for t in [&a, &b] {
        let exit = t.join_timeout(Duration::from_secs(10)).unwrap();
        assert!(exit.outcome().is_failure());
    }
    for n in 0..10 {
        slow.send(n).unwrap();
    }
    let report = shutdown.wait();
    let exit = slow.join_timeout(Duration::from_secs(10)).unwrap();
    assert!(
        matches!(exit.outcome(), Outcome::Stopped),
        "slow was {:?} after handling {} of 10 (grace 10 s, a 0.5 s drain): the second escalation halted everything\nreport:\n{report}",
        exit.outcome(),
        exit.handled()
    );
}
