//! Pool scaling: a CPU-bound `handle` served by a pool of one worker, by a pool of two,
//! and by two hand-rolled `std::thread`s on one crossbeam channel (what two cores can
//! give). The figure is tasks per second, from the first send until every task is
//! handled and the pool joined.

use std::hint::black_box;
use std::num::NonZeroUsize;
use std::time::Instant;

use threadward::{background_thread, BackgroundThread, BoxError, Context, Pool, Registry};

/// Tasks per run.
pub(crate) const TASKS: u64 = 10_000;

/// About 50 µs of arithmetic that the compiler cannot skip: a chain of multiplies, each
/// waiting for the last.
fn work(seed: u64) -> u64 {
    let mut x = black_box(seed);
    for _ in 0..20_000 {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        x ^= x >> 33;
    }
    x
}

#[background_thread(name = "bench-cruncher")]
#[derive(Default)]
struct Cruncher {
    total: u64,
}

impl BackgroundThread for Cruncher {
    type Task = u64;
    fn handle(&mut self, seed: u64, _ctx: &Context) -> Result<(), BoxError> {
        self.total = self.total.wrapping_add(work(seed));
        Ok(())
    }

    fn shutdown(&mut self, _ctx: &Context) {
        black_box(self.total);
    }
}

/// One run with `workers` workers (threadward) or two hand-rolled threads; thousand
/// tasks per second.
pub(crate) fn run(workers: Option<usize>, tasks: u64) -> f64 {
    let start = Instant::now();
    if let Some(workers) = workers {
        let registry = Registry::new();
        let workers = NonZeroUsize::new(workers).expect("at least one worker");
        let pool = Pool::new(workers, Cruncher::default)
            .spawn_in(&registry)
            .expect("spawn the pool");
        for seed in 0..tasks {
            pool.send(seed).expect("the pool takes tasks");
        }
        pool.stop();
        let exit = pool.join().expect("join the pool");
        assert_eq!(exit.handled(), tasks);
    } else {
        let (tx, rx) = crossbeam_channel::unbounded::<u64>();
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let rx = rx.clone();
                std::thread::spawn(move || {
                    let mut total = 0u64;
                    for seed in rx {
                        total = total.wrapping_add(work(seed));
                    }
                    black_box(total);
                })
            })
            .collect();
        for seed in 0..tasks {
            tx.send(seed).expect("the threads take tasks");
        }
        drop(tx);
        for thread in threads {
            thread.join().expect("a hand-rolled thread");
        }
    }
    // Exact: a run has far fewer than 2^52 tasks.
    #[allow(clippy::cast_precision_loss)]
    let tasks = tasks as f64;
    tasks / start.elapsed().as_secs_f64() / 1e3
}
