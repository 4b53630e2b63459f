//! Time in the lifecycle: a log shipper that flushes every 100 lines or every 200 ms
//! (`every`), a cache warmer that starts 300 ms after `spawn` (`delay`), and a
//! compaction job, a closure thread, that runs every 100 ms until its 1 s `deadline`.
//! The program ends on its own, in about a second.
//!
//! ```text
//! cargo run --example ticker
//! ```

use std::time::{Duration, Instant};

use threadward::{background_thread, BackgroundThread, BoxError, Context, Ticking};

/// Ships log lines in batches: when 100 are waiting, at every tick, and at shutdown.
#[background_thread(name = "shipper", every = "200ms")]
#[derive(Default)]
struct Shipper {
    batch: Vec<String>,
    shipped: usize,
}

impl Shipper {
    fn ship(&mut self, why: &str) {
        if self.batch.is_empty() {
            return;
        }
        println!("shipper: shipped {} lines ({why})", self.batch.len());
        self.shipped += self.batch.len();
        self.batch.clear();
    }
}

impl BackgroundThread for Shipper {
    type Task = String;

    fn handle(&mut self, line: String, _ctx: &Context) -> Result<(), BoxError> {
        self.batch.push(line);
        if self.batch.len() == 100 {
            self.ship("a full batch");
        }
        Ok(())
    }

    fn shutdown(&mut self, _ctx: &Context) {
        self.ship("shutdown");
        println!("shipper: {} lines in all", self.shipped);
    }
}

impl Ticking for Shipper {
    fn tick(&mut self, _ctx: &Context) -> Result<(), BoxError> {
        self.ship("tick");
        Ok(())
    }
}

/// Fills a cache once the service is up; its `startup` runs 300 ms after `spawn`.
#[background_thread(name = "warmer", delay = "300ms")]
struct Warmer {
    spawned: Instant,
}

impl BackgroundThread for Warmer {
    type Task = ();

    fn startup(&mut self, _ctx: &Context) -> Result<(), BoxError> {
        println!(
            "warmer: started {} ms after spawn",
            self.spawned.elapsed().as_millis()
        );
        Ok(())
    }

    fn handle(&mut self, (): (), _ctx: &Context) -> Result<(), BoxError> {
        Ok(())
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Warnings and errors from the runtime (a failed thread says so) on stderr.
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .with_writer(std::io::stderr)
        .init();

    let shipper = Shipper::default().spawn()?;
    let warmer = Warmer {
        spawned: Instant::now(),
    }
    .spawn()?; // returns at once: the warmer waits out its delay on its own thread
    let mut passes = 0;
    let compactor = threadward::thread("compactor")
        .every(Duration::from_millis(100))
        .deadline(Duration::from_secs(1))
        .spawn(move |_ctx| {
            passes += 1;
            if passes % 3 == 0 {
                println!("compactor: pass {passes}");
            }
            Ok(())
        })?;

    // The service's main loop: bursts of log lines, then quiet, until the compaction
    // job's deadline ends it.
    let mut sent = 0;
    while compactor.is_alive() {
        for _ in 0..130 {
            sent += 1;
            shipper.send(format!("request {sent} served"))?;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    let compacted = compactor.join()?;
    println!("compactor: {}", compacted.outcome());

    shipper.stop();
    warmer.stop();
    let shipper_exit = shipper.join()?;
    let warmer_exit = warmer.join()?;
    println!("shipper: {} after {} lines", shipper_exit.outcome(), sent);
    println!("warmer: {}", warmer_exit.outcome());
    Ok(())
}
