//! `every` and `Ticking`: ticks run on the thread itself, between tasks, also while it
//! is busy; the period changes at run time; a tick's error or panic ends the thread; a
//! stop wakes a thread waiting for its next tick at once. Every wait is bounded.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use threadward::{
    background_thread, BackgroundThread, BoxError, Context, Outcome, SetEveryError, Ticking,
};

const BOUND: Duration = Duration::from_secs(30);

/// Waits (bounded) until `done` holds.
fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + BOUND;
    while !done() {
        assert!(Instant::now() < deadline, "never {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[background_thread(every = "10ms")]
#[derive(Default)]
struct Recorder {
    /// For each tick: the OS thread it ran on, and how many tasks were handled before.
    ticks: Vec<(std::thread::ThreadId, usize)>,
    handled: usize,
    /// How long each task takes.
    work: Duration,
    handled_on: Option<std::thread::ThreadId>,
    /// Ticks so far, for the test to watch.
    seen: Arc<AtomicUsize>,
}

impl BackgroundThread for Recorder {
    type Task = ();
    fn handle(&mut self, (): (), _ctx: &Context) -> Result<(), BoxError> {
        std::thread::sleep(self.work);
        self.handled += 1;
        self.handled_on = Some(std::thread::current().id());
        Ok(())
    }
}

impl Ticking for Recorder {
    fn tick(&mut self, _ctx: &Context) -> Result<(), BoxError> {
        self.ticks.push((std::thread::current().id(), self.handled));
        self.seen.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

#[test]
fn ticks_run_on_the_threads_own_thread_and_an_idle_thread_wakes_for_them() {
    let seen = Arc::new(AtomicUsize::new(0));
    let recorder = Recorder {
        seen: Arc::clone(&seen),
        ..Recorder::default()
    }
    .spawn()
    .unwrap();
    recorder.send(()).unwrap();
    wait_until("ticked three times", || seen.load(Ordering::SeqCst) >= 3);
    let (ticks, handled_on) = recorder
        .call(|r, _| (r.ticks.clone(), r.handled_on))
        .unwrap();
    assert!(ticks.iter().all(|(on, _)| Some(*on) == handled_on));
    recorder.stop();
    recorder.join_timeout(BOUND).unwrap();
}

#[test]
fn a_busy_thread_still_ticks_between_its_tasks() {
    let recorder = Recorder {
        work: Duration::from_millis(2),
        ..Recorder::default()
    }
    .spawn()
    .unwrap();
    // 100 tasks of 2 ms: the queue is not empty for 200 ms, twenty periods.
    for _ in 0..100 {
        recorder.send(()).unwrap();
    }
    // Answered after the 100 tasks.
    let ticks = recorder.call(|r, _| r.ticks.clone()).unwrap();
    assert!(
        ticks
            .iter()
            .any(|&(_, handled)| handled > 0 && handled < 100),
        "no tick between the tasks: {ticks:?}"
    );
    recorder.stop();
    recorder.join_timeout(BOUND).unwrap();
}

#[background_thread(every = "10ms")]
#[derive(Default)]
struct Backoff {
    ticks: Arc<AtomicUsize>,
}

impl BackgroundThread for Backoff {
    /// A new period.
    type Task = Duration;
    fn handle(&mut self, every: Duration, ctx: &Context) -> Result<(), BoxError> {
        ctx.set_every(every)?;
        Ok(())
    }
}

impl Ticking for Backoff {
    fn tick(&mut self, ctx: &Context) -> Result<(), BoxError> {
        if self.ticks.fetch_add(1, Ordering::SeqCst) + 1 == 3 {
            ctx.set_every(Duration::from_secs(3600))?; // nothing to do: back off
        }
        Ok(())
    }
}

#[test]
fn the_period_changes_at_run_time() {
    let ticks = Arc::new(AtomicUsize::new(0));
    let backoff = Backoff {
        ticks: Arc::clone(&ticks),
    }
    .spawn()
    .unwrap();
    wait_until("ticked three times", || ticks.load(Ordering::SeqCst) >= 3);
    assert_eq!(
        backoff.call(|_, ctx| ctx.every()).unwrap(),
        Some(Duration::from_secs(3600))
    );
    // Backed off: at 10 ms, ten more ticks would come in 100 ms.
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(ticks.load(Ordering::SeqCst), 3, "ticked after backing off");
    // Work came: tick often again.
    backoff.send(Duration::from_millis(5)).unwrap();
    wait_until("ticked again", || ticks.load(Ordering::SeqCst) >= 5);
    // A zero period is refused, and the error ends the thread.
    backoff.send(Duration::ZERO).unwrap();
    let exit = backoff.join_timeout(BOUND).unwrap();
    match exit.outcome() {
        Outcome::Failed(error) => {
            assert!(error.to_string().contains("longer than zero"), "{error}");
        }
        other => panic!("expected Failed, got {other:?}"),
    }
}

#[background_thread(every = "1h")]
#[derive(Default)]
struct Hourly {
    ticks: Arc<AtomicUsize>,
}

impl BackgroundThread for Hourly {
    /// `Some` sets a new period.
    type Task = Option<Duration>;
    fn handle(&mut self, every: Option<Duration>, ctx: &Context) -> Result<(), BoxError> {
        if let Some(every) = every {
            ctx.set_every(every)?;
        }
        Ok(())
    }
}

impl Ticking for Hourly {
    fn tick(&mut self, _ctx: &Context) -> Result<(), BoxError> {
        self.ticks.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

#[test]
fn a_period_set_in_handle_takes_effect_however_rarely_the_clock_is_read() {
    let ticks = Arc::new(AtomicUsize::new(0));
    let hourly = Hourly {
        ticks: Arc::clone(&ticks),
    }
    .spawn()
    .unwrap();
    // Ten thousand quick tasks against an hourly tick: the loop learns to read the
    // clock only every 64 tasks.
    for _ in 0..10_000 {
        hourly.send(None).unwrap();
    }
    hourly.send(Some(Duration::from_millis(5))).unwrap();
    wait_until("ticked at the new period", || {
        ticks.load(Ordering::SeqCst) >= 2
    });
    hourly.stop();
    hourly.join_timeout(BOUND).unwrap();
}

#[background_thread(every = "2s")]
#[derive(Default)]
struct Quickening {
    at: Arc<std::sync::Mutex<Vec<Instant>>>,
}

impl BackgroundThread for Quickening {
    type Task = ();
    fn handle(&mut self, (): (), _ctx: &Context) -> Result<(), BoxError> {
        Ok(())
    }
}

impl Ticking for Quickening {
    fn tick(&mut self, ctx: &Context) -> Result<(), BoxError> {
        let mut at = self.at.lock().map_err(|_| "poisoned")?;
        at.push(Instant::now());
        ctx.set_every(Duration::from_millis(10))?;
        Ok(())
    }
}

#[test]
fn a_period_shortened_in_tick_counts_from_then_not_from_the_old_next_tick() {
    let at = Arc::new(std::sync::Mutex::new(Vec::new()));
    let quickening = Quickening {
        at: Arc::clone(&at),
    }
    .spawn()
    .unwrap();
    // The first tick, at 2 s, shortens the period to 10 ms: the second must not wait
    // for the old period's next tick, 2 s later.
    wait_until("ticked twice", || at.lock().unwrap().len() >= 2);
    let at = at.lock().unwrap().clone();
    assert!(
        at[1] - at[0] < Duration::from_secs(1),
        "{:?}",
        at[1] - at[0]
    );
    quickening.stop();
    quickening.join_timeout(BOUND).unwrap();
}

#[test]
fn ticks_come_within_64_tasks_when_small_tasks_give_way_to_slow_ones() {
    let recorder = Recorder {
        work: Duration::ZERO,
        ..Recorder::default()
    }
    .spawn()
    .unwrap();
    // Hold the thread while the queue fills: 100,000 instant tasks, then slow ones.
    let (release, gate) = std::sync::mpsc::channel::<()>();
    recorder
        .cast(move |_, _| {
            let _ = gate.recv_timeout(BOUND);
        })
        .unwrap();
    for _ in 0..100_000 {
        recorder.send(()).unwrap();
    }
    recorder
        .cast(|r, _| r.work = Duration::from_millis(2))
        .unwrap();
    for _ in 0..200 {
        recorder.send(()).unwrap();
    }
    drop(release);
    let ticks = recorder.call(|r, _| r.ticks.clone()).unwrap();
    // 200 tasks of 2 ms are 40 periods: the clock is read within 64 of them.
    assert!(
        ticks
            .iter()
            .any(|&(_, handled)| handled > 100_000 && handled < 100_200),
        "no tick among the slow tasks"
    );
    recorder.stop();
    recorder.join_timeout(BOUND).unwrap();
}

#[background_thread]
#[derive(Default)]
struct Untimed;

impl BackgroundThread for Untimed {
    type Task = ();
    fn handle(&mut self, (): (), _ctx: &Context) -> Result<(), BoxError> {
        Ok(())
    }
}

#[test]
fn a_thread_without_every_cannot_be_given_a_period() {
    let untimed = Untimed.spawn().unwrap();
    let refused = untimed
        .call(|_, ctx| (ctx.every(), ctx.set_every(Duration::from_millis(1))))
        .unwrap();
    assert_eq!(
        refused,
        (
            None,
            Err(SetEveryError::NotTicking(Duration::from_millis(1)))
        )
    );
    untimed.stop();
    untimed.join_timeout(BOUND).unwrap();
}

#[background_thread(every = "1ms")]
struct Faulty {
    panics: bool,
}

impl BackgroundThread for Faulty {
    type Task = ();
    fn handle(&mut self, (): (), _ctx: &Context) -> Result<(), BoxError> {
        Ok(())
    }
}

impl Ticking for Faulty {
    fn tick(&mut self, _ctx: &Context) -> Result<(), BoxError> {
        assert!(!self.panics, "the tick panicked");
        Err("the tick failed".into())
    }
}

#[test]
fn a_ticks_error_or_panic_ends_the_thread() {
    let failing = Faulty { panics: false }.spawn().unwrap();
    let exit = failing.join_timeout(BOUND).unwrap();
    assert!(
        matches!(exit.outcome(), Outcome::Failed(e) if e.to_string() == "the tick failed"),
        "{:?}",
        exit.outcome()
    );
    let panicking = Faulty { panics: true }.spawn().unwrap();
    let exit = panicking.join_timeout(BOUND).unwrap();
    assert!(
        matches!(exit.outcome(), Outcome::Panicked { message } if message.contains("the tick panicked")),
        "{:?}",
        exit.outcome()
    );
}

#[test]
fn a_stop_wakes_a_thread_waiting_for_its_next_tick_at_once() {
    let hourly = Hourly::default().spawn().unwrap();
    hourly.send(None).unwrap();
    // Answered after the task: the thread then waits for a tick an hour away, and the
    // stop must not wait for it.
    hourly.call(|_, _| ()).unwrap();
    hourly.stop();
    let exit = hourly.join_timeout(BOUND).unwrap();
    assert!(matches!(exit.outcome(), Outcome::Stopped));
    assert_eq!(exit.handled(), 1);
}
