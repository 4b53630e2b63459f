//! The console wakes no thread it watches: with pages connected and updates every
//! 20 ms, a hundred idle threads are switched to not once. (What it costs in CPU is
//! measured by `cargo bench -p threadward-console --bench cost`.)

#![cfg(target_os = "linux")]

mod support;

use std::sync::mpsc;
use std::time::Duration;

use support::{events, procfs, BOUND};
use threadward::{Context, Registry};
use threadward_console::Console;

/// The context switches of the thread `tid` of this process, so far.
fn switches(tid: &str) -> u64 {
    procfs::switches(tid).expect("the thread's status")
}

#[test]
fn pages_and_updates_wake_none_of_the_idle_threads() {
    let registry = Registry::new();
    let (tids_tx, tids) = mpsc::channel();
    let idle: Vec<_> = (0..100)
        .map(|_| {
            let tids_tx = tids_tx.clone();
            threadward::thread("idle")
                .spawn_in(&registry, move |ctx: &Context| {
                    let _ = tids_tx.send(procfs::current_tid()?);
                    ctx.sleep(Duration::from_secs(600));
                    Ok(())
                })
                .unwrap()
        })
        .collect();
    let tids: Vec<String> = (0..100)
        .map(|_| tids.recv_timeout(BOUND).expect("a tid"))
        .collect();
    let console = Console::bind("127.0.0.1:0")
        .registry(&registry)
        .interval(Duration::from_millis(20))
        .spawn()
        .unwrap();
    let mut pages: Vec<_> = (0..5).map(|_| events(console.address(), &[])).collect();
    // Each page has its first event: the threads are all asleep by now (each sent its
    // id just before its sleep; a moment more for the last ones to get there).
    for page in &mut pages {
        page.next().expect("an event");
    }
    std::thread::sleep(Duration::from_millis(200));
    let before: Vec<u64> = tids.iter().map(|tid| switches(tid)).collect();
    let readers: Vec<_> = pages
        .into_iter()
        .map(|mut page| {
            std::thread::spawn(move || {
                // About two seconds of updates.
                for _ in 0..100 {
                    page.next().expect("updates");
                }
            })
        })
        .collect();
    for reader in readers {
        reader.join().unwrap();
    }
    let after: Vec<u64> = tids.iter().map(|tid| switches(tid)).collect();
    let woken: Vec<_> = before.iter().zip(&after).filter(|(b, a)| a != b).collect();
    assert!(
        woken.is_empty(),
        "{} of 100 idle threads were switched to: {woken:?}",
        woken.len()
    );
    for thread in &idle {
        thread.stop();
    }
    for thread in idle {
        thread.join().unwrap();
    }
    console.handle().stop();
    console.handle().join_timeout(BOUND).unwrap();
}
