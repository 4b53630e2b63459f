//! What the console costs: a process with 100 idle managed threads, measured for
//! `SECONDS` without a console, then with one and five pages reading its event stream
//! (`curl` processes, so that the pages' own work is not counted). Prints the CPU the
//! process used, as a share of one core, in both phases and their difference, and how
//! often the idle threads were switched to meanwhile (never, if nothing woke them).
//!
//! `cargo bench -p threadward-console --bench cost` (`THREADWARD_BENCH_SECONDS`, 10 by
//! default; `THREADWARD_BENCH_ROUNDS`, 3 by default: the phases alternate).

use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use threadward::Context;
use threadward_console::Console;

#[path = "../tests/support/procfs.rs"]
mod procfs;

use procfs::cpu;

fn switches(tids: &[String]) -> u64 {
    tids.iter()
        .map(|tid| procfs::switches(tid).unwrap_or(0))
        .sum()
}

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The share of one core the process used over `seconds`, in percent. (The threads
/// that end during a phase take their time with them: none does here.)
fn measure(seconds: u64) -> f64 {
    let (cpu0, wall0) = (cpu(), Instant::now());
    std::thread::sleep(Duration::from_secs(seconds));
    cpu().saturating_sub(cpu0).as_secs_f64() / wall0.elapsed().as_secs_f64() * 100.0
}

fn main() {
    let seconds = setting("THREADWARD_BENCH_SECONDS", 10);
    let rounds = setting("THREADWARD_BENCH_ROUNDS", 3);
    let (tids_tx, tids_rx) = mpsc::channel();
    let idle: Vec<_> = (0..100)
        .map(|_| {
            let tids_tx = tids_tx.clone();
            threadward::thread("idle")
                .spawn(move |ctx: &Context| {
                    let _ = tids_tx.send(procfs::current_tid()?);
                    ctx.sleep(Duration::from_secs(3600));
                    Ok(())
                })
                .expect("spawn")
        })
        .collect();
    let tids: Vec<String> = (0..100).map(|_| tids_rx.recv().expect("a tid")).collect();
    std::thread::sleep(Duration::from_millis(500));
    println!("console cost: 100 idle threads, {seconds} s phases, {rounds} rounds");
    let mut deltas = Vec::new();
    for round in 1..=rounds {
        let without = measure(seconds);
        let console = Console::bind("127.0.0.1:0").spawn().expect("the console");
        let url = format!("{}threads/events", console.url());
        let mut pages: Vec<Child> = (0..5)
            .map(|_| {
                Command::new("curl")
                    .args(["-sN", "-o", "/dev/null", &url])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("curl (install it to run this benchmark)")
            })
            .collect();
        std::thread::sleep(Duration::from_secs(1));
        let switched = switches(&tids);
        let with = measure(seconds);
        let switched = switches(&tids) - switched;
        for page in &mut pages {
            let _ = page.kill();
            let _ = page.wait();
        }
        console.handle().stop();
        let _ = console.handle().join();
        println!(
            "round {round}: without a console {without:.3} % of a core; with it and 5 pages {with:.3} %; \
             the console's share {:.3} %; idle threads switched to {switched} times",
            with - without
        );
        deltas.push(with - without);
    }
    deltas.sort_by(f64::total_cmp);
    println!(
        "median share of one core for the console with 5 pages: {:.3} %",
        deltas[deltas.len() / 2]
    );
    for thread in &idle {
        thread.stop();
    }
}
