//! Ticks against a hand-rolled ticking loop (`recv_timeout` until the next tick is due,
//! the common way): how late each tick runs, and what a thousand threads ticking once a
//! second cost in CPU and wake-ups.

use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{unbounded, Receiver, RecvTimeoutError};
use threadward::{background_thread, BackgroundThread, BoxError, Context, Registry, Ticking};

use crate::footprint::{cpu_time, with_threads, with_workers};

/// Records how late each tick runs, against a schedule that starts at `startup` (a
/// few microseconds before the run loop starts it). It bursts, as the hand-rolled loop
/// does, so that one late tick does not shift the schedule of the rest.
#[background_thread(name = "bench-tick-5ms", every = "5ms", missed = "burst")]
#[derive(Default)]
struct Late {
    start: Option<Instant>,
    ticks: u32,
    wanted: u32,
    lateness: Arc<Mutex<Vec<Duration>>>,
}

impl BackgroundThread for Late {
    type Task = ();
    fn startup(&mut self, _ctx: &Context) -> Result<(), BoxError> {
        self.start = Some(Instant::now());
        Ok(())
    }
    fn handle(&mut self, (): (), _ctx: &Context) -> Result<(), BoxError> {
        Ok(())
    }
}

impl Ticking for Late {
    fn tick(&mut self, ctx: &Context) -> Result<(), BoxError> {
        let now = Instant::now();
        self.ticks += 1;
        let start = self.start.ok_or("no start")?;
        let due = start + PERIOD * self.ticks;
        let mut lateness = self.lateness.lock().map_err(|_| "poisoned")?;
        lateness.push(now.saturating_duration_since(due));
        if self.ticks == self.wanted {
            ctx.stop();
        }
        Ok(())
    }
}

const PERIOD: Duration = Duration::from_millis(5);

/// How late each of `ticks` ticks ran.
pub(crate) fn lateness(threadward: bool, ticks: u32) -> Vec<Duration> {
    if threadward {
        let lateness = Arc::new(Mutex::new(Vec::new()));
        let late = Late {
            wanted: ticks,
            lateness: Arc::clone(&lateness),
            ..Late::default()
        };
        let handle = late.spawn_in(&Registry::new()).expect("spawn");
        handle.join().expect("join");
        let samples = lateness.lock().expect("samples").clone();
        samples
    } else {
        let (_stop, stopped) = unbounded::<()>();
        let worker = thread::spawn(move || {
            let mut lateness = Vec::new();
            hand_rolled_ticker(PERIOD, &stopped, |late| {
                lateness.push(late);
                lateness.len() < ticks as usize
            });
            lateness
        });
        worker.join().expect("the ticking loop")
    }
}

/// Ticks once a second and does nothing else.
#[background_thread(name = "bench-tick-1s", every = "1s")]
#[derive(Default)]
struct Second {
    ticks: u64,
}

impl BackgroundThread for Second {
    type Task = ();
    fn handle(&mut self, (): (), _ctx: &Context) -> Result<(), BoxError> {
        Ok(())
    }
}

impl Ticking for Second {
    fn tick(&mut self, _ctx: &Context) -> Result<(), BoxError> {
        self.ticks += 1;
        Ok(())
    }
}

/// `count` threads ticking once a second for `over`: the CPU time used (microseconds
/// per thread per second) and the wake-ups (voluntary context switches per thread per
/// second, which should be the ticks and nothing else).
pub(crate) fn idle(threadward: bool, count: usize, over: Duration) -> (f64, f64) {
    let measure = || {
        thread::sleep(Duration::from_millis(200)); // all started and asleep
        let (cpu, switches) = (cpu_time(), voluntary_switches());
        thread::sleep(over);
        let cpu = cpu_time().saturating_sub(cpu);
        let switches = voluntary_switches().saturating_sub(switches);
        #[allow(clippy::cast_precision_loss)] // a thousand threads, a few thousand switches
        let per = |total: f64| total / count as f64 / over.as_secs_f64();
        #[allow(clippy::cast_precision_loss)]
        (per(cpu.as_secs_f64() * 1e6), per(switches as f64))
    };
    if threadward {
        with_threads(
            count,
            |r| Second::default().spawn_in(r).expect("spawn"),
            measure,
        )
    } else {
        let start = || {
            let (stop, stopped) = unbounded::<()>();
            let ticker = thread::spawn(move || {
                hand_rolled_ticker(Duration::from_secs(1), &stopped, |_| true);
            });
            (stop, ticker)
        };
        with_workers(count, start, measure)
    }
}

/// The usual hand-rolled ticker: sleeps on `stopped` until the next tick is due, calls
/// `tick` with how late it runs, and goes on (every missed tick in turn, as `burst`
/// does) until `tick` returns false or `stopped` is disconnected.
fn hand_rolled_ticker(
    period: Duration,
    stopped: &Receiver<()>,
    mut tick: impl FnMut(Duration) -> bool,
) {
    let mut next = Instant::now() + period;
    loop {
        let now = Instant::now();
        if now >= next {
            if !tick(now - next) {
                return;
            }
            next += period;
            continue;
        }
        match stopped.recv_timeout(next - now) {
            Ok(()) | Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

/// Voluntary context switches of every thread of this process so far: each is a
/// thread going to sleep, so one per wake-up.
fn voluntary_switches() -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .filter_map(Result::ok)
        .filter_map(|task| std::fs::read_to_string(task.path().join("status")).ok())
        .filter_map(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("voluntary_ctxt_switches:"))
                .and_then(|n| n.trim().parse::<u64>().ok())
        })
        .sum()
}
