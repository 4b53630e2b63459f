//! Supervision trees in a process-level shutdown, each scenario in its own child
//! process (see `support`): a signal stops the tree, children before their supervisor,
//! and nothing is restarted meanwhile; the report shows the tree; a top supervisor that
//! gives up starts the installed shutdown, which names it as the cause.

mod support;

use std::time::Duration;

use support::{scenario, Scenario, WATCHDOG};
use threadward::{
    background_thread, BackgroundThread, BoxError, Child, Context, RestartPolicy, Shutdown,
    Supervisor,
};

#[background_thread]
#[derive(Default)]
struct Worker;

impl BackgroundThread for Worker {
    type Task = bool;
    fn handle(&mut self, fail: bool, _: &Context) -> Result<(), BoxError> {
        if fail {
            return Err("fail".into());
        }
        Ok(())
    }
    fn shutdown(&mut self, ctx: &Context) {
        println!("ended: {} {}", ctx.name(), ctx.id());
    }
}

// ---------------------------------------------------------------- the parent's side

#[test]
fn a_signal_stops_the_tree_children_first_and_restarts_nothing() {
    let mut child = Scenario::start("scenario_tree_signal");
    child.wait_for("ready");
    child.signal("TERM");
    let (status, stderr) = child.exit_within(WATCHDOG);
    assert_eq!(status.code(), Some(0), "stderr: {stderr}");
    let ended: Vec<&str> = child
        .stdout
        .iter()
        .filter_map(|l| l.strip_prefix("ended: "))
        .collect();
    assert_eq!(
        ended.len(),
        2,
        "each worker once, none restarted: {ended:?}"
    );
    let rows: Vec<&str> = child
        .stdout
        .iter()
        .filter_map(|l| l.strip_prefix("row: "))
        .collect();
    // The report's rows, in stop order: the workers (the supervisor is their parent),
    // then the supervisor.
    let supervisor = child.ids("supervisor: ")[0];
    assert_eq!(
        rows,
        [
            format!("worker {supervisor} stopped"),
            format!("worker {supervisor} stopped"),
            "tree - stopped".to_owned()
        ]
    );
}

#[test]
fn a_top_supervisor_that_gives_up_starts_the_installed_shutdown() {
    let mut child = Scenario::start("scenario_tree_escalates");
    let (status, stderr) = child.exit_within(WATCHDOG);
    assert_eq!(status.code(), Some(1), "stderr: {stderr}");
    let supervisor = child.ids("supervisor: ")[0];
    assert!(
        child.stdout.contains(&format!(
            "cause: escalation by supervisor `tree` (#{supervisor})"
        )),
        "{:#?}",
        child.stdout
    );
    assert!(
        child.stdout.contains(&"tree failed".to_owned()),
        "{:#?}",
        child.stdout
    );
}

// ---------------------------------------------------------------- the scenarios

fn always_tree() -> Supervisor {
    Supervisor::new("tree")
        .backoff(Duration::ZERO)
        .child(Child::new(Worker::default).restart(RestartPolicy::Always))
        .child(Child::new(Worker::default).restart(RestartPolicy::Always))
}

#[test]
fn scenario_tree_signal() {
    if !scenario("scenario_tree_signal") {
        return;
    }
    let tree = always_tree().spawn().unwrap();
    println!("supervisor: {}", tree.id().as_u64());
    let shutdown = Shutdown::on_signals().install().unwrap();
    println!("ready");
    let report = shutdown.wait();
    for thread in report.threads() {
        let parent = thread
            .parent()
            .map_or_else(|| "-".to_owned(), |p| p.as_u64().to_string());
        println!("row: {} {parent} {}", thread.name(), thread.outcome());
    }
    std::process::exit(report.exit_code());
}

#[test]
fn scenario_tree_escalates() {
    if !scenario("scenario_tree_escalates") {
        return;
    }
    let tree = always_tree()
        .intensity(0, Duration::from_secs(60))
        .spawn()
        .unwrap();
    println!("supervisor: {}", tree.id().as_u64());
    let shutdown = Shutdown::on_signals().install().unwrap();
    let worker = tree.call(|t, _| t.running()).unwrap().remove(0);
    worker
        .downcast::<Worker>()
        .ok()
        .unwrap()
        .send(true)
        .unwrap();
    let report = shutdown.wait();
    println!("cause: {}", report.cause());
    for thread in report.threads().iter().chain(report.unjoined_earlier()) {
        if thread.name() == "tree" && thread.outcome().is_failure() {
            println!("tree failed");
        }
    }
    std::process::exit(report.exit_code());
}
