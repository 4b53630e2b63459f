//! threadward against hand-rolled `std::thread` + crossbeam-channel code, in the same
//! run, reported as ratios (medians of several runs). Run with
//!
//! ```text
//! cargo bench --bench baselines
//! ```
//!
//! - throughput: 1 producer → 1 consumer summing `u64`s; raw channel, a hand-rolled
//!   worker that `select!`s on a stop channel per message, and a threadward thread,
//!   with unbounded and bounded (1024) queues;
//! - stop latency: an idle thread, from the stop request until `join` returned;
//! - stop many: 1,000 idle threads stopped and joined.

use std::hint::black_box;
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, select, unbounded, Receiver, Sender};
use threadward::{background_thread, BackgroundThread, BoxError, Context, Registry};

const MESSAGES: u64 = 2_000_000;
const RUNS: usize = 11;
const STOP_RUNS: usize = 300;
const MANY: usize = 1_000;

#[background_thread(name = "bench-sum")]
#[derive(Default)]
struct Sum {
    total: u64,
}

impl BackgroundThread for Sum {
    type Task = u64;
    fn handle(&mut self, n: u64, _ctx: &Context) -> Result<(), BoxError> {
        self.total = self.total.wrapping_add(n);
        Ok(())
    }
}

#[background_thread(name = "bench-sum-bounded", capacity = 1024)]
#[derive(Default)]
struct BoundedSum {
    total: u64,
}

impl BackgroundThread for BoundedSum {
    type Task = u64;
    fn handle(&mut self, n: u64, _ctx: &Context) -> Result<(), BoxError> {
        self.total = self.total.wrapping_add(n);
        Ok(())
    }
}

fn channel(capacity: Option<usize>) -> (Sender<u64>, Receiver<u64>) {
    capacity.map_or_else(unbounded, bounded)
}

/// A raw channel: the consumer sums until the producer drops its sender.
fn raw(capacity: Option<usize>) -> Duration {
    let (tx, rx) = channel(capacity);
    let start = Instant::now();
    let consumer = thread::spawn(move || rx.iter().fold(0u64, u64::wrapping_add));
    for n in 0..MESSAGES {
        tx.send(n).unwrap();
    }
    drop(tx);
    black_box(consumer.join().unwrap());
    start.elapsed()
}

/// The common hand-rolled worker: `select!` on the task channel and a stop channel.
fn hand_rolled_select(capacity: Option<usize>) -> Duration {
    let (tx, rx) = channel(capacity);
    let (stop_tx, stop_rx) = bounded::<()>(1);
    let start = Instant::now();
    let consumer = thread::spawn(move || {
        let mut total = 0u64;
        loop {
            select! {
                recv(rx) -> n => match n {
                    Ok(n) => total = total.wrapping_add(n),
                    Err(_) => return total,
                },
                recv(stop_rx) -> _ => {
                    // Drain what was accepted before the stop.
                    return rx.try_iter().fold(total, u64::wrapping_add);
                }
            }
        }
    });
    for n in 0..MESSAGES {
        tx.send(n).unwrap();
    }
    drop(tx);
    black_box(consumer.join().unwrap());
    drop(stop_tx);
    start.elapsed()
}

fn threadward_sum<T>(spawn: impl FnOnce() -> threadward::Handle<T>) -> Duration
where
    T: BackgroundThread<Task = u64>,
{
    let start = Instant::now();
    let handle = spawn();
    for n in 0..MESSAGES {
        handle.send(n).unwrap();
    }
    handle.stop();
    black_box(handle.join().unwrap().handled());
    start.elapsed()
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort_unstable();
    samples[samples.len() / 2]
}

fn rate(d: Duration) -> f64 {
    // Exact: MESSAGES is far below 2^52.
    #[allow(clippy::cast_precision_loss)]
    let messages = MESSAGES as f64;
    messages / d.as_secs_f64() / 1e6
}

/// An idle hand-rolled worker blocked in `recv`, stopped by a message; stop → joined.
fn hand_rolled_stop() -> Duration {
    let (tx, rx) = unbounded::<Option<u64>>();
    let worker = thread::spawn(move || while let Ok(Some(_)) = rx.recv() {});
    thread::sleep(Duration::from_micros(200)); // let it go idle
    let start = Instant::now();
    tx.send(None).unwrap();
    worker.join().unwrap();
    start.elapsed()
}

fn threadward_stop(registry: &Registry) -> Duration {
    let handle = Sum::default().spawn_in(registry).unwrap();
    thread::sleep(Duration::from_micros(200));
    let start = Instant::now();
    handle.stop();
    handle.join().unwrap();
    start.elapsed()
}

fn hand_rolled_stop_many() -> Duration {
    let workers: Vec<_> = (0..MANY)
        .map(|_| {
            let (tx, rx) = unbounded::<u64>();
            (tx, thread::spawn(move || while rx.recv().is_ok() {}))
        })
        .collect();
    thread::sleep(Duration::from_millis(20));
    let start = Instant::now();
    let (senders, threads): (Vec<_>, Vec<_>) = workers.into_iter().unzip();
    drop(senders); // the broadcast: every worker's channel disconnects
    for worker in threads {
        worker.join().unwrap();
    }
    start.elapsed()
}

fn threadward_stop_many() -> Duration {
    let registry = Registry::new();
    let handles: Vec<_> = (0..MANY)
        .map(|_| Sum::default().spawn_in(&registry).unwrap())
        .collect();
    thread::sleep(Duration::from_millis(20));
    let start = Instant::now();
    registry.stop_all();
    for handle in &handles {
        handle.join().unwrap();
    }
    start.elapsed()
}

/// Runs the contenders in turn, `runs` times (after one warm-up round), and returns the
/// median time of each. Interleaving keeps a drift in the machine's speed from favouring
/// whichever contender ran first.
fn interleaved<const N: usize>(
    runs: usize,
    contenders: [&dyn Fn() -> Duration; N],
) -> [Duration; N] {
    for contender in &contenders {
        contender();
    }
    let mut samples: [Vec<Duration>; N] = std::array::from_fn(|_| Vec::with_capacity(runs));
    for _ in 0..runs {
        for (contender, samples) in contenders.iter().zip(&mut samples) {
            samples.push(contender());
        }
    }
    samples.map(median)
}

fn main() {
    // `cargo test --benches` runs this with `--test`-style arguments; stay quick there.
    if std::env::args().any(|a| a == "--test" || a == "--list") {
        return;
    }
    println!("throughput, {MESSAGES} u64 messages, 1 producer -> 1 consumer, median of {RUNS}");
    println!("{:<40} {:>8} {:>8}", "", "M msg/s", "vs raw");
    let registry = Registry::new();
    for (label, capacity) in [("unbounded", None), ("bounded 1024", Some(1024))] {
        let ward = || match capacity {
            None => threadward_sum(|| Sum::default().spawn_in(&registry).unwrap()),
            Some(_) => threadward_sum(|| BoundedSum::default().spawn_in(&registry).unwrap()),
        };
        let [raw_time, select_time, ward_time] = interleaved(
            RUNS,
            [&|| raw(capacity), &|| hand_rolled_select(capacity), &ward],
        );
        for (name, time) in [
            ("raw channel", raw_time),
            ("hand-rolled select! worker", select_time),
            ("threadward", ward_time),
        ] {
            println!(
                "{:<40} {:>8.2} {:>7.2}x",
                format!("{label}: {name}"),
                rate(time),
                raw_time.as_secs_f64() / time.as_secs_f64()
            );
        }
    }

    let [hand, ward] = interleaved(
        STOP_RUNS,
        [&hand_rolled_stop, &|| threadward_stop(&registry)],
    );
    println!("\nstop an idle thread, request -> joined, median of {STOP_RUNS}");
    println!("{:<40} {:>8.1?}", "hand-rolled (message, join)", hand);
    println!(
        "{:<40} {:>8.1?} {:>7.2}x the hand-rolled time",
        "threadward (stop, join)",
        ward,
        ward.as_secs_f64() / hand.as_secs_f64()
    );

    let [hand, ward] = interleaved(5, [&hand_rolled_stop_many, &threadward_stop_many]);
    println!("\nstop and join {MANY} idle threads, median of 5");
    println!("{:<40} {:>8.1?}", "hand-rolled broadcast", hand);
    println!(
        "{:<40} {:>8.1?} {:>7.2}x the hand-rolled time",
        "threadward (stop_all, join)",
        ward,
        ward.as_secs_f64() / hand.as_secs_f64()
    );
}
