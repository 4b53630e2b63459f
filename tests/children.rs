//! Children tied to a thread by `Context::spawn_child`: they show their parent, stop
//! before it (the last-started first, halted after their `shutdown_timeout`), and their
//! exits are reported to it, a failure failing it by default.

mod restarting;

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use restarting::{wait_for, Refuses, BOUND};
use threadward::{
    background_thread, checkpoint, BackgroundThread, BoxError, ChildFailed, Context, ExitReport,
    Handle, Outcome, Registry,
};

type Log = Arc<Mutex<Vec<String>>>;

fn log(log: &Log, line: impl Into<String>) {
    log.lock().unwrap().push(line.into());
}

#[background_thread]
struct Leaf {
    label: &'static str,
    log: Log,
}

impl BackgroundThread for Leaf {
    type Task = bool;
    fn handle(&mut self, fail: bool, _: &Context) -> Result<(), BoxError> {
        restarting::fail_if(fail)
    }
    fn shutdown(&mut self, _: &Context) {
        log(&self.log, format!("{} shut down", self.label));
    }
}

/// Spawns two leaves in `startup`; tells of its children's exits when `told` is set,
/// otherwise keeps the default (a child's failure fails it).
#[background_thread]
struct Parent {
    log: Log,
    told: Option<mpsc::Sender<ExitReport>>,
    children: Vec<Handle<Leaf>>,
}

impl BackgroundThread for Parent {
    type Task = ();
    fn startup(&mut self, ctx: &Context) -> Result<(), BoxError> {
        for label in ["first", "second"] {
            let log = Arc::clone(&self.log);
            self.children.push(ctx.spawn_child(Leaf { label, log })?);
        }
        Ok(())
    }
    fn handle(&mut self, (): (), _: &Context) -> Result<(), BoxError> {
        Ok(())
    }
    fn child_exited(&mut self, child: &ExitReport, ctx: &Context) -> Result<(), BoxError> {
        match &self.told {
            Some(told) => {
                let _ = told.send(child.clone());
                Ok(())
            }
            // What the default does.
            None => DefaultParent.child_exited(child, ctx),
        }
    }
    fn shutdown(&mut self, _: &Context) {
        let alive = self.children.iter().filter(|c| c.is_alive()).count();
        log(
            &self.log,
            format!("parent shut down with {alive} children alive"),
        );
    }
}

/// A thread that keeps the default `child_exited`.
#[background_thread]
struct DefaultParent;

impl BackgroundThread for DefaultParent {
    type Task = ();
    fn handle(&mut self, (): (), _: &Context) -> Result<(), BoxError> {
        Ok(())
    }
}

fn parent(registry: &Registry, told: Option<mpsc::Sender<ExitReport>>) -> (Handle<Parent>, Log) {
    let log = Log::default();
    let parent = Parent {
        log: Arc::clone(&log),
        told,
        children: Vec::new(),
    }
    .spawn_in(registry)
    .unwrap();
    (parent, log)
}

fn children(parent: &Handle<Parent>) -> Vec<Handle<Leaf>> {
    parent.call(|p, _| p.children.clone()).unwrap()
}

#[test]
fn children_show_their_parent_and_stop_before_it_last_started_first() {
    let registry = Registry::new();
    let (parent, log) = parent(&registry, None);
    let kids = children(&parent);
    for kid in &kids {
        assert_eq!(kid.info().parent, Some(parent.id()));
    }
    assert_eq!(parent.info().parent, None);
    let parents: Vec<_> = registry.active().iter().map(|t| t.parent).collect();
    assert_eq!(parents, [None, Some(parent.id()), Some(parent.id())]);

    parent.stop();
    let exit = parent.join().unwrap();
    assert!(exit.outcome().is_clean(), "{}", exit.outcome());
    assert_eq!(
        *log.lock().unwrap(),
        [
            "second shut down",
            "first shut down",
            "parent shut down with 0 children alive"
        ]
    );
    for kid in kids {
        let exit = kid.join().unwrap();
        assert!(
            matches!(exit.outcome(), Outcome::Stopped),
            "{}",
            exit.outcome()
        );
        assert_eq!(exit.report().parent(), Some(parent.id()));
    }
    assert!(registry.is_empty());
}

#[test]
fn a_childs_failure_fails_its_parent_by_default_and_the_other_children_stop_first() {
    let registry = Registry::new();
    let (parent, log) = parent(&registry, None);
    let kids = children(&parent);
    kids[0].send(true).unwrap();
    let exit = parent.join_timeout(BOUND).unwrap();
    let Outcome::Failed(error) = exit.outcome() else {
        panic!("the parent should fail: {}", exit.outcome());
    };
    let failed = error
        .downcast_ref::<ChildFailed>()
        .expect("the error is the child's failure");
    assert_eq!(failed.report().id(), kids[0].id());
    assert_eq!(
        error.to_string(),
        format!("child `leaf` ({}) failed: fail", kids[0].id())
    );
    // The failed child shut down when it failed; the other one stopped before the
    // parent's shutdown.
    let log = log.lock().unwrap().clone();
    assert_eq!(
        log.last().unwrap(),
        "parent shut down with 0 children alive"
    );
    assert_eq!(log.len(), 3, "{log:?}");
}

#[test]
fn a_parent_that_handles_child_exits_is_told_each_one_once() {
    let registry = Registry::new();
    let (told, news) = mpsc::channel();
    let (parent, _log) = parent(&registry, Some(told));
    let kids = children(&parent);
    kids[1].send(true).unwrap();
    let first = news.recv_timeout(BOUND).unwrap();
    assert_eq!(first.id(), kids[1].id());
    assert!(first.outcome().is_failure());
    kids[0].stop();
    let second = news.recv_timeout(BOUND).unwrap();
    assert_eq!(second.id(), kids[0].id());
    assert!(second.outcome().is_clean());
    assert!(parent.is_alive());
    parent.stop();
    assert!(parent.join().unwrap().outcome().is_clean());
    // A child that ends while its parent stops is not told: the parent stops it itself.
    assert!(news.try_recv().is_err());
}

/// Spawns a `Refuses` child in `handle` and answers whether that failed.
#[background_thread]
struct Spawner;

impl BackgroundThread for Spawner {
    type Task = mpsc::Sender<String>;
    fn handle(&mut self, answer: mpsc::Sender<String>, ctx: &Context) -> Result<(), BoxError> {
        let error = ctx.spawn_child(Refuses).err().map(|e| e.to_string());
        let _ = answer.send(error.unwrap_or_default());
        Ok(())
    }
}

#[test]
fn a_child_that_did_not_start_is_the_spawn_callers_error_and_no_failure_of_the_parent() {
    let registry = Registry::new();
    let spawner = Spawner.spawn_in(&registry).unwrap();
    let (answer, answered) = mpsc::channel();
    spawner.send(answer.clone()).unwrap();
    let error = answered.recv_timeout(BOUND).unwrap();
    assert!(error.contains("no config"), "{error}");
    // The parent goes on: a second task is handled after the child's exit was queued.
    spawner.send(answer).unwrap();
    answered.recv_timeout(BOUND).unwrap();
    assert!(spawner.is_alive());
    spawner.stop();
    assert!(spawner.join().unwrap().outcome().is_clean());
}

/// A child that does not stop when asked: it only passes checkpoints.
#[background_thread(shutdown_timeout = "50ms")]
struct Stubborn {
    started: mpsc::Sender<()>,
}

impl BackgroundThread for Stubborn {
    type Task = ();
    fn handle(&mut self, (): (), _: &Context) -> Result<(), BoxError> {
        let _ = self.started.send(());
        loop {
            checkpoint();
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

#[background_thread]
struct Keeper {
    child: Option<Handle<Stubborn>>,
    started: Option<mpsc::Sender<()>>,
}

impl BackgroundThread for Keeper {
    type Task = ();
    fn startup(&mut self, ctx: &Context) -> Result<(), BoxError> {
        let started = self.started.take().ok_or("no sender")?;
        let child = ctx.spawn_child(Stubborn { started })?;
        child.send(())?;
        self.child = Some(child);
        Ok(())
    }
    fn handle(&mut self, (): (), _: &Context) -> Result<(), BoxError> {
        Ok(())
    }
}

/// A keeper whose stubborn child is busy in `handle`.
fn keeper_with_stubborn_child(registry: &Registry) -> (Handle<Keeper>, Handle<Stubborn>) {
    let (started, running) = mpsc::channel();
    let keeper = Keeper {
        child: None,
        started: Some(started),
    }
    .spawn_in(registry)
    .unwrap();
    running.recv_timeout(BOUND).unwrap();
    let child = keeper.call(|k, _| k.child.clone()).unwrap().unwrap();
    (keeper, child)
}

#[test]
fn a_child_that_does_not_stop_in_its_shutdown_timeout_is_halted() {
    let registry = Registry::new();
    let (keeper, child) = keeper_with_stubborn_child(&registry);
    keeper.stop();
    assert!(keeper.join_timeout(BOUND).unwrap().outcome().is_clean());
    let exit = child.join_timeout(BOUND).unwrap();
    assert!(
        matches!(exit.outcome(), Outcome::Halted),
        "{}",
        exit.outcome()
    );
    // The child's stop was asked first, then the halt: its stop took at least the
    // shutdown timeout.
    assert!(exit.report().stop_took().unwrap() >= Duration::from_millis(50));
}

#[test]
fn a_halted_parent_halts_its_children() {
    let registry = Registry::new();
    let (keeper, child) = keeper_with_stubborn_child(&registry);
    keeper.halt();
    keeper.join_timeout(BOUND).unwrap();
    let exit = child.join_timeout(BOUND).unwrap();
    assert!(
        matches!(exit.outcome(), Outcome::Halted),
        "{}",
        exit.outcome()
    );
    // Halted at once, not after the timeout of a stop.
    wait_for(|| registry.is_empty(), "the registry to empty");
}

/// Ties a child to itself in `shutdown`, and answers with it.
#[background_thread]
struct LateParent {
    child: mpsc::Sender<Handle<Leaf>>,
}

impl BackgroundThread for LateParent {
    type Task = ();
    fn handle(&mut self, (): (), _: &Context) -> Result<(), BoxError> {
        Ok(())
    }
    fn shutdown(&mut self, ctx: &Context) {
        let log = Log::default();
        if let Ok(child) = ctx.spawn_child(Leaf { label: "late", log }) {
            let _ = self.child.send(child);
        }
    }
}

#[test]
fn a_child_tied_in_shutdown_does_not_outlive_its_parent() {
    let registry = Registry::new();
    let (child, late) = mpsc::channel();
    let parent = LateParent { child }.spawn_in(&registry).unwrap();
    parent.stop();
    parent.join_timeout(BOUND).unwrap();
    let late = late.recv_timeout(BOUND).unwrap();
    assert!(
        !late.is_alive(),
        "the late child was stopped with its parent"
    );
    assert!(registry.is_empty());
}
