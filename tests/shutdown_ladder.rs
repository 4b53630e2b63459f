//! The shutdown ladder in process, without signals (a shutdown is process-wide, so these
//! tests take turns): it refuses threads spawned once it began, reports a thread whose
//! startup failed meanwhile, stops threads one after another (or all at once when
//! asked), and reports the failures that nobody joined.

mod support;

use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use threadward::{
    background_thread, BackgroundThread, BoxError, Context, CreateError, Handle, Outcome, Registry,
    ShutdownReport, SpawnFailure, State, StopOrder,
};

use support::ladder::{patient, shut_down, take_turn, BOUND};

type Log = Arc<Mutex<Vec<String>>>;

fn note(log: &Log, line: impl Into<String>) {
    log.lock().unwrap().push(line.into());
}

fn position(log: &Log, line: &str) -> usize {
    let log = log.lock().unwrap();
    log.iter()
        .position(|l| l == line)
        .unwrap_or_else(|| panic!("no `{line}` in {log:?}"))
}

/// Says when it is asked to stop, then lingers in `shutdown` until released.
#[background_thread(name = "lingerer")]
struct Lingerer {
    asked: mpsc::Sender<()>,
    release: mpsc::Receiver<()>,
}

impl BackgroundThread for Lingerer {
    type Task = ();
    fn startup(&mut self, ctx: &Context) -> Result<(), BoxError> {
        let asked = self.asked.clone();
        ctx.on_stop(move || {
            let _ = asked.send(());
        });
        Ok(())
    }
    fn handle(&mut self, (): (), _ctx: &Context) -> Result<(), BoxError> {
        Ok(())
    }
    fn shutdown(&mut self, _ctx: &Context) {
        let _ = self.release.recv_timeout(BOUND);
    }
}

#[background_thread(name = "latecomer")]
#[derive(Default)]
struct Latecomer {
    tag: u32,
}

impl BackgroundThread for Latecomer {
    type Task = ();
    fn handle(&mut self, (): (), _ctx: &Context) -> Result<(), BoxError> {
        Ok(())
    }
}

#[test]
fn a_spawn_after_the_shutdown_began_is_refused_and_hands_the_value_back() {
    let _turn = take_turn();
    let registry = Registry::new();
    let (asked_tx, asked) = mpsc::channel();
    let (release, release_rx) = mpsc::channel();
    Lingerer {
        asked: asked_tx,
        release: release_rx,
    }
    .spawn_in(&registry)
    .unwrap();
    let reports = shut_down(&registry, patient());
    asked.recv_timeout(BOUND).expect("the shutdown began");
    assert!(registry.is_shutting_down());

    let refused = Latecomer { tag: 7 }.spawn_in(&registry).unwrap_err();
    assert!(
        matches!(refused.failure(), SpawnFailure::ShuttingDown),
        "{refused}"
    );
    assert_eq!(refused.into_inner().tag, 7, "the value comes back");
    let created = threadward::create_in("latecomer", &registry).unwrap_err();
    assert!(
        matches!(
            created,
            CreateError::Spawn {
                failure: SpawnFailure::ShuttingDown,
                ..
            }
        ),
        "{created}"
    );

    release.send(()).unwrap();
    let report = reports.recv_timeout(BOUND).expect("the shutdown ends");
    let names: Vec<_> = report
        .threads()
        .iter()
        .map(threadward::ExitReport::name)
        .collect();
    assert_eq!(
        names,
        ["lingerer"],
        "every thread of the registry is reported"
    );
    assert!(report.is_clean(), "{report}");
    assert!(registry.is_empty());
}

/// Says when `startup` began and when it is asked to stop, then fails when told.
#[background_thread(name = "slow-failer")]
struct SlowFailer {
    entered: mpsc::Sender<()>,
    asked: mpsc::Sender<()>,
    fail: mpsc::Receiver<()>,
}

impl BackgroundThread for SlowFailer {
    type Task = ();
    fn startup(&mut self, ctx: &Context) -> Result<(), BoxError> {
        let asked = self.asked.clone();
        ctx.on_stop(move || {
            let _ = asked.send(());
        });
        let _ = self.entered.send(());
        let _ = self.fail.recv_timeout(BOUND);
        Err("config missing".into())
    }
    fn handle(&mut self, (): (), _ctx: &Context) -> Result<(), BoxError> {
        Ok(())
    }
}

#[test]
fn a_shutdown_during_a_failing_startup_reports_the_failure_and_ends() {
    let _turn = take_turn();
    let registry = Registry::new();
    let (entered_tx, entered) = mpsc::channel();
    let (asked_tx, asked) = mpsc::channel();
    let (fail, fail_rx) = mpsc::channel();
    let spawner = {
        let registry = registry.clone();
        let failer = SlowFailer {
            entered: entered_tx,
            asked: asked_tx,
            fail: fail_rx,
        };
        std::thread::spawn(move || failer.spawn_in(&registry).is_err())
    };
    entered.recv_timeout(BOUND).expect("startup began");
    let reports = shut_down(&registry, patient());
    asked.recv_timeout(BOUND).expect("the shutdown began");
    fail.send(()).unwrap();
    let report = reports.recv_timeout(BOUND).expect("the shutdown ends");
    assert!(spawner.join().unwrap(), "spawn failed");
    assert!(report.stuck().is_empty(), "{report}");
    assert!(
        matches!(report.threads()[0].outcome(), Outcome::StartupFailed { .. }),
        "{report}"
    );
    assert_eq!(report.exit_code(), 1, "a failed startup is not clean");
}

/// Feeds the consumer: in `shutdown`, a little later, its last words.
#[background_thread(name = "producer")]
struct Producer {
    consumer: Handle<Consumer>,
    log: Log,
    /// With all-at-once stops: wait until the consumer was asked, to show it was.
    wait_for_consumer: Option<mpsc::Receiver<()>>,
}

impl BackgroundThread for Producer {
    type Task = ();
    fn handle(&mut self, (): (), _ctx: &Context) -> Result<(), BoxError> {
        Ok(())
    }
    fn shutdown(&mut self, _ctx: &Context) {
        match &self.wait_for_consumer {
            Some(asked) => drop(asked.recv_timeout(BOUND)),
            None => std::thread::sleep(Duration::from_millis(50)),
        }
        let accepted = (0..10).filter(|&n| self.consumer.send(n).is_ok()).count();
        note(
            &self.log,
            format!("producer's last words accepted: {accepted}"),
        );
        note(&self.log, "producer ended");
    }
}

#[background_thread(name = "consumer")]
struct Consumer {
    log: Log,
    asked: Option<mpsc::Sender<()>>,
}

impl BackgroundThread for Consumer {
    type Task = u32;
    fn startup(&mut self, ctx: &Context) -> Result<(), BoxError> {
        let log = Arc::clone(&self.log);
        let asked = self.asked.take();
        ctx.on_stop(move || {
            note(&log, "consumer asked to stop");
            if let Some(asked) = asked {
                let _ = asked.send(());
            }
        });
        Ok(())
    }
    fn handle(&mut self, _: u32, _ctx: &Context) -> Result<(), BoxError> {
        Ok(())
    }
}

fn producer_and_consumer(order: StopOrder) -> (Log, ShutdownReport) {
    let registry = Registry::new();
    let log = Log::default();
    let (asked_tx, asked) = mpsc::channel();
    let all_at_once = order == StopOrder::AllAtOnce;
    let consumer = Consumer {
        log: Arc::clone(&log),
        asked: all_at_once.then_some(asked_tx),
    }
    .spawn_in(&registry)
    .unwrap();
    Producer {
        consumer,
        log: Arc::clone(&log),
        wait_for_consumer: all_at_once.then_some(asked),
    }
    .spawn_in(&registry)
    .unwrap();
    let report = shut_down(&registry, patient().stop_order(order))
        .recv_timeout(BOUND)
        .expect("the shutdown ends");
    (log, report)
}

#[test]
fn one_by_one_the_consumer_is_asked_only_once_its_producer_ended() {
    let _turn = take_turn();
    let (log, report) = producer_and_consumer(StopOrder::OneByOne);
    assert!(position(&log, "producer ended") < position(&log, "consumer asked to stop"));
    position(&log, "producer's last words accepted: 10");
    let handled: Vec<_> = report
        .threads()
        .iter()
        .map(|t| (t.name(), t.handled()))
        .collect();
    assert_eq!(handled, [("producer", 0), ("consumer", 10)], "{report}");
    assert!(report.is_clean());
}

#[test]
fn all_at_once_is_there_when_asked_for() {
    let _turn = take_turn();
    let (log, report) = producer_and_consumer(StopOrder::AllAtOnce);
    assert!(position(&log, "consumer asked to stop") < position(&log, "producer ended"));
    position(&log, "producer's last words accepted: 0");
    assert!(report.is_clean());
}

/// Fails on its first task.
#[background_thread(name = "fragile")]
struct Fragile;

impl BackgroundThread for Fragile {
    type Task = ();
    fn handle(&mut self, (): (), _ctx: &Context) -> Result<(), BoxError> {
        Err("disk full".into())
    }
}

fn failed(registry: &Registry) -> Handle<Fragile> {
    let fragile = Fragile.spawn_in(registry).unwrap();
    fragile.send(()).unwrap();
    for _ in 0..10_000 {
        if !fragile.is_alive() {
            return fragile;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    panic!("the fragile thread did not fail in time");
}

#[test]
fn a_failure_nobody_joined_is_reported_and_fails_the_exit_code() {
    let _turn = take_turn();
    let registry = Registry::new();
    let fragile = failed(&registry);
    let refused = fragile.send(()).unwrap_err();
    assert_eq!(refused.state(), State::Failed);
    assert_eq!(
        refused.to_string(),
        "sending to a background thread that failed"
    );
    drop(fragile);
    let _healthy = Latecomer::default().spawn_in(&registry).unwrap();

    let report = shut_down(&registry, patient())
        .recv_timeout(BOUND)
        .expect("the shutdown ends");
    assert_eq!(report.threads().len(), 1, "{report}");
    assert_eq!(report.unjoined_earlier().len(), 1, "{report}");
    assert_eq!(
        report.unjoined_earlier()[0].outcome().to_string(),
        "failed: disk full"
    );
    assert_eq!(report.exit_code(), 1);
    let text = report.to_string();
    assert!(text.contains("1 unjoined earlier"), "{text}");
    assert!(
        text.contains("ended unclean before the shutdown, not joined:"),
        "{text}"
    );
}

#[test]
fn a_failure_somebody_joined_is_not_reported_again() {
    let _turn = take_turn();
    let registry = Registry::new();
    let fragile = failed(&registry);
    let exit = fragile.join_timeout(BOUND).expect("joined");
    assert!(matches!(exit.outcome(), Outcome::Failed(_)));
    assert!(registry.unjoined_exits().is_empty());
    let report = shut_down(&registry, patient())
        .recv_timeout(BOUND)
        .expect("the shutdown ends");
    assert!(report.unjoined_earlier().is_empty());
    assert_eq!(report.exit_code(), 0, "{report}");
}

#[background_thread(name = "sleeper", delay = "1h")]
#[derive(Default)]
struct Sleeper;

impl BackgroundThread for Sleeper {
    type Task = u32;
    fn handle(&mut self, _task: u32, _ctx: &Context) -> Result<(), BoxError> {
        Ok(())
    }
}

#[background_thread(name = "brief", deadline = "1ms")]
#[derive(Default)]
struct Brief;

impl BackgroundThread for Brief {
    type Task = ();
    fn handle(&mut self, (): (), _ctx: &Context) -> Result<(), BoxError> {
        Ok(())
    }
}

#[test]
fn threads_stopped_in_their_delay_or_at_their_deadline_leave_a_clean_report() {
    let _turn = take_turn();
    let registry = Registry::new();
    // Ended at its deadline before the shutdown: clean, so not remembered.
    let brief = Brief.spawn_in(&registry).unwrap();
    let exit = brief.join_timeout(BOUND).unwrap();
    assert!(matches!(exit.outcome(), Outcome::DeadlineReached));
    assert!(registry.unjoined_exits().is_empty());
    // Still in its start delay when the shutdown stops it, with two tasks waiting.
    let sleeper = Sleeper.spawn_in(&registry).unwrap();
    sleeper.send(1).unwrap();
    sleeper.send(2).unwrap();
    let report = shut_down(&registry, patient())
        .recv_timeout(BOUND)
        .expect("the shutdown ends");
    assert_eq!(report.exit_code(), 0, "{report}");
    let row = &report.threads()[0];
    assert!(matches!(row.outcome(), Outcome::StoppedBeforeStart));
    assert_eq!(
        row.undelivered(),
        2,
        "the tasks sent meanwhile are returned"
    );
    let text = report.to_string();
    assert!(text.contains("unstarted"), "{text}");
    assert_eq!(sleeper.join_timeout(BOUND).unwrap().undelivered(), [1, 2]);
}
