//! The registry: threads are in it from spawn until they end, it finds them, stops them
//! in reverse start order, and enforces its limit.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use threadward::{
    background_thread, registry, BackgroundThread, BoxError, Context, Registry, SpawnFailure, State,
};

const BOUND: Duration = Duration::from_secs(10);

#[background_thread(name = "tracked")]
#[derive(Default)]
struct Tracked {
    label: &'static str,
    stops: Arc<Mutex<Vec<&'static str>>>,
}

impl BackgroundThread for Tracked {
    type Task = ();
    fn handle(&mut self, (): (), _ctx: &Context) -> Result<(), BoxError> {
        Ok(())
    }
    fn shutdown(&mut self, _ctx: &Context) {
        self.stops.lock().unwrap().push(self.label);
    }
}

fn tracked(label: &'static str, stops: &Arc<Mutex<Vec<&'static str>>>) -> Tracked {
    Tracked {
        label,
        stops: Arc::clone(stops),
    }
}

#[test]
fn threads_are_listed_while_they_run_and_leave_when_they_end() {
    let registry = Registry::new();
    let stops = Arc::default();
    let first = tracked("first", &stops).spawn_in(&registry).unwrap();
    let second = tracked("second", &stops).spawn_in(&registry).unwrap();
    first.send(()).unwrap();
    first.call(|_, _| ()).unwrap();

    let active = registry.active();
    assert_eq!(active.len(), 2);
    assert_eq!(active[0].id, first.id(), "listed in start order");
    assert_eq!(active[1].id, second.id());
    assert_eq!(active[0].name, "tracked");
    assert!(
        active[0].type_name.ends_with("Tracked"),
        "{}",
        active[0].type_name
    );
    assert_eq!(active[0].state, State::Running);
    assert_eq!(active[0].handled, 1);
    assert_eq!(active[0].queue_depth, 0);
    assert!(active[0].started_at <= active[1].started_at);

    assert_eq!(registry.find("tracked").unwrap().id(), first.id());
    assert_eq!(registry.get(second.id()).unwrap().id(), second.id());
    assert!(registry.find("untracked").is_none());

    first.stop();
    first.join_timeout(BOUND).unwrap();
    assert_eq!(registry.len(), 1);
    assert!(registry.get(first.id()).is_none());
    second.stop();
    second.join_timeout(BOUND).unwrap();
    assert!(registry.is_empty());
}

#[test]
fn stop_all_stops_every_thread_and_empties_the_registry() {
    let registry = Registry::new();
    let stops = Arc::default();
    let handles: Vec<_> = ["a", "b", "c"]
        .into_iter()
        .map(|label| tracked(label, &stops).spawn_in(&registry).unwrap())
        .collect();
    let ids: Vec<_> = registry
        .handles()
        .iter()
        .map(threadward::AnyHandle::id)
        .collect();
    assert_eq!(
        ids,
        handles
            .iter()
            .map(threadward::Handle::id)
            .collect::<Vec<_>>(),
        "start order"
    );
    registry.stop_all();
    for handle in &handles {
        let report = handle.to_any().join_timeout(BOUND).unwrap();
        assert!(report.outcome().is_clean());
    }
    let mut stopped = stops.lock().unwrap().clone();
    stopped.sort_unstable();
    assert_eq!(stopped, ["a", "b", "c"]);
    assert!(registry.is_empty());
}

#[test]
fn the_limit_refuses_extra_threads_and_hands_them_back() {
    let registry = Registry::with_limit(2);
    let stops = Arc::default();
    let a = tracked("a", &stops).spawn_in(&registry).unwrap();
    let _b = tracked("b", &stops).spawn_in(&registry).unwrap();
    let err = tracked("c", &stops).spawn_in(&registry).unwrap_err();
    assert!(matches!(
        err.failure(),
        SpawnFailure::LimitReached { limit: 2 }
    ));
    assert_eq!(
        err.to_string(),
        "could not spawn thread `tracked`: the registry's limit of 2 threads is reached"
    );
    assert_eq!(err.into_inner().label, "c");

    // Room again once one ends.
    a.stop();
    a.join_timeout(BOUND).unwrap();
    let c = tracked("c", &stops).spawn_in(&registry).unwrap();
    assert_eq!(registry.len(), 2);
    registry.stop_all();
    c.join_timeout(BOUND).unwrap();
}

#[test]
fn registries_are_isolated_and_spawn_uses_the_global_one() {
    let mine = Registry::new();
    let stops = Arc::default();
    let local = tracked("local", &stops).spawn_in(&mine).unwrap();
    let global = tracked("global", &stops).spawn().unwrap();
    assert!(registry().get(local.id()).is_none());
    assert!(registry().get(global.id()).is_some());
    assert!(mine.get(global.id()).is_none());
    local.stop();
    global.stop();
    local.join_timeout(BOUND).unwrap();
    global.join_timeout(BOUND).unwrap();
    assert!(registry().get(global.id()).is_none());
}
