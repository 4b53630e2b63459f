//! Latencies, each against the hand-rolled code that does the same: stopping an idle
//! thread, a `call` round trip (to an idle thread, and back to back), and spawn → ready.

use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, unbounded, Sender};
use threadward::{background_thread, BackgroundThread, BoxError, Context, Registry};

/// Long enough for a waiting thread to have gone to sleep in the kernel.
const SETTLE: Duration = Duration::from_micros(300);

#[background_thread(name = "bench-idle")]
#[derive(Default)]
pub(crate) struct Idle {
    calls: u64,
}

impl BackgroundThread for Idle {
    type Task = ();
    fn handle(&mut self, (): (), _ctx: &Context) -> Result<(), BoxError> {
        Ok(())
    }
}

/// A hand-rolled worker: a loop over a channel of optional requests, `None` to stop;
/// a request carries the channel its answer goes back on.
pub(crate) fn hand_rolled_worker() -> (Sender<Option<Sender<u64>>>, thread::JoinHandle<()>) {
    let (tx, rx) = unbounded::<Option<Sender<u64>>>();
    let worker = thread::spawn(move || {
        let mut calls = 0u64;
        while let Ok(Some(reply)) = rx.recv() {
            calls += 1;
            let _ = reply.send(calls);
        }
    });
    (tx, worker)
}

/// Stop → joined for an idle thread, `samples` times.
pub(crate) fn stop(threadward: bool, samples: usize) -> Vec<Duration> {
    let registry = Registry::new();
    (0..samples)
        .map(|_| {
            if threadward {
                let handle = Idle::default().spawn_in(&registry).expect("spawn");
                thread::sleep(SETTLE);
                let start = Instant::now();
                handle.stop();
                handle.join().expect("join");
                start.elapsed()
            } else {
                let (tx, worker) = hand_rolled_worker();
                thread::sleep(SETTLE);
                let start = Instant::now();
                tx.send(None).expect("the worker is running");
                worker.join().expect("join");
                start.elapsed()
            }
        })
        .collect()
}

/// A `call` round trip to a thread that is idle (asleep) when it arrives, `samples`
/// times; or, when `back_to_back`, the mean of `samples` calls in a row.
pub(crate) fn call(threadward: bool, back_to_back: bool, samples: usize) -> Vec<Duration> {
    let registry = Registry::new();
    let settle = || {
        if !back_to_back {
            thread::sleep(SETTLE);
        }
    };
    let times: Vec<Duration> = if threadward {
        let handle = Idle::default().spawn_in(&registry).expect("spawn");
        let times = (0..samples)
            .map(|_| {
                settle();
                let start = Instant::now();
                let calls = handle
                    .call(|idle, _| {
                        idle.calls += 1;
                        idle.calls
                    })
                    .expect("call");
                std::hint::black_box(calls);
                start.elapsed()
            })
            .collect();
        handle.stop();
        handle.join().expect("join");
        times
    } else {
        let (tx, worker) = hand_rolled_worker();
        let times = (0..samples)
            .map(|_| {
                settle();
                let start = Instant::now();
                let (reply, answer) = bounded(1);
                tx.send(Some(reply)).expect("the worker is running");
                std::hint::black_box(answer.recv().expect("an answer"));
                start.elapsed()
            })
            .collect();
        tx.send(None).expect("the worker is running");
        worker.join().expect("join");
        times
    };
    if back_to_back {
        let total: Duration = times.iter().sum();
        vec![total / u32::try_from(samples).expect("few samples")]
    } else {
        times
    }
}

#[background_thread(name = "bench-ready")]
#[derive(Default)]
pub(crate) struct Ready;

impl BackgroundThread for Ready {
    type Task = ();
    fn handle(&mut self, (): (), _ctx: &Context) -> Result<(), BoxError> {
        Ok(())
    }
}

/// From the spawn until the new thread is ready for work, `samples` times: `spawn`
/// returns once `startup` ran; the hand-rolled thread says so on a channel.
pub(crate) fn spawn(threadward: bool, samples: usize) -> Vec<Duration> {
    let registry = Registry::new();
    (0..samples)
        .map(|_| {
            if threadward {
                let start = Instant::now();
                let handle = Ready.spawn_in(&registry).expect("spawn");
                let took = start.elapsed();
                handle.stop();
                handle.join().expect("join");
                took
            } else {
                let start = Instant::now();
                let (ready_tx, ready_rx) = bounded(1);
                let (tx, rx) = unbounded::<Option<()>>();
                let worker = thread::spawn(move || {
                    ready_tx.send(()).expect("the spawner waits");
                    while let Ok(Some(())) = rx.recv() {}
                });
                ready_rx.recv().expect("ready");
                let took = start.elapsed();
                tx.send(None).expect("the worker is running");
                worker.join().expect("join");
                took
            }
        })
        .collect()
}
