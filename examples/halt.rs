//! Halting a long computation: `#[checkpointed]` puts a checkpoint at the head of every
//! loop, so `halt()` stops the search at its next iteration. `shutdown` still runs, and
//! the searches still queued come back in the exit instead of being dropped.
//!
//! ```text
//! cargo run --example halt
//! ```

use std::time::Duration;

use threadward::{background_thread, checkpointed, BackgroundThread, BoxError, Context};

/// Counts the primes below a bound, slowly on purpose.
#[checkpointed]
fn count_primes(below: u64) -> u64 {
    let mut count = 0;
    for n in 2..below {
        let mut divisor = 2;
        let mut prime = true;
        while divisor * divisor <= n {
            if n % divisor == 0 {
                prime = false;
                break;
            }
            divisor += 1;
        }
        count += u64::from(prime);
    }
    count
}

/// Runs prime searches, one at a time.
#[background_thread(name = "prime-search")]
#[derive(Default)]
struct PrimeSearch {
    finished: Vec<(u64, u64)>,
}

impl BackgroundThread for PrimeSearch {
    type Task = u64;

    fn handle(&mut self, below: u64, _ctx: &Context) -> Result<(), BoxError> {
        let count = count_primes(below);
        println!("{count} primes below {below}");
        self.finished.push((below, count));
        Ok(())
    }

    fn shutdown(&mut self, ctx: &Context) {
        println!(
            "{} shutting down (halted: {}) after {} searches",
            ctx.name(),
            ctx.is_halted(),
            self.finished.len()
        );
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let search = PrimeSearch::default().spawn()?;
    for below in [1_000, 10_000, u64::MAX, 100, 200] {
        search.send(below)?;
    }
    std::thread::sleep(Duration::from_millis(300));
    if let Some(checkpoint) = search.info().last_checkpoint {
        println!("busy; last checkpoint at {checkpoint}");
    }

    search.halt(); // the search below u64::MAX would never finish
    let exit = search.join()?;
    println!("{}", exit.report());
    println!("returned, not run: {:?}", exit.undelivered());
    assert_eq!(exit.undelivered(), [100, 200]);
    Ok(())
}
