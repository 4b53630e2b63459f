//! A pool as a supervisor's child: it ends once its last worker has, and the supervisor
//! starts a fresh pool with fresh workers; stopping the tree stops the pool's workers
//! first. And a pool tied to a thread with `ctx.spawn_child`.

mod restarting;

use std::time::Duration;

use restarting::{fail_if, wait_for, BOUND};
use threadward::{
    background_thread, BackgroundThread, BoxError, Child, Context, Handle, Outcome, Registry,
    RestartPolicy, Supervisor, ThreadId, ThreadInfo,
};

/// A pool of two that fails for good on `true`.
#[background_thread(name = "crunch", workers = 2)]
#[derive(Default)]
struct Crunch;

impl BackgroundThread for Crunch {
    type Task = bool;
    fn handle(&mut self, fail: bool, _: &Context) -> Result<(), BoxError> {
        fail_if(fail)
    }
}

fn pools(registry: &Registry, parent: ThreadId) -> Vec<ThreadInfo> {
    registry
        .active()
        .into_iter()
        .filter(|t| t.parent == Some(parent) && t.workers == 2)
        .collect()
}

#[test]
fn a_supervisor_restarts_a_failed_pool_with_fresh_workers() {
    let registry = Registry::new();
    let tree = Supervisor::new("tree")
        .backoff(Duration::ZERO)
        .child(Child::new(Crunch::default).restart(RestartPolicy::OnFailure))
        .spawn_in(&registry)
        .unwrap();
    let first = tree.call(|s, _| s.find("crunch")).unwrap().unwrap();
    let workers: Vec<ThreadId> = registry
        .active()
        .iter()
        .filter(|t| t.parent == Some(first.id()))
        .map(|t| t.id)
        .collect();
    assert_eq!(workers.len(), 2);

    let crunch: Handle<Crunch> = first.clone().downcast().unwrap();
    crunch.send(true).unwrap();
    let exit = first.join_timeout(BOUND).unwrap();
    assert!(exit.outcome().is_failure(), "{}", exit.outcome());
    // Its workers are gone, and a fresh pool of two runs under the supervisor.
    wait_for(
        || {
            pools(&registry, tree.id())
                .iter()
                .any(|p| p.id != first.id())
        },
        "a fresh pool",
    );
    let second = pools(&registry, tree.id())[0].id;
    assert!(registry.active().iter().all(|t| !workers.contains(&t.id)));
    wait_for(
        || {
            registry
                .active()
                .iter()
                .filter(|t| t.parent == Some(second))
                .count()
                == 2
        },
        "the fresh pool's workers",
    );

    tree.stop();
    let exit = tree.join_timeout(BOUND).unwrap();
    assert!(
        matches!(exit.outcome(), Outcome::Stopped),
        "{}",
        exit.outcome()
    );
    assert!(registry.is_empty(), "{:?}", registry.active());
}

/// A thread that ties a pool to itself at startup.
#[background_thread]
#[derive(Default)]
struct Owner {
    pool: Option<Handle<Crunch>>,
}

impl BackgroundThread for Owner {
    type Task = ();
    fn startup(&mut self, ctx: &Context) -> Result<(), BoxError> {
        self.pool = Some(ctx.spawn_child(Crunch).map_err(|e| e.to_string())?);
        Ok(())
    }
    fn handle(&mut self, (): (), _: &Context) -> Result<(), BoxError> {
        Ok(())
    }
}

#[test]
fn a_pool_tied_with_spawn_child_stops_before_its_parent_and_its_failure_reaches_it() {
    let registry = Registry::new();
    let owner = Owner::default().spawn_in(&registry).unwrap();
    let pool = owner.call(|o, _| o.pool.clone()).unwrap().unwrap();
    assert_eq!(pool.info().parent, Some(owner.id()));
    assert_eq!(pool.info().workers, 2);
    owner.stop();
    owner.join_timeout(BOUND).unwrap();
    assert!(matches!(
        pool.join_timeout(BOUND).unwrap().outcome(),
        Outcome::Stopped
    ));
    assert!(registry.is_empty());

    // A pool that fails is reported to its parent, which fails by default.
    let owner = Owner::default().spawn_in(&registry).unwrap();
    let pool = owner.call(|o, _| o.pool.clone()).unwrap().unwrap();
    pool.send(true).unwrap();
    let exit = owner.join_timeout(BOUND).unwrap();
    assert!(
        exit.outcome().to_string().contains("child `crunch`"),
        "{}",
        exit.outcome()
    );
    assert!(registry.is_empty());
}
