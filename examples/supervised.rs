//! Supervision: a job runner's tree. The supervisor `jobs` (one-for-one) owns
//!
//! - `flaky`, a worker that fails on every third job and restarts itself in place with
//!   a backoff (`restart = "on-failure"`), keeping its queue: no job is lost;
//! - `resizer`, a pool of two workers (`workers = 2`) on one queue: each image goes to
//!   whichever worker is free, and the pool shows in the tree with its workers;
//! - `fragile`, a nested supervisor whose `breaker` fails on every job: more than one
//!   restart within 10 s exceeds its intensity, so it gives up and fails to `jobs`,
//!   which starts a fresh `fragile` (with a fresh `breaker`).
//!
//! The program prints the tree (from the registry's parent ids), then shuts the
//! registry down and prints the shutdown report. It ends on its own in well under a
//! second.
//!
//! ```text
//! cargo run --example supervised
//! ```

#![cfg_attr(not(unix), allow(dead_code, unused_imports))]

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

#[cfg(unix)]
use threadward::Shutdown;
use threadward::{
    background_thread, registry, AnyHandle, BackgroundThread, BoxError, Child, Context, Handle,
    Strategy, Supervisor, ThreadInfo,
};

/// Fails on every third job; restarted in place after a backoff, so the jobs queued
/// behind a failure are handled by the fresh instance.
#[background_thread(
    restart = "on-failure",
    max_restarts = 10,
    within = "10s",
    backoff = "20ms"
)]
#[derive(Default)]
struct Flaky;

/// Jobs done, by every instance of `Flaky`.
static DONE: AtomicU32 = AtomicU32::new(0);

impl BackgroundThread for Flaky {
    type Task = u32;

    fn handle(&mut self, job: u32, _ctx: &Context) -> Result<(), BoxError> {
        if job % 3 == 2 {
            return Err(format!("job {job} hit a flaky dependency").into());
        }
        DONE.fetch_add(1, Ordering::SeqCst);
        println!("flaky: job {job} done");
        Ok(())
    }
}

/// Resizes images on two workers, each with its own instance.
#[background_thread(workers = 2)]
#[derive(Default)]
struct Resizer;

impl BackgroundThread for Resizer {
    type Task = u32;

    fn handle(&mut self, image: u32, ctx: &Context) -> Result<(), BoxError> {
        // Stands for CPU-bound work.
        std::thread::sleep(Duration::from_millis(2));
        println!("resizer: image {image} done by worker {}", ctx.id());
        Ok(())
    }
}

/// Fails on every job: its supervisor gives up on it.
#[background_thread]
#[derive(Default)]
struct Breaker;

impl BackgroundThread for Breaker {
    type Task = ();

    fn handle(&mut self, (): (), _ctx: &Context) -> Result<(), BoxError> {
        Err("broken".into())
    }
}

#[cfg(not(unix))]
fn main() {
    eprintln!("this example shuts its tree down through threadward::Shutdown, which needs Unix");
    std::process::exit(2);
}

#[cfg(unix)]
fn main() -> Result<(), BoxError> {
    // Signals are taken over first: a Ctrl-C now stops the tree gracefully.
    let shutdown = Shutdown::on_signals().install()?;

    let fragile = Supervisor::new("fragile")
        .intensity(1, Duration::from_secs(10))
        .backoff(Duration::from_millis(10))
        .child(Child::new(Breaker::default));
    let jobs = Supervisor::new("jobs")
        .strategy(Strategy::OneForOne)
        .intensity(3, Duration::from_secs(10))
        .backoff(Duration::from_millis(10))
        .child(Child::new(Flaky::default))
        .child(Child::new(Resizer::default))
        .child(fragile)
        .spawn()?;

    // The flaky worker: 9 jobs, 3 of which fail an instance; the rest are all done.
    let flaky: Handle<Flaky> = child(&jobs, "flaky")?
        .downcast()
        .map_err(|_| "`flaky` is not a Flaky")?;
    for job in 0..9 {
        flaky.send(job)?;
    }
    // A call is queued behind the jobs: when it answers, they were all handled.
    flaky.call_timeout(Duration::from_secs(10), |_, _| ())?;
    let info = flaky.info();
    println!(
        "flaky: {} jobs handled, {} done, {} restarts, last failure: {}",
        info.handled,
        DONE.load(Ordering::SeqCst),
        info.restarts,
        info.last_failure.as_deref().unwrap_or("none")
    );

    // The pool: ten images, handled by its two workers side by side. (The shutdown
    // below handles whatever is still queued: its report counts all ten.)
    let resizer = child(&jobs, "resizer")?;
    let resizer = resizer.downcast::<Resizer>().map_err(|_| "not a Resizer")?;
    for image in 0..10 {
        resizer.send(image)?;
    }
    println!("resizer: a pool of {} workers", resizer.info().workers);

    // The breaker fails twice: its supervisor restarts it once, then gives up.
    let first = child(&jobs, "fragile")?;
    for _ in 0..2 {
        let breaker = until(|| grandchild(&first))?;
        breaker
            .clone()
            .downcast::<Breaker>()
            .map_err(|_| "not a Breaker")?
            .send(())?;
        until(|| (!breaker_alive(&first, &breaker)).then_some(()))?;
    }
    let failed = first.join_timeout(Duration::from_secs(10))?;
    println!("fragile {}: {}", first.id(), failed.outcome());
    let second = until(|| {
        child(&jobs, "fragile")
            .ok()
            .filter(|s| s.id() != first.id())
    })?;
    println!("jobs: restarted fragile as {}", second.id());
    until(|| grandchild(&second))?;

    println!("the tree:");
    print_tree(&registry().active(), None, 1);

    shutdown.trigger();
    let report = shutdown.wait();
    println!("{report}");
    // The report counts the failures it saw (the given-up `fragile`, the failed
    // breakers): its exit code says so. The example itself ran as it should.
    println!("report exit code: {}", report.exit_code());
    Ok(())
}

/// The running child of `supervisor` named `name`.
fn child(supervisor: &Handle<Supervisor>, name: &'static str) -> Result<AnyHandle, BoxError> {
    supervisor
        .call_timeout(Duration::from_secs(10), move |s, _| s.find(name))
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no running `{name}`").into())
}

/// The running child of the nested supervisor `fragile`, if it has one.
fn grandchild(fragile: &AnyHandle) -> Option<AnyHandle> {
    let fragile = fragile.clone().downcast::<Supervisor>().ok()?;
    fragile
        .call_timeout(Duration::from_secs(10), |s, _| s.find("breaker"))
        .ok()
        .flatten()
}

fn breaker_alive(fragile: &AnyHandle, breaker: &AnyHandle) -> bool {
    fragile.is_alive() && grandchild(fragile).is_some_and(|b| b.id() == breaker.id())
}

/// Waits (at most 10 s) until `found` finds something.
fn until<T>(mut found: impl FnMut() -> Option<T>) -> Result<T, BoxError> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(it) = found() {
            return Ok(it);
        }
        if Instant::now() > deadline {
            return Err("timed out".into());
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Prints the threads whose parent is `parent`, and theirs below them.
fn print_tree(threads: &[ThreadInfo], parent: Option<threadward::ThreadId>, depth: usize) {
    for thread in threads.iter().filter(|t| t.parent == parent) {
        println!(
            "{:indent$}{} {} ({:?}, {} restarts)",
            "",
            thread.name,
            thread.id,
            thread.state,
            thread.restarts,
            indent = depth * 2
        );
        print_tree(threads, Some(thread.id), depth + 1);
    }
}
