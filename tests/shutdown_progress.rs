//! A shutdown as observers see it, each scenario in its own child process (a shutdown
//! is process-wide): `Registry::shutdown_progress` steps from stopping to halting to
//! ended with the report, and a thread that asked to stop last (`Context::stop_last`)
//! is stopped only once every other thread has ended and the report is written.

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use support::{print_report_names, scenario, Scenario, WATCHDOG};
use threadward::{
    background_thread, BackgroundThread, BoxError, Context, Shutdown, ShutdownProgress,
    ShutdownStep,
};

#[test]
fn a_thread_that_stops_last_sees_the_others_ended_and_the_report() {
    let mut child = Scenario::start("scenario_stop_last");
    child.exits_cleanly();
    for line in [
        "progress: stopping, 1 left",
        "watcher during the drain: running",
        "watcher stopped: worker ended, step ended, report names the worker",
        // The watcher stops after the report: it is not in it.
        "report: worker",
        "after: ended",
    ] {
        assert!(child.printed(line), "{line}: {:#?}", child.stdout);
    }
}

#[test]
fn a_thread_that_stops_last_and_does_not_end_is_left_behind_out_of_the_report() {
    let mut child = Scenario::start("scenario_stop_last_stubborn");
    // Its exit code is the report's (0): the stubborn watcher is not in it.
    child.exits_cleanly();
    for line in [
        "report: worker",
        "stubborn: asked to stop, halted, alive",
        "wait returned within its budget",
        "remaining after: 0",
    ] {
        assert!(child.printed(line), "{line}: {:#?}", child.stdout);
    }
}

#[test]
fn the_progress_shows_the_halt_step() {
    let mut child = Scenario::start("scenario_progress_halting");
    let (status, stderr) = child.exit_within(WATCHDOG);
    // A halted thread makes the exit code unclean.
    assert_ne!(status.code(), Some(0), "stderr: {stderr}");
    let lines = &child.stdout;
    assert!(lines.iter().any(|l| l == "progress: halting"), "{lines:#?}");
    assert!(lines.iter().any(|l| l == "after: ended"), "{lines:#?}");
}

// ---------------------------------------------------------------- the child's side

static RELEASE: AtomicBool = AtomicBool::new(false);

/// Busy on its one task until released, passing no checkpoint meanwhile: each step of
/// the ladder lasts until the observer, having seen it, releases the worker. Then it
/// passes a checkpoint (where a halt unwinds it).
#[background_thread(name = "worker")]
struct Worker;

impl BackgroundThread for Worker {
    type Task = ();

    fn handle(&mut self, (): (), _ctx: &Context) -> Result<(), BoxError> {
        while !RELEASE.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(1));
        }
        threadward::checkpoint();
        Ok(())
    }
}

/// The progress, once `until` holds of it (bounded).
fn progress_until(until: impl Fn(&ShutdownProgress) -> bool) -> ShutdownProgress {
    let start = Instant::now();
    loop {
        if let Some(progress) = threadward::registry().shutdown_progress() {
            if until(&progress) {
                return progress;
            }
        }
        assert!(start.elapsed() < WATCHDOG, "the progress never got there");
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn scenario_stop_last() {
    if !scenario("scenario_stop_last") {
        return;
    }
    let worker = Worker.spawn().unwrap();
    worker.send(()).unwrap();
    let (ready_tx, ready) = mpsc::channel();
    let worker_id = worker.id();
    let watcher = threadward::thread("watcher")
        .spawn(move |ctx| {
            ctx.stop_last();
            ready_tx.send(()).unwrap();
            while !ctx.is_stopping() {
                ctx.sleep(Duration::from_secs(60));
            }
            let registry = threadward::registry();
            let worker = if registry.get(worker_id).is_none() {
                "ended"
            } else {
                "alive"
            };
            let progress = registry.shutdown_progress().unwrap();
            let step = match progress.step {
                ShutdownStep::Ended => "ended",
                _ => "not ended",
            };
            let named = progress.report.unwrap_or_default().contains("worker");
            let report = if named {
                "names the worker"
            } else {
                "lacks the worker"
            };
            println!("watcher stopped: worker {worker}, step {step}, report {report}");
            Ok(())
        })
        .unwrap();
    ready.recv_timeout(WATCHDOG).unwrap();
    let shutdown = Shutdown::without_signals().install().unwrap();
    shutdown.trigger();
    let observer = std::thread::spawn(move || {
        let progress = progress_until(|p| p.step == ShutdownStep::Stopping);
        println!("progress: stopping, {} left", progress.remaining);
        let state = if watcher.info().stop_requested.is_none() {
            "running"
        } else {
            "asked to stop"
        };
        println!("watcher during the drain: {state}");
        RELEASE.store(true, Ordering::SeqCst);
    });
    let report = shutdown.wait();
    observer.join().unwrap();
    print_report_names(&report);
    let after = threadward::registry().shutdown_progress().unwrap();
    if after.step == ShutdownStep::Ended && after.report.is_some() {
        println!("after: ended");
    }
    std::process::exit(report.exit_code());
}

#[test]
fn scenario_stop_last_stubborn() {
    if !scenario("scenario_stop_last_stubborn") {
        return;
    }
    RELEASE.store(true, Ordering::SeqCst);
    let worker = Worker.spawn().unwrap();
    // Stops last from before it starts (no handshake needed), and ignores every stop
    // and halt until the process ends.
    let stubborn = threadward::thread("stubborn")
        .stop_last()
        .spawn(|_ctx| {
            std::thread::sleep(WATCHDOG);
            Ok(())
        })
        .unwrap();
    // And one that ends at once when stopped: it ends while the stubborn one runs.
    let quick = threadward::thread("quick")
        .stop_last()
        .spawn(|ctx| {
            while !ctx.is_stopping() {
                ctx.sleep(Duration::from_secs(60));
            }
            Ok(())
        })
        .unwrap();
    let shutdown = Shutdown::without_signals()
        .grace(WATCHDOG)
        .halt_grace(WATCHDOG)
        .install()
        .unwrap();
    shutdown.trigger();
    let began = Instant::now();
    let report = shutdown.wait();
    // At most 2 s to stop and 1 s once halted, not the shutdown's own graces.
    if began.elapsed() < WATCHDOG / 2 {
        println!("wait returned within its budget");
    }
    print_report_names(&report);
    // Once ended, the count of threads left is the report's: the last ones ending
    // (`quick`) or not (`stubborn`) change nothing.
    if let Some(progress) = threadward::registry().shutdown_progress() {
        println!("remaining after: {}", progress.remaining);
    }
    drop(quick);
    let info = stubborn.info();
    if info.stop_requested.is_some() && info.halt_requested && info.state.is_alive() {
        println!("stubborn: asked to stop, halted, alive");
    }
    drop(worker);
    std::process::exit(report.exit_code());
}

#[test]
fn scenario_progress_halting() {
    if !scenario("scenario_progress_halting") {
        return;
    }
    let worker = Worker.spawn().unwrap();
    worker.send(()).unwrap();
    let shutdown = Shutdown::without_signals()
        .grace(Duration::from_millis(50))
        .halt_grace(WATCHDOG)
        .install()
        .unwrap();
    shutdown.trigger();
    let observer = std::thread::spawn(|| {
        let progress = progress_until(|p| p.step == ShutdownStep::Halting);
        assert!(progress.step_left.is_some());
        println!("progress: halting");
        RELEASE.store(true, Ordering::SeqCst);
    });
    let report = shutdown.wait();
    observer.join().unwrap();
    if threadward::registry().shutdown_progress().map(|p| p.step) == Some(ShutdownStep::Ended) {
        println!("after: ended");
    }
    std::process::exit(report.exit_code());
}
