//! What a `cast` and a `send` cost, in instructions: callgrind counts them, so the
//! figures do not move with the machine's load. The hand-rolled baselines do the same
//! work by hand: a boxed closure (or a plain task) sent over a crossbeam channel to a
//! `std::thread` that runs (or counts) it.
//!
//! ```text
//! cargo bench --bench casts
//! ```
//!
//! Each contender runs in a child process under `valgrind --tool=callgrind`, once with
//! `CASTS` messages and once with none; the difference over `CASTS` is its instructions
//! per message (start-up and shutdown cancel out). Needs valgrind (`apt-get install
//! valgrind`); without it, says so.

use std::process::Command;

use crossbeam_channel::unbounded;
use threadward::{background_thread, BackgroundThread, BoxError, Context};

/// How many casts the measured run makes.
const CASTS: u64 = 100_000;

#[background_thread]
#[derive(Default)]
struct Counter {
    count: u64,
}

impl BackgroundThread for Counter {
    type Task = ();

    fn handle(&mut self, (): (), _ctx: &Context) -> Result<(), BoxError> {
        Ok(())
    }
}

type Job = Box<dyn FnOnce(&mut u64) + Send>;

/// `casts` casts, then one call that waits for them all.
fn threadward(casts: u64) {
    let counter = Counter::default().spawn().expect("spawn");
    for _ in 0..casts {
        counter
            .cast(|counter, _| counter.count += 1)
            .expect("the thread runs");
    }
    let count = counter.call(|counter, _| counter.count).expect("a call");
    assert_eq!(count, casts);
    counter.stop();
    counter.join().expect("join");
}

/// `sends` tasks, then one call that waits for them all.
fn threadward_sends(sends: u64) {
    let counter = Counter::default().spawn().expect("spawn");
    for _ in 0..sends {
        counter.send(()).expect("the thread runs");
    }
    let handled = counter.call(|_, _| ()).map(|()| counter.info().handled);
    assert_eq!(handled.expect("a call"), sends);
    counter.stop();
    counter.join().expect("join");
}

/// The same by hand: `sends` tasks counted by a worker, then the count.
fn hand_rolled_sends(sends: u64) {
    let (tasks, inbox) = unbounded::<Option<crossbeam_channel::Sender<u64>>>();
    let worker = std::thread::spawn(move || {
        let mut count = 0u64;
        while let Ok(task) = inbox.recv() {
            match task {
                None => count += 1,
                Some(reply) => {
                    let _ = reply.send(count);
                }
            }
        }
    });
    for _ in 0..sends {
        tasks.send(None).expect("the worker runs");
    }
    let (reply, answer) = unbounded();
    tasks.send(Some(reply)).expect("the worker runs");
    assert_eq!(answer.recv().expect("an answer"), sends);
    drop(tasks);
    worker.join().expect("join");
}

/// The same by hand: `casts` boxed closures, then one that answers.
fn hand_rolled(casts: u64) {
    let (jobs, inbox) = unbounded::<Job>();
    let worker = std::thread::spawn(move || {
        let mut count = 0u64;
        while let Ok(job) = inbox.recv() {
            job(&mut count);
        }
    });
    for _ in 0..casts {
        jobs.send(Box::new(|count: &mut u64| *count += 1))
            .expect("the worker runs");
    }
    let (reply, answer) = unbounded();
    jobs.send(Box::new(move |count: &mut u64| {
        let _ = reply.send(*count);
    }))
    .expect("the worker runs");
    assert_eq!(answer.recv().expect("an answer"), casts);
    drop(jobs);
    worker.join().expect("join");
}

/// The instructions callgrind counted for `contender` making `casts` casts.
fn instructions(contender: &str, casts: u64) -> Option<u64> {
    let me = std::env::current_exe().ok()?;
    let out = Command::new("valgrind")
        .args(["--tool=callgrind", "--callgrind-out-file=/dev/null"])
        .arg(me)
        .args(["--contender", contender, &casts.to_string()])
        .output()
        .ok()?;
    let log = String::from_utf8_lossy(&out.stderr);
    let line = log.lines().find(|line| line.contains("Collected :"))?;
    line.rsplit(':')
        .next()?
        .trim()
        .replace(',', "")
        .parse()
        .ok()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // `cargo test --benches` runs this with test-style arguments: nothing to test.
    if args.iter().any(|a| a == "--test" || a == "--list") {
        return;
    }
    if let Some(at) = args.iter().position(|a| a == "--contender") {
        let casts = args.get(at + 2).and_then(|n| n.parse().ok()).unwrap_or(0);
        match args.get(at + 1).map(String::as_str) {
            Some("threadward") => threadward(casts),
            Some("threadward-send") => threadward_sends(casts),
            Some("hand-rolled-send") => hand_rolled_sends(casts),
            _ => hand_rolled(casts),
        }
        return;
    }
    if Command::new("valgrind").arg("--version").output().is_err() {
        println!("casts: valgrind is not installed (apt-get install valgrind); nothing measured");
        return;
    }
    for (what, ours, theirs) in [
        ("cast", "threadward", "hand-rolled"),
        ("send", "threadward-send", "hand-rolled-send"),
    ] {
        let mut each = Vec::new();
        for contender in [ours, theirs] {
            let (Some(with), Some(without)) =
                (instructions(contender, CASTS), instructions(contender, 0))
            else {
                println!("casts: callgrind gave no count for {contender}");
                return;
            };
            #[allow(clippy::cast_precision_loss)] // counts far below 2^52
            let per = with.saturating_sub(without) as f64 / CASTS as f64;
            println!("{contender}: {per:.1} instructions per {what} ({CASTS} of them)");
            each.push(per);
        }
        println!("{what}: threadward / hand-rolled {:.2}", each[0] / each[1]);
    }
}
