//! Closure threads (`threadward::thread("name")…spawn(|ctx| …)`): the same handle,
//! registry entry, report, stop and halt as a declared thread; a body without `every`
//! runs once, one with `every` at once and then at every period; `delay`, `deadline`
//! and `singleton` as for declared threads. Every wait is bounded.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use crossbeam_channel as channel;
use threadward::{Outcome, Registry, SpawnFailure, State};

const BOUND: Duration = Duration::from_secs(30);

fn counter() -> (Arc<AtomicU32>, Arc<AtomicU32>) {
    let runs = Arc::new(AtomicU32::new(0));
    (Arc::clone(&runs), runs)
}

/// Waits (bounded) until `runs` reaches `at_least`.
fn wait_for(runs: &AtomicU32, at_least: u32) {
    let waited = Instant::now();
    while runs.load(Ordering::SeqCst) < at_least {
        assert!(
            waited.elapsed() < BOUND,
            "only {} runs",
            runs.load(Ordering::SeqCst)
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn a_body_without_a_period_runs_once_and_the_thread_ends_on_its_own() {
    let registry = Registry::new();
    let (runs, counted) = counter();
    let once = threadward::thread("once")
        .spawn_in(&registry, move |ctx| {
            assert_eq!(ctx.name(), "once");
            counted.fetch_add(1, Ordering::SeqCst);
            Ok(())
        })
        .unwrap();
    assert_eq!(once.name(), "once");
    let exit = once.join_timeout(BOUND).unwrap();
    assert!(
        matches!(exit.outcome(), Outcome::Stopped),
        "{:?}",
        exit.outcome()
    );
    assert_eq!(exit.handled(), 1);
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    assert!(registry.is_empty());
}

#[test]
fn the_registry_lists_a_closure_thread_by_its_name_and_stops_it() {
    let registry = Registry::new();
    let (entered_tx, entered) = channel::bounded(1);
    let waiter = threadward::thread("waiter")
        .spawn_in(&registry, move |ctx| {
            entered_tx.send(()).unwrap();
            while ctx.sleep(Duration::from_secs(60)) {}
            Ok(())
        })
        .unwrap();
    entered.recv_timeout(BOUND).unwrap();
    let found = registry.find("waiter").expect("listed by its name");
    assert_eq!(found.id(), waiter.id());
    assert_eq!(registry.active()[0].name, "waiter");
    let asked = Instant::now();
    registry.stop_all();
    let exit = waiter.join_timeout(BOUND).unwrap();
    assert!(asked.elapsed() < Duration::from_secs(10));
    assert!(matches!(exit.outcome(), Outcome::Stopped));
    assert!(registry.is_empty());
}

#[test]
fn a_body_with_a_period_runs_at_once_then_every_period_and_on_each_send() {
    let (runs, counted) = counter();
    let ticking = threadward::thread("ticking")
        .every(Duration::from_millis(5))
        .spawn_in(&Registry::new(), move |_ctx| {
            counted.fetch_add(1, Ordering::SeqCst);
            Ok(())
        })
        .unwrap();
    wait_for(&runs, 3);
    assert_eq!(ticking.state(), State::Running);
    ticking.stop();
    let exit = ticking.join_timeout(BOUND).unwrap();
    assert!(matches!(exit.outcome(), Outcome::Stopped));
    let after_stop = runs.load(Ordering::SeqCst);

    // An hourly body runs once at the start, and once for each `send`.
    let (runs, counted) = counter();
    let hourly = threadward::thread("hourly")
        .every(Duration::from_secs(3600))
        .spawn_in(&Registry::new(), move |_ctx| {
            counted.fetch_add(1, Ordering::SeqCst);
            Ok(())
        })
        .unwrap();
    wait_for(&runs, 1);
    hourly.send(()).unwrap();
    hourly.send(()).unwrap();
    wait_for(&runs, 3);
    hourly.stop();
    hourly.join_timeout(BOUND).unwrap();
    assert_eq!(runs.load(Ordering::SeqCst), 3);
    assert!(after_stop >= 3);
}

#[test]
fn an_error_or_a_panic_in_the_body_ends_the_thread_as_failed() {
    let failing = threadward::thread("failing")
        .spawn_in(&Registry::new(), |_ctx| Err("the device is gone".into()))
        .unwrap();
    let exit = failing.join_timeout(BOUND).unwrap();
    match exit.outcome() {
        Outcome::Failed(error) => assert_eq!(error.to_string(), "the device is gone"),
        other => panic!("{other:?}"),
    }

    let (runs, counted) = counter();
    let panicking = threadward::thread("panicking")
        .every(Duration::from_millis(1))
        .spawn_in(&Registry::new(), move |_ctx| {
            assert!(counted.fetch_add(1, Ordering::SeqCst) != 2, "third run");
            Ok(())
        })
        .unwrap();
    let exit = panicking.join_timeout(BOUND).unwrap();
    assert!(
        matches!(exit.outcome(), Outcome::Panicked { message } if message == "third run"),
        "{:?}",
        exit.outcome()
    );
    assert_eq!(runs.load(Ordering::SeqCst), 3);
}

#[test]
fn a_halt_unwinds_the_body_at_its_checkpoint() {
    let (entered_tx, entered) = channel::bounded(1);
    let spinning = threadward::thread("spinning")
        .spawn_in(&Registry::new(), move |ctx| {
            entered_tx.send(()).unwrap();
            loop {
                ctx.checkpoint();
                std::thread::yield_now();
            }
        })
        .unwrap();
    entered.recv_timeout(BOUND).unwrap();
    spinning.halt();
    let exit = spinning.join_timeout(BOUND).unwrap();
    assert!(
        matches!(exit.outcome(), Outcome::Halted),
        "{:?}",
        exit.outcome()
    );
}

#[test]
fn a_deadline_cuts_the_bodys_waits_short_and_the_exit_says_so() {
    let started = Instant::now();
    let polling = threadward::thread("polling")
        .deadline(Duration::from_millis(50))
        .spawn_in(&Registry::new(), |ctx| {
            // Without the deadline, this would sleep for an hour.
            assert!(!ctx.sleep(Duration::from_secs(3600)));
            assert!(ctx.is_stopping());
            Ok(())
        })
        .unwrap();
    let exit = polling.join_timeout(BOUND).unwrap();
    assert!(
        matches!(exit.outcome(), Outcome::DeadlineReached),
        "{:?}",
        exit.outcome()
    );
    assert!(started.elapsed() >= Duration::from_millis(50));

    // `recv` too, and a body that only checks `is_stopping` sees it turn.
    let (_keep, never) = channel::bounded::<()>(1);
    let receiving = threadward::thread("receiving")
        .deadline(Duration::from_millis(20))
        .spawn_in(&Registry::new(), move |ctx| {
            assert_eq!(ctx.recv(&never), None);
            Ok(())
        })
        .unwrap();
    let exit = receiving.join_timeout(BOUND).unwrap();
    assert!(matches!(exit.outcome(), Outcome::DeadlineReached));
    let checking = threadward::thread("checking")
        .deadline(Duration::from_millis(20))
        .spawn_in(&Registry::new(), |ctx| {
            while !ctx.is_stopping() {
                std::thread::sleep(Duration::from_millis(1));
            }
            Ok(())
        })
        .unwrap();
    let exit = checking.join_timeout(BOUND).unwrap();
    assert!(matches!(exit.outcome(), Outcome::DeadlineReached));
}

#[test]
fn a_stop_during_the_delay_ends_the_thread_before_the_body_ran() {
    let (runs, counted) = counter();
    let delayed = threadward::thread("delayed")
        .delay(Duration::from_secs(3600))
        .spawn_in(&Registry::new(), move |_ctx| {
            counted.fetch_add(1, Ordering::SeqCst);
            Ok(())
        })
        .unwrap();
    delayed.stop();
    let exit = delayed.join_timeout(BOUND).unwrap();
    assert!(matches!(exit.outcome(), Outcome::StoppedBeforeStart));
    assert_eq!(runs.load(Ordering::SeqCst), 0);

    let (runs, counted) = counter();
    let started = Instant::now();
    let delayed = threadward::thread("delayed")
        .delay(Duration::from_millis(30))
        .spawn_in(&Registry::new(), move |_ctx| {
            counted.fetch_add(1, Ordering::SeqCst);
            Ok(())
        })
        .unwrap();
    delayed.join_timeout(BOUND).unwrap();
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    assert!(started.elapsed() >= Duration::from_millis(30));
}

#[test]
fn of_two_racing_singletons_exactly_one_runs_and_the_other_is_handed_back() {
    let registry = Registry::new();
    let barrier = Arc::new(Barrier::new(2));
    let racers: Vec<_> = (0..2)
        .map(|_| {
            let (registry, barrier) = (registry.clone(), Arc::clone(&barrier));
            std::thread::spawn(move || {
                barrier.wait();
                threadward::thread("only")
                    .every(Duration::from_secs(3600))
                    .singleton()
                    .spawn_in(&registry, |_ctx| Ok(()))
            })
        })
        .collect();
    let results: Vec<_> = racers.into_iter().map(|r| r.join().unwrap()).collect();
    let (won, lost): (Vec<_>, Vec<_>) = results.into_iter().partition(Result::is_ok);
    assert_eq!((won.len(), lost.len()), (1, 1));
    let Some(Err(error)) = lost.into_iter().next() else {
        unreachable!()
    };
    assert!(matches!(
        error.failure(),
        SpawnFailure::AlreadyRunning { name: "only", .. }
    ));
    assert_eq!(error.into_inner().name(), "only");
    // Another name is another thread.
    let other = threadward::thread("other")
        .singleton()
        .spawn_in(&registry, |_ctx| Ok(()))
        .unwrap();
    other.join_timeout(BOUND).unwrap();
    registry.stop_all();
    for handle in registry.handles() {
        handle.join_timeout(BOUND).unwrap();
    }
}

#[test]
fn a_zero_period_is_refused_with_the_thread_handed_back() {
    let error = threadward::thread("zero")
        .every(Duration::ZERO)
        .spawn_in(&Registry::new(), |_ctx| Ok(()))
        .unwrap_err();
    assert!(matches!(error.failure(), SpawnFailure::ZeroPeriod));
    assert_eq!(
        error.to_string(),
        "could not spawn thread `zero`: `every` must not be zero"
    );
    assert_eq!(error.into_inner().name(), "zero");
}

#[test]
fn a_deadline_shorter_than_the_delay_ends_the_thread_before_it_starts() {
    let (runs, counted) = counter();
    let late = threadward::thread("late")
        .delay(Duration::from_secs(3600))
        .deadline(Duration::from_millis(30))
        .spawn_in(&Registry::new(), move |_ctx| {
            counted.fetch_add(1, Ordering::SeqCst);
            Ok(())
        })
        .unwrap();
    let exit = late.join_timeout(BOUND).unwrap();
    assert!(
        matches!(exit.outcome(), Outcome::DeadlineReached),
        "{:?}",
        exit.outcome()
    );
    assert_eq!(runs.load(Ordering::SeqCst), 0);
    // Its one run is returned, not dropped.
    assert_eq!(exit.undelivered().len(), 1);
}
