//! Supervisors: children started in order and shown as the supervisor's, restarted by
//! the strategy (one-for-one, one-for-all, rest-for-one) and the child's policy, stopped
//! in reverse order; a supervisor that exceeds its intensity gives up, fails to its
//! parent (a nested supervisor is restarted by its own) or escalates as configured.

mod restarting;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use restarting::{fail_if, wait_for, Refuses, BOUND};
use threadward::{
    background_thread, AnyHandle, BackgroundThread, BoxError, Child, Context, Escalation, Handle,
    Outcome, Registry, RestartPolicy, Strategy, Supervisor, ThreadId,
};

type Log = Arc<Mutex<Vec<String>>>;

/// A worker that fails on `true` and logs its startup and shutdown under its label.
#[background_thread(name = "worker")]
struct Worker {
    label: &'static str,
    log: Log,
}

impl BackgroundThread for Worker {
    type Task = bool;
    fn startup(&mut self, _: &Context) -> Result<(), BoxError> {
        self.log
            .lock()
            .unwrap()
            .push(format!("{} started", self.label));
        Ok(())
    }
    fn handle(&mut self, fail: bool, _: &Context) -> Result<(), BoxError> {
        fail_if(fail)
    }
    fn shutdown(&mut self, _: &Context) {
        self.log
            .lock()
            .unwrap()
            .push(format!("{} shut down", self.label));
    }
}

fn worker(label: &'static str, log: &Log) -> Child {
    let log = Arc::clone(log);
    Child::new(move || Worker {
        label,
        log: Arc::clone(&log),
    })
}

/// A supervisor of three workers `a`, `b`, `c` with `strategy`, restarting at once.
fn tree(strategy: Strategy, log: &Log) -> Supervisor {
    Supervisor::new("tree")
        .strategy(strategy)
        .intensity(10, Duration::from_secs(60))
        .backoff(Duration::ZERO)
        .child(worker("a", log))
        .child(worker("b", log))
        .child(worker("c", log))
}

fn running(tree: &Handle<Supervisor>) -> Vec<AnyHandle> {
    tree.call(|tree, _| tree.running()).unwrap()
}

fn ids(handles: &[AnyHandle]) -> Vec<ThreadId> {
    handles.iter().map(AnyHandle::id).collect()
}

fn fail(child: &AnyHandle) {
    let Ok(worker) = child.clone().downcast::<Worker>() else {
        panic!("not a worker");
    };
    worker.send(true).unwrap();
}

/// Fails child `index` and waits until the supervisor runs three children again with
/// that one replaced: the ids before and after.
fn fail_and_wait(tree: &Handle<Supervisor>, index: usize) -> (Vec<ThreadId>, Vec<ThreadId>) {
    let before = running(tree);
    fail(&before[index]);
    let before = ids(&before);
    let mut after = Vec::new();
    wait_for(
        || {
            after = ids(&running(tree));
            after.len() == 3 && after[index] != before[index]
        },
        "the restart",
    );
    (before, after)
}

#[test]
fn children_start_in_order_under_the_supervisor_and_stop_in_reverse() {
    let registry = Registry::new();
    let log = Log::default();
    let tree = tree(Strategy::OneForOne, &log).spawn_in(&registry).unwrap();
    let children = running(&tree);
    assert_eq!(children.len(), 3);
    for child in &children {
        assert_eq!(child.info().parent, Some(tree.id()));
    }
    let active = registry.active();
    assert_eq!(active[0].name, "tree");
    assert_eq!(active[0].parent, None);
    assert_eq!(active.len(), 4);

    tree.stop();
    assert!(tree.join_timeout(BOUND).unwrap().outcome().is_clean());
    assert_eq!(
        *log.lock().unwrap(),
        [
            "a started",
            "b started",
            "c started",
            "c shut down",
            "b shut down",
            "a shut down"
        ]
    );
    for child in children {
        let exit = child.join_timeout(BOUND).unwrap();
        assert!(
            matches!(exit.outcome(), Outcome::Stopped),
            "{}",
            exit.outcome()
        );
    }
    assert!(registry.is_empty());
}

#[test]
fn one_for_one_restarts_the_failed_child_alone() {
    let registry = Registry::new();
    let log = Log::default();
    let tree = tree(Strategy::OneForOne, &log).spawn_in(&registry).unwrap();
    let (before, after) = fail_and_wait(&tree, 1);
    assert_eq!((before[0], before[2]), (after[0], after[2]));
    let restarted = registry.get(after[1]).unwrap();
    assert_eq!(restarted.info().parent, Some(tree.id()));
    tree.stop();
    tree.join_timeout(BOUND).unwrap();
}

#[test]
fn one_for_all_stops_the_others_in_reverse_and_restarts_all_in_order() {
    let registry = Registry::new();
    let log = Log::default();
    let tree = tree(Strategy::OneForAll, &log).spawn_in(&registry).unwrap();
    let old = running(&tree);
    log.lock().unwrap().clear();
    let (before, after) = fail_and_wait(&tree, 1);
    wait_for(|| log.lock().unwrap().len() == 6, "the restarts");
    for (old, new) in before.iter().zip(&after) {
        assert_ne!(old, new);
    }
    assert_eq!(
        *log.lock().unwrap(),
        [
            "b shut down", // the failed one, as it failed
            "c shut down",
            "a shut down",
            "a started",
            "b started",
            "c started"
        ]
    );
    // The siblings were stopped, not failed: they drained their queues.
    for at in [0, 2] {
        let exit = old[at].join_timeout(BOUND).unwrap();
        assert!(
            matches!(exit.outcome(), Outcome::Stopped),
            "{}",
            exit.outcome()
        );
    }
    tree.stop();
    tree.join_timeout(BOUND).unwrap();
}

#[test]
fn rest_for_one_restarts_the_failed_child_and_those_started_after_it() {
    let registry = Registry::new();
    let log = Log::default();
    let tree = tree(Strategy::RestForOne, &log)
        .spawn_in(&registry)
        .unwrap();
    let (before, after) = fail_and_wait(&tree, 1);
    wait_for(|| after[2] != before[2], "the rest");
    assert_eq!(before[0], after[0]);
    assert_ne!(before[2], after[2]);
    tree.stop();
    tree.join_timeout(BOUND).unwrap();
}

#[test]
fn the_childs_policy_decides_whether_it_is_restarted() {
    let registry = Registry::new();
    let log = Log::default();
    let tree = Supervisor::new("policies")
        .backoff(Duration::ZERO)
        .child(worker("never", &log).restart(RestartPolicy::Never))
        .child(worker("on-failure", &log))
        .child(worker("always", &log).restart(RestartPolicy::Always))
        .spawn_in(&registry)
        .unwrap();
    let running = || tree.call(|t, _| t.running()).unwrap();
    let children = running();
    // `never` fails: not restarted.
    fail(&children[0]);
    children[0].join_timeout(BOUND).unwrap();
    // `on-failure` is stopped from elsewhere: a clean exit, not restarted.
    children[1].stop();
    children[1].join_timeout(BOUND).unwrap();
    // `always` is stopped from elsewhere: restarted.
    children[2].stop();
    children[2].join_timeout(BOUND).unwrap();
    let mut now = Vec::new();
    wait_for(
        || {
            now = running();
            now.len() == 1 && now[0].id() != children[2].id()
        },
        "`always` to be restarted",
    );
    assert!(tree.is_alive());
    tree.stop();
    tree.join_timeout(BOUND).unwrap();
    let started: Vec<_> = log
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l.ends_with("started"))
        .cloned()
        .collect();
    assert_eq!(
        started,
        [
            "never started",
            "on-failure started",
            "always started",
            "always started"
        ]
    );
}

/// A registry with a thread that has nothing to do with the tree.
fn registry_with_bystander() -> (Registry, AnyHandle) {
    let registry = Registry::new();
    let bystander = threadward::thread("bystander")
        .every(Duration::from_secs(60))
        .spawn_in(&registry, |_| Ok(()))
        .unwrap();
    (registry, bystander.to_any())
}

#[test]
fn a_supervisor_that_exceeds_its_intensity_gives_up_and_reports() {
    let (registry, bystander) = registry_with_bystander();
    let log = Log::default();
    let tree = Supervisor::new("fragile")
        .intensity(2, Duration::from_secs(60))
        .backoff(Duration::ZERO)
        .escalation(Escalation::Report)
        .child(worker("a", &log))
        .child(worker("b", &log))
        .spawn_in(&registry)
        .unwrap();
    // Three failures: two restarts, then the third exceeds the intensity.
    let alive = |tree: &Handle<Supervisor>| tree.call(|t, _| t.running()).unwrap_or_default();
    for _ in 0..3 {
        let children = alive(&tree);
        fail(&children[0]);
        children[0].join_timeout(BOUND).unwrap();
        wait_for(
            || {
                !tree.is_alive()
                    || alive(&tree)
                        .first()
                        .map(AnyHandle::id)
                        .is_some_and(|id| id != children[0].id())
            },
            "a restart or the end",
        );
    }
    let exit = tree.join_timeout(BOUND).unwrap();
    let Outcome::Failed(error) = exit.outcome() else {
        panic!("the supervisor should fail: {}", exit.outcome());
    };
    let message = error.to_string();
    assert!(
        message.starts_with("gave up: restarts exceeded 2 within 60s"),
        "{message}"
    );
    assert!(message.contains("child `worker`"), "{message}");
    // Its children stopped before it ended; the rest of the registry goes on.
    assert_eq!(registry.len(), 1);
    assert!(bystander.is_alive());
    bystander.stop();
    bystander.join_timeout(BOUND).unwrap();
}

#[test]
fn a_top_supervisor_that_gives_up_without_a_shutdown_stops_its_registry() {
    let (registry, bystander) = registry_with_bystander();
    let log = Log::default();
    let tree = Supervisor::new("fragile")
        .intensity(0, Duration::from_secs(60))
        .child(worker("a", &log))
        .spawn_in(&registry)
        .unwrap();
    fail(&running(&tree)[0]);
    assert!(tree.join_timeout(BOUND).unwrap().outcome().is_failure());
    let exit = bystander.join_timeout(BOUND).unwrap();
    assert!(
        matches!(exit.outcome(), Outcome::Stopped),
        "{}",
        exit.outcome()
    );
}

#[test]
fn a_nested_supervisor_that_gives_up_is_restarted_by_its_parent() {
    let registry = Registry::new();
    let log = Log::default();
    let inner = Supervisor::new("inner")
        .intensity(0, Duration::from_secs(60))
        .child(worker("leaf", &log));
    let outer = Supervisor::new("outer")
        .backoff(Duration::ZERO)
        .child(inner)
        .spawn_in(&registry)
        .unwrap();
    let inner = running(&outer).remove(0);
    assert_eq!(inner.info().parent, Some(outer.id()));
    let inner_handle = inner.clone().downcast::<Supervisor>().ok().unwrap();
    let leaf = inner_handle.call(|s, _| s.running()).unwrap().remove(0);
    assert_eq!(leaf.info().parent, Some(inner.id()));

    fail(&leaf);
    let exit = inner.join_timeout(BOUND).unwrap();
    assert!(exit.outcome().is_failure(), "{}", exit.outcome());
    let mut renewed = Vec::new();
    wait_for(
        || {
            renewed = running(&outer);
            renewed.len() == 1 && renewed[0].id() != inner.id()
        },
        "the inner supervisor to be restarted",
    );
    // The new inner supervisor started a new leaf of its own.
    let new_inner = renewed[0].clone().downcast::<Supervisor>().ok().unwrap();
    let new_leaf = new_inner.call(|s, _| s.running()).unwrap().remove(0);
    assert_eq!(new_leaf.info().parent, Some(new_inner.id()));
    assert_ne!(new_leaf.id(), leaf.id());
    // The tree, as the registry shows it: outer ← inner ← leaf.
    let tree: Vec<_> = registry
        .active()
        .iter()
        .map(|t| (t.name, t.parent))
        .collect();
    assert_eq!(
        tree,
        [
            ("outer", None),
            ("inner", Some(outer.id())),
            ("worker", Some(new_inner.id()))
        ]
    );
    outer.stop();
    assert!(outer.join_timeout(BOUND).unwrap().outcome().is_clean());
    assert!(registry.is_empty());
}

#[test]
fn a_child_that_fails_to_start_fails_the_supervisors_spawn_and_the_others_stop() {
    let registry = Registry::new();
    let log = Log::default();
    let refused = Supervisor::new("tree")
        .child(worker("a", &log))
        .child(Child::new(|| Refuses))
        .spawn_in(&registry)
        .unwrap_err();
    let message = refused.to_string();
    assert!(
        message.contains("child `refuses` did not start: "),
        "{message}"
    );
    assert!(message.contains("no config"), "{message}");
    assert_eq!(*log.lock().unwrap(), ["a started", "a shut down"]);
    wait_for(|| registry.is_empty(), "the registry to empty");
}
