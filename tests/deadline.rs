//! `deadline`: a thread is stopped gracefully once it has run that long, handles what it
//! accepted, and its exit says it reached its deadline; a stop that comes first is a
//! plain stop. Every wait is bounded.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use threadward::{background_thread, BackgroundThread, BoxError, Context, Outcome, Ticking};

const BOUND: Duration = Duration::from_secs(30);

#[background_thread(deadline = "50ms")]
#[derive(Default)]
struct Brief {
    /// How long each task takes.
    work: Duration,
}

impl BackgroundThread for Brief {
    type Task = ();
    fn handle(&mut self, (): (), _ctx: &Context) -> Result<(), BoxError> {
        std::thread::sleep(self.work);
        Ok(())
    }
}

#[test]
fn an_idle_thread_is_stopped_at_its_deadline_and_the_exit_says_so() {
    let brief = Brief::default().spawn().unwrap();
    brief.send(()).unwrap();
    let exit = brief.join_timeout(BOUND).unwrap();
    assert!(
        matches!(exit.outcome(), Outcome::DeadlineReached),
        "{:?}",
        exit.outcome()
    );
    assert!(exit.outcome().is_clean());
    assert_eq!(exit.outcome().to_string(), "stopped at its deadline");
    assert_eq!(exit.handled(), 1);
    assert!(exit.report().ran_for() >= Duration::from_millis(50));
    assert!(
        brief.send(()).is_err(),
        "a stopped thread takes no more tasks"
    );
}

#[test]
fn a_busy_thread_reaching_its_deadline_handles_every_task_it_accepted() {
    let brief = Brief {
        work: Duration::from_millis(5),
    }
    .spawn()
    .unwrap();
    // 40 tasks of 5 ms: the deadline comes while they are being handled.
    let mut accepted = 0;
    for _ in 0..40 {
        if brief.send(()).is_ok() {
            accepted += 1;
        }
    }
    let exit = brief.join_timeout(BOUND).unwrap();
    assert!(
        matches!(exit.outcome(), Outcome::DeadlineReached),
        "{:?}",
        exit.outcome()
    );
    assert_eq!(exit.handled(), accepted, "a deadline stop is graceful");
    assert!(exit.undelivered().is_empty());
}

#[background_thread(deadline = "1h")]
#[derive(Default)]
struct Long;

impl BackgroundThread for Long {
    type Task = ();
    fn handle(&mut self, (): (), _ctx: &Context) -> Result<(), BoxError> {
        Ok(())
    }
}

#[test]
fn a_stop_before_the_deadline_is_a_plain_stop() {
    let long = Long.spawn().unwrap();
    long.stop();
    let exit = long.join_timeout(BOUND).unwrap();
    assert!(
        matches!(exit.outcome(), Outcome::Stopped),
        "{:?}",
        exit.outcome()
    );
}

#[background_thread(every = "5ms", deadline = "100ms")]
#[derive(Default)]
struct Sampler {
    ticks: Arc<AtomicUsize>,
}

impl BackgroundThread for Sampler {
    type Task = ();
    fn handle(&mut self, (): (), _ctx: &Context) -> Result<(), BoxError> {
        Ok(())
    }
}

impl Ticking for Sampler {
    fn tick(&mut self, _ctx: &Context) -> Result<(), BoxError> {
        self.ticks.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

#[test]
fn a_ticking_thread_ticks_until_its_deadline_then_ends() {
    let ticks = Arc::new(AtomicUsize::new(0));
    let sampler = Sampler {
        ticks: Arc::clone(&ticks),
    }
    .spawn()
    .unwrap();
    let exit = sampler.join_timeout(BOUND).unwrap();
    assert!(
        matches!(exit.outcome(), Outcome::DeadlineReached),
        "{:?}",
        exit.outcome()
    );
    let ticked = ticks.load(Ordering::SeqCst);
    // At most one per period up to the deadline, and none after it.
    assert!(ticked <= 20, "{ticked} ticks");
}
