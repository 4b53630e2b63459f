//! What idle threads cost: stopping and joining many, the CPU they use while idle, and
//! the memory each one keeps resident; each against hand-rolled threads.

use std::thread;
use std::time::{Duration, Instant};

use threadward::{BackgroundThread, Handle, Registry};

use crate::latency::{hand_rolled_worker, Idle};

/// Stops and joins `count` idle threads: `stop_all` for threadward, dropping every
/// sender (a broadcast) for the hand-rolled ones.
pub(crate) fn stop_many(threadward: bool, count: usize) -> Duration {
    if threadward {
        let registry = Registry::new();
        let handles: Vec<_> = (0..count)
            .map(|_| Idle::default().spawn_in(&registry).expect("spawn"))
            .collect();
        thread::sleep(Duration::from_millis(50));
        let start = Instant::now();
        registry.stop_all();
        for handle in &handles {
            handle.join().expect("join");
        }
        start.elapsed()
    } else {
        let (senders, workers): (Vec<_>, Vec<_>) = (0..count).map(|_| hand_rolled_worker()).unzip();
        thread::sleep(Duration::from_millis(50));
        let start = Instant::now();
        drop(senders);
        for worker in workers {
            worker.join().expect("join");
        }
        start.elapsed()
    }
}

/// Keeps `count` idle threads for `over`; returns the CPU time the process used
/// meanwhile, in microseconds per thread per second.
pub(crate) fn idle_cpu(threadward: bool, count: usize, over: Duration) -> f64 {
    with_idle_threads(threadward, count, || {
        let before = cpu_time();
        thread::sleep(over);
        let used = cpu_time().saturating_sub(before);
        #[allow(clippy::cast_precision_loss)] // a hundred threads
        let per_thread = used.as_secs_f64() * 1e6 / count as f64;
        per_thread / over.as_secs_f64()
    })
}

/// Starts `count` idle threads; returns the resident memory it added, in KiB per thread.
pub(crate) fn resident(threadward: bool, count: usize) -> f64 {
    let before = resident_bytes();
    with_idle_threads(threadward, count, || {
        thread::sleep(Duration::from_millis(50));
        #[allow(clippy::cast_precision_loss)] // megabytes, and a few hundred threads
        let per_thread = resident_bytes().saturating_sub(before) as f64 / count as f64;
        per_thread / 1024.0
    })
}

/// Runs `measure` while `count` idle threads exist, then stops them.
fn with_idle_threads<R>(threadward: bool, count: usize, measure: impl FnOnce() -> R) -> R {
    if threadward {
        with_threads(
            count,
            |r| Idle::default().spawn_in(r).expect("spawn"),
            measure,
        )
    } else {
        with_workers(count, hand_rolled_worker, measure)
    }
}

/// Runs `measure` while `count` threadward threads run, each started by `spawn` in a
/// registry of their own, then stops and joins them.
pub(crate) fn with_threads<T: BackgroundThread, R>(
    count: usize,
    spawn: impl Fn(&Registry) -> Handle<T>,
    measure: impl FnOnce() -> R,
) -> R {
    let registry = Registry::new();
    let handles: Vec<_> = (0..count).map(|_| spawn(&registry)).collect();
    let measured = measure();
    registry.stop_all();
    for handle in &handles {
        handle.join().expect("join");
    }
    measured
}

/// Runs `measure` while `count` hand-rolled workers run, each started by `start`, which
/// returns what stops it when dropped; then stops and joins them.
pub(crate) fn with_workers<S, W, R>(
    count: usize,
    start: impl Fn() -> (S, thread::JoinHandle<W>),
    measure: impl FnOnce() -> R,
) -> R {
    let (stops, workers): (Vec<_>, Vec<_>) = (0..count).map(|_| start()).unzip();
    let measured = measure();
    drop(stops);
    for worker in workers {
        worker.join().expect("join");
    }
    measured
}

/// User and system CPU time of the whole process so far.
pub(crate) fn cpu_time() -> Duration {
    // SAFETY: `rusage` is plain data that `getrusage` fills in.
    #[allow(unsafe_code)]
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        assert_eq!(libc::getrusage(libc::RUSAGE_SELF, &mut usage), 0);
        usage
    };
    let of = |time: libc::timeval| {
        Duration::new(
            u64::try_from(time.tv_sec).expect("a positive time"),
            u32::try_from(time.tv_usec).expect("under a second") * 1000,
        )
    };
    of(usage.ru_utime) + of(usage.ru_stime)
}

/// The process's resident memory, from `/proc/self/statm`.
fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("Linux's /proc");
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|field| field.parse().ok())
        .expect("statm's second field: resident pages");
    // SAFETY: `sysconf` only reads a constant of the system.
    #[allow(unsafe_code)]
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    pages * u64::try_from(page).expect("a positive page size")
}
