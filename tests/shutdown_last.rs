//! The threads that stop last (`Context::stop_last`, `ThreadBuilder::stop_last`) at the
//! edges, each scenario in its own child process (a shutdown is process-wide): a pool
//! that stops last stops as one, after the others; and a third request (signal or
//! trigger) while they stop still ends the process.

mod support;

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use support::{print_report_names, scenario, Scenario, WATCHDOG};
use threadward::{Pool, Shutdown};

#[test]
fn a_pool_that_stops_last_stops_as_one_after_the_others() {
    let mut child = Scenario::start("scenario_last_pool");
    child.exits_cleanly();
    let lines = &child.stdout;
    assert!(child.printed("pool running while slow stops"), "{lines:#?}");
    assert!(child.printed("report: slow"), "{lines:#?}");
    let after = lines
        .iter()
        .filter(|l| *l == "worker stopped after slow")
        .count();
    assert_eq!(after, 2, "{lines:#?}");
}

#[test]
fn a_third_request_while_the_last_threads_stop_ends_the_process() {
    // Started by a signal (then two more), or by `trigger` (then two signals): the third
    // request ends the process. The signals must come within the last threads' short
    // budget (3 s in all): on a machine too loaded for that, `wait` returns first (or
    // the signals' default action, back once it did, ends the child); tried again.
    for name in ["scenario_last_signals", "scenario_last_triggered"] {
        third_request_ends_the_process(name);
    }
}

fn third_request_ends_the_process(name: &str) {
    for attempt in 1..=3 {
        let mut child = Scenario::start(name);
        child.wait_for("ready");
        if name == "scenario_last_signals" {
            child.signal("TERM");
        }
        child.wait_for("asked to stop");
        child.signal("TERM");
        child.wait_for("halted");
        child.signal("TERM");
        let (status, stderr) = child.exit_within(WATCHDOG);
        if status.code().is_none() || child.stdout.iter().any(|l| l == "wait returned") {
            eprintln!("{name}, attempt {attempt}: the budget ran out before the third request");
            continue;
        }
        // The ladder printed the report and exited with its code (clean: the stubborn
        // thread is not in it).
        assert_eq!(status.code(), Some(0), "{name}: stderr: {stderr}");
        assert!(stderr.contains("shutdown"), "{name}: no report: {stderr}");
        return;
    }
    panic!("{name}: the third request never came within the budget in 3 attempts");
}

// ---------------------------------------------------------------- the child's side

static SLOW_RELEASED: AtomicBool = AtomicBool::new(false);

#[test]
fn scenario_last_pool() {
    if !scenario("scenario_last_pool") {
        return;
    }
    let slow = threadward::thread("slow")
        .spawn(|ctx| {
            while !ctx.is_stopping() {
                ctx.sleep(Duration::from_secs(60));
            }
            let began = Instant::now();
            while !SLOW_RELEASED.load(Ordering::SeqCst) && began.elapsed() < WATCHDOG {
                std::thread::sleep(Duration::from_millis(1));
            }
            Ok(())
        })
        .unwrap();
    let slow_id = slow.id();
    // Started after `slow`: without `stop_last` it would be asked to stop first.
    let two = NonZeroUsize::new(2).unwrap();
    let pool = Pool::new(two, move || {
        threadward::thread("watchers")
            .stop_last()
            .build(move |ctx| {
                while !ctx.is_stopping() {
                    ctx.sleep(Duration::from_secs(60));
                }
                if threadward::registry().get(slow_id).is_none() {
                    println!("worker stopped after slow");
                }
                Ok(())
            })
    })
    .spawn()
    .unwrap();
    let shutdown = Shutdown::without_signals()
        .grace(WATCHDOG)
        .install()
        .unwrap();
    shutdown.trigger();
    let observer = std::thread::spawn(move || {
        let began = Instant::now();
        while slow.info().stop_requested.is_none() {
            assert!(began.elapsed() < WATCHDOG, "slow never asked to stop");
            std::thread::sleep(Duration::from_millis(1));
        }
        if pool.info().stop_requested.is_none() {
            println!("pool running while slow stops");
        }
        SLOW_RELEASED.store(true, Ordering::SeqCst);
    });
    let report = shutdown.wait();
    observer.join().unwrap();
    print_report_names(&report);
    std::process::exit(report.exit_code());
}

#[test]
fn scenario_last_signals() {
    if scenario("scenario_last_signals") {
        stubborn_last(false);
    }
}

#[test]
fn scenario_last_triggered() {
    if scenario("scenario_last_triggered") {
        stubborn_last(true);
    }
}

/// A thread that stops last and ignores every stop and halt; a shutdown on signals,
/// started by `trigger` if `triggered`.
fn stubborn_last(triggered: bool) {
    let stubborn = threadward::thread("stubborn")
        .stop_last()
        .spawn(|_ctx| {
            std::thread::sleep(WATCHDOG);
            Ok(())
        })
        .unwrap();
    let shutdown = Shutdown::on_signals().install().unwrap();
    std::thread::spawn(move || {
        let began = Instant::now();
        let mut said_stop = false;
        while began.elapsed() < WATCHDOG {
            let info = stubborn.info();
            if !said_stop && info.stop_requested.is_some() {
                println!("asked to stop");
                said_stop = true;
            }
            if info.halt_requested {
                println!("halted");
                return;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    });
    println!("ready");
    if triggered {
        shutdown.trigger();
    }
    let report = shutdown.wait();
    println!("wait returned");
    std::process::exit(report.exit_code() + 7);
}
