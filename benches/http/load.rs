//! The load generator: one thread per keep-alive connection, each sending its next
//! request as soon as the last was answered (a closed loop), timing every answer.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use crate::service::client::Client;

/// One measurement's setting.
pub(crate) struct Load {
    pub(crate) contender: &'static str,
    request: &'static str,
    connections: usize,
}

/// What one measurement found.
#[derive(Clone, Debug)]
pub(crate) struct Figures {
    per_second: f64,
    p50: Duration,
    p99: Duration,
    /// Answers other than 200/202 (a full queue's 503, say).
    refused: u64,
}

impl Load {
    pub(crate) fn new(contender: &'static str, request: &'static str, connections: usize) -> Self {
        Self {
            contender,
            request,
            connections,
        }
    }

    /// Runs the load for a warm-up of a quarter of `seconds`, then measures for
    /// `seconds`.
    pub(crate) fn run(&self, address: SocketAddr, seconds: f64, split: bool) -> Figures {
        let (method, path) = self.request.split_once(' ').expect("METHOD /path");
        let body = (method == "POST").then_some(r#"{"recipient": "bench", "text": "hello"}"#);
        let warm_up = Duration::from_secs_f64(seconds / 4.0);
        let length = Duration::from_secs_f64(seconds);
        let start = Arc::new(Barrier::new(self.connections + 1));
        let done = Arc::new(AtomicBool::new(false));
        let clients: Vec<_> = (0..self.connections)
            .map(|_| {
                let (start, done) = (Arc::clone(&start), Arc::clone(&done));
                std::thread::spawn(move || {
                    if split {
                        pin_to(1);
                    }
                    let mut client =
                        Client::connect(address, Duration::from_secs(30)).expect("connect");
                    start.wait();
                    let began = Instant::now();
                    let (mut latencies, mut refused) = (Vec::new(), 0u64);
                    while !done.load(Ordering::Relaxed) {
                        let asked = Instant::now();
                        let answer = client.request(method, path, body).expect("an answer");
                        if asked.duration_since(began) >= warm_up {
                            latencies.push(asked.elapsed());
                            refused += u64::from(!matches!(answer.status, 200 | 202));
                        }
                    }
                    (latencies, refused)
                })
            })
            .collect();
        start.wait();
        std::thread::sleep(warm_up + length);
        done.store(true, Ordering::Relaxed);
        let (mut latencies, mut refused) = (Vec::new(), 0);
        for client in clients {
            let (more, r) = client.join().expect("a load thread");
            latencies.extend(more);
            refused += r;
        }
        latencies.sort_unstable();
        let at = |q: f64| {
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            #[allow(clippy::cast_precision_loss)]
            let rank = ((latencies.len() as f64) * q) as usize;
            latencies
                .get(rank.min(latencies.len().saturating_sub(1)))
                .copied()
                .unwrap_or_default()
        };
        #[allow(clippy::cast_precision_loss)]
        let per_second = latencies.len() as f64 / length.as_secs_f64();
        Figures {
            per_second,
            p50: at(0.50),
            p99: at(0.99),
            refused,
        }
    }
}

/// Prints each load's median over the rounds, and the notifier's `/healthz` against the
/// bare server's as per-round ratios.
pub(crate) fn report(loads: &[Load], results: &[Vec<Figures>]) {
    println!(
        "{:<11} {:<13} {:>5} {:>10} {:>10} {:>10} {:>8}",
        "server", "request", "conns", "req/s", "p50 ms", "p99 ms", "refused"
    );
    for (load, figures) in loads.iter().zip(results) {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        println!(
            "{:<11} {:<13} {:>5} {:>10.0} {:>10.2} {:>10.2} {:>8}",
            load.contender,
            load.request,
            load.connections,
            median(figures.iter().map(|f| f.per_second)),
            median(figures.iter().map(|f| ms(f.p50))),
            median(figures.iter().map(|f| ms(f.p99))),
            figures.iter().map(|f| f.refused).sum::<u64>(),
        );
    }
    for connections in [32, 64] {
        let of = |contender: &str| {
            loads
                .iter()
                .zip(results)
                .find(|(l, _)| {
                    l.contender == contender
                        && l.request == "GET /healthz"
                        && l.connections == connections
                })
                .map(|(_, figures)| figures)
        };
        if let (Some(notifier), Some(bare)) = (of("notifier"), of("bare hyper")) {
            let ratios: Vec<f64> = notifier
                .iter()
                .zip(bare)
                .map(|(n, b)| n.per_second / b.per_second)
                .collect();
            println!(
                "GET /healthz at {connections}: notifier / bare hyper req/s, per round: median {:.2}, p10 {:.2}",
                median(ratios.iter().copied()),
                percentile10(&ratios)
            );
        }
    }
}

fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut values: Vec<f64> = values.collect();
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

fn percentile10(values: &[f64]) -> f64 {
    let mut values = values.to_vec();
    values.sort_by(f64::total_cmp);
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    #[allow(clippy::cast_precision_loss)]
    let rank = ((values.len() as f64) * 0.1).ceil().max(1.0) as usize;
    values.get(rank - 1).copied().unwrap_or(f64::NAN)
}

/// Pins the calling thread (and the threads and processes it starts) to `core`.
pub(crate) fn pin_to(core: usize) {
    set_affinity(&[core]);
}

/// Lets the calling thread run on every core again.
pub(crate) fn unpin() {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    set_affinity(&(0..cores).collect::<Vec<_>>());
}

#[allow(unsafe_code)] // sched_setaffinity on the calling thread, with a set built here
fn set_affinity(cores: &[usize]) {
    // SAFETY: `set` is a zeroed, then filled `cpu_set_t` that outlives the call; pid 0 is
    // the calling thread.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        for &core in cores {
            libc::CPU_SET(core, &mut set);
        }
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}
