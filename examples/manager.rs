//! The manager: five jobs pending, at most two running at once, started as slots free
//! by `watch`. The first round is stopped gracefully (the running jobs finish their
//! step and run `shutdown`; the ones that never started are handed back); the second
//! is halted (the running jobs unwind at their next checkpoint). Runs in about a
//! second.
//!
//! ```text
//! cargo run --example manager
//! ```

use std::sync::mpsc;
use std::time::Duration;

use threadward::{background_thread, BackgroundThread, BoxError, Context, Manager, Ticking};

/// What a job tells `main`.
enum Event {
    Started(u32),
    Ended(u32),
}

/// A job of `steps` steps, one every 50 ms; it ends on its own after the last.
#[background_thread(name = "job", every = "50ms")]
struct Job {
    n: u32,
    steps: u32,
    done: u32,
    events: mpsc::Sender<Event>,
}

impl BackgroundThread for Job {
    type Task = ();

    fn startup(&mut self, _ctx: &Context) -> Result<(), BoxError> {
        println!("job {}: started", self.n);
        let _ = self.events.send(Event::Started(self.n));
        Ok(())
    }

    fn handle(&mut self, (): (), _ctx: &Context) -> Result<(), BoxError> {
        Ok(())
    }

    fn shutdown(&mut self, _ctx: &Context) {
        println!(
            "job {}: ended after {} of {} steps",
            self.n, self.done, self.steps
        );
        let _ = self.events.send(Event::Ended(self.n));
    }
}

impl Ticking for Job {
    fn tick(&mut self, ctx: &Context) -> Result<(), BoxError> {
        self.done += 1;
        if self.done == self.steps {
            ctx.stop();
        }
        Ok(())
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .with_writer(std::io::stderr)
        .init();

    println!("-- stop: graceful");
    let (events, happened) = mpsc::channel();
    let manager = Manager::new(2);
    for n in 1..=5 {
        manager.push(Job {
            n,
            steps: 3 + n % 3,
            done: 0,
            events: events.clone(),
        })?;
    }
    manager.watch()?;
    // Jobs 1 and 2 end on their own; as each ends, the watch starts the next. Once job
    // 4 runs, job 5 is still waiting for a slot.
    loop {
        match happened.recv_timeout(Duration::from_secs(10))? {
            Event::Started(4) => break,
            Event::Started(_) => {}
            Event::Ended(n) => println!("main: job {n} freed a slot"),
        }
    }
    for pending in manager.stop() {
        match pending.downcast::<Job>() {
            Ok(job) => println!("main: job {} handed back, never started", job.n),
            Err(other) => println!("main: {} handed back", other.name()),
        }
    }
    for exit in manager.join() {
        println!("main: {} {}: {}", exit.name(), exit.id(), exit.outcome());
    }

    println!("-- halt: abrupt");
    let manager = Manager::new(2);
    let (started, running) = mpsc::channel();
    for n in 1..=5u32 {
        let started = started.clone();
        let job = threadward::thread("cruncher").build(move |ctx| {
            println!("cruncher {n}: started");
            let _ = started.send(n);
            let mut sum = 0u64;
            loop {
                ctx.checkpoint(); // a halt unwinds here
                sum = sum.wrapping_add(u64::from(n));
                std::thread::sleep(Duration::from_millis(1));
                if sum == u64::MAX {
                    return Ok(());
                }
            }
        });
        manager.push(job)?;
    }
    manager.watch()?;
    // Two crunchers run (and would for ever); three wait.
    for _ in 0..2 {
        running.recv_timeout(Duration::from_secs(10))?;
    }
    let handed_back = manager.halt();
    println!(
        "main: {} crunchers handed back, never started",
        handed_back.len()
    );
    for exit in manager.join() {
        println!("main: {} {}: {}", exit.name(), exit.id(), exit.outcome());
    }
    Ok(())
}
