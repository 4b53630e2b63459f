//! Throughput: producers → one consumer summing `u64`s, through a raw crossbeam channel,
//! a hand-rolled worker that `select!`s on a stop channel per message, and a threadward
//! thread; unbounded and bounded (1024); and a threadward thread that also ticks every
//! millisecond.

use std::hint::black_box;
use std::thread;
use std::time::Instant;

use crossbeam_channel::{bounded, select, unbounded, Receiver};
use threadward::{
    background_thread, BackgroundThread, BoxError, Context, Handle, Registry, Ticking,
};

use crate::pin::{pin, Role};

/// Messages per run, shared among the producers.
pub(crate) const MESSAGES: u64 = 2_000_000;
/// The bound of the bounded runs.
pub(crate) const BOUND: usize = 1024;

/// A consumer that sums what it is sent, pinned as the run's placement says; one
/// declaration per queue kind, since the capacity is part of the attribute.
macro_rules! summing_thread {
    ($name:ident, $($attribute:tt)*) => {
        #[background_thread($($attribute)*)]
        #[derive(Default)]
        struct $name {
            total: u64,
        }

        impl BackgroundThread for $name {
            type Task = u64;
            fn startup(&mut self, _ctx: &Context) -> Result<(), BoxError> {
                pin(Role::Consumer);
                Ok(())
            }
            fn handle(&mut self, n: u64, _ctx: &Context) -> Result<(), BoxError> {
                self.total = self.total.wrapping_add(n);
                Ok(())
            }
        }
    };
}

summing_thread!(Sum, name = "bench-sum");
summing_thread!(BoundedSum, name = "bench-sum-bounded", capacity = 1024);
summing_thread!(TickingSum, name = "bench-sum-ticking", every = "1ms");

/// Ticks of every `TickingSum`: a run that ticked never was no measure of ticking.
pub(crate) static TICKS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

impl Ticking for TickingSum {
    fn tick(&mut self, _ctx: &Context) -> Result<(), BoxError> {
        black_box(self.total);
        TICKS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }
}

/// Which code consumes.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Consumer {
    Raw,
    Select,
    Threadward,
    /// Threadward, the thread also ticking every millisecond.
    TickingThreadward,
}

/// One run: `producers` threads send `messages` in all; returns million messages per
/// second, from the first send until the consumer has summed the last.
pub(crate) fn run(consumer: Consumer, bounded_queue: bool, producers: u64, messages: u64) -> f64 {
    let capacity = bounded_queue.then_some(BOUND);
    let each = messages / producers;
    let start = Instant::now();
    match consumer {
        Consumer::Raw | Consumer::Select => {
            let (tx, rx) = capacity.map_or_else(unbounded, bounded);
            let (stop_tx, stop_rx) = bounded::<()>(1);
            let worker = match consumer {
                Consumer::Raw => thread::spawn(move || raw(&rx)),
                _ => thread::spawn(move || hand_rolled_select(&rx, &stop_rx)),
            };
            produce(producers, each, tx, |tx, n| tx.send(n).is_ok());
            black_box(worker.join().expect("the consumer panicked"));
            drop(stop_tx);
        }
        Consumer::TickingThreadward => {
            let registry = Registry::new();
            let handle = TickingSum::default().spawn_in(&registry).expect("spawn");
            ward(producers, each, &handle);
        }
        Consumer::Threadward => {
            let registry = Registry::new();
            if bounded_queue {
                let handle = BoundedSum::default().spawn_in(&registry).expect("spawn");
                ward(producers, each, &handle);
            } else {
                let handle = Sum::default().spawn_in(&registry).expect("spawn");
                ward(producers, each, &handle);
            }
        }
    }
    million_per_second(producers * each, start)
}

/// Sends from `producers` threads (the calling one among them), `each` messages apiece,
/// then drops every sender.
fn produce<S: Clone + Send + 'static>(
    producers: u64,
    each: u64,
    sender: S,
    send: fn(&S, u64) -> bool,
) {
    let others: Vec<_> = (1..producers)
        .map(|_| {
            let sender = sender.clone();
            thread::spawn(move || {
                pin(Role::Producer);
                for n in 0..each {
                    assert!(send(&sender, n), "the consumer went away");
                }
            })
        })
        .collect();
    pin(Role::Producer);
    for n in 0..each {
        assert!(send(&sender, n), "the consumer went away");
    }
    drop(sender);
    for other in others {
        other.join().expect("a producer panicked");
    }
}

fn ward<T: BackgroundThread<Task = u64>>(producers: u64, each: u64, handle: &Handle<T>) {
    produce(producers, each, handle.clone(), |h, n| h.send(n).is_ok());
    handle.stop();
    black_box(handle.join().expect("the thread failed").handled());
}

/// A raw channel: the consumer sums until every sender is dropped.
fn raw(rx: &Receiver<u64>) -> u64 {
    pin(Role::Consumer);
    rx.iter().fold(0, u64::wrapping_add)
}

/// The common hand-rolled worker: `select!` on the task channel and a stop channel.
fn hand_rolled_select(rx: &Receiver<u64>, stop: &Receiver<()>) -> u64 {
    pin(Role::Consumer);
    let mut total = 0u64;
    loop {
        select! {
            recv(rx) -> n => match n {
                Ok(n) => total = total.wrapping_add(n),
                Err(_) => return total,
            },
            recv(stop) -> _ => return rx.try_iter().fold(total, u64::wrapping_add),
        }
    }
}

#[allow(clippy::cast_precision_loss)] // message counts are far below 2^52
fn million_per_second(messages: u64, start: Instant) -> f64 {
    messages as f64 / start.elapsed().as_secs_f64() / 1e6
}
