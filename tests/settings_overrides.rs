//! A thread's `threadward` table: a configuration changes what its type declares (the
//! schedule, restart policy, pool size, queue capacity and times), with the keys and
//! rules of the attribute. What does not fit is an error that names the key, found
//! before any value is made.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use serde::Deserialize;
use threadward::{
    background_thread, create_with_in, BackgroundThread, BoxError, Context, CreateError, Outcome,
    Registry, Settings, Ticking, TrySendError,
};

/// Bound on every wait of these tests.
const BOUND: Duration = Duration::from_secs(10);

fn settings(json: &str) -> Settings {
    serde_json::from_str(json).unwrap()
}

/// Ticks, every second unless configured.
#[background_thread(name = "overrides_poller", every = "1s")]
#[derive(Default)]
struct Poller {
    ticks: u32,
}

impl BackgroundThread for Poller {
    type Task = ();
    fn handle(&mut self, (): (), _: &Context) -> Result<(), BoxError> {
        Ok(())
    }
}

impl Ticking for Poller {
    fn tick(&mut self, _: &Context) -> Result<(), BoxError> {
        self.ticks += 1;
        Ok(())
    }
}

#[test]
fn every_and_missed_change_the_schedule() {
    let registry = Registry::new();
    let thread = create_with_in(
        "overrides_poller",
        settings(r#"{"threadward": {"every": "10ms", "missed": "burst"}}"#),
        &registry,
    )
    .unwrap();
    let poller = thread.downcast::<Poller>().ok().unwrap();
    assert_eq!(
        poller.call(|_, ctx| ctx.every()).unwrap(),
        Some(Duration::from_millis(10))
    );
    // Ticks come at the configured period, not the declared one second.
    let started = Instant::now();
    while poller.call(|p, _| p.ticks).unwrap() < 3 {
        assert!(
            started.elapsed() < BOUND,
            "no ticks at the configured period"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    poller.stop();
    poller.join().unwrap();
}

/// Fails on `true`; declares no restart.
#[background_thread(name = "overrides_flaky")]
#[derive(Default)]
struct Flaky {
    handled: u32,
}

impl BackgroundThread for Flaky {
    type Task = bool;
    fn handle(&mut self, fail: bool, _: &Context) -> Result<(), BoxError> {
        if fail {
            return Err("asked to fail".into());
        }
        self.handled += 1;
        Ok(())
    }
}

#[test]
fn a_configured_restart_policy_restarts_a_type_that_declares_none() {
    let registry = Registry::new();
    let json = r#"{"threadward": {"restart": "on-failure", "max_restarts": 2,
                   "within": "1m", "backoff": "1ms"}}"#;
    let thread = create_with_in("overrides_flaky", settings(json), &registry).unwrap();
    let flaky = thread.clone().downcast::<Flaky>().ok().unwrap();
    flaky.send(true).unwrap();
    flaky.send(false).unwrap();
    // The queue behind the failure is handled by the fresh value.
    assert_eq!(flaky.call(|f, _| f.handled).unwrap(), 1);
    // A handle from the registry sees the restart.
    let found = registry.get(thread.id()).unwrap();
    assert_eq!(found.info().restarts, 1);
    flaky.stop();
    assert_eq!(flaky.join().unwrap().restarts(), 1);

    // Without the table the same type ends with its failure.
    let thread = create_with_in("overrides_flaky", Settings::empty(), &registry).unwrap();
    let flaky = thread.downcast::<Flaky>().ok().unwrap();
    flaky.send(true).unwrap();
    let exit = flaky.join_timeout(BOUND).unwrap();
    assert!(matches!(exit.outcome(), Outcome::Failed(_)), "{exit:?}");
}

/// Fails on `true`; declares restarts, which a configuration may turn off.
#[background_thread(name = "overrides_sturdy", restart = "on-failure")]
#[derive(Default)]
struct Sturdy;

impl BackgroundThread for Sturdy {
    type Task = bool;
    fn handle(&mut self, fail: bool, _: &Context) -> Result<(), BoxError> {
        if fail {
            return Err("asked to fail".into());
        }
        Ok(())
    }
}

#[test]
fn restart_never_turns_off_a_declared_restart() {
    let registry = Registry::new();
    let json = r#"{"threadward": {"restart": "never"}}"#;
    let thread = create_with_in("overrides_sturdy", settings(json), &registry).unwrap();
    let sturdy = thread.downcast::<Sturdy>().ok().unwrap();
    sturdy.send(true).unwrap();
    let exit = sturdy.join_timeout(BOUND).unwrap();
    assert!(matches!(exit.outcome(), Outcome::Failed(_)), "{exit:?}");
    assert_eq!(exit.restarts(), 0);
}

/// Where the workers of a pool meet: each task waits (bounded) until `expected` tasks
/// are being handled at once.
#[derive(Default)]
struct Meeting {
    arrived: Mutex<usize>,
    all_here: Condvar,
}

impl Meeting {
    /// Whether `expected` arrived within the bound.
    fn meet(&self, expected: usize) -> bool {
        let mut arrived = self.arrived.lock().unwrap();
        *arrived += 1;
        self.all_here.notify_all();
        let (arrived, _) = self
            .all_here
            .wait_timeout_while(arrived, BOUND, |arrived| *arrived < expected)
            .unwrap();
        *arrived >= expected
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CrewSettings {
    label: String,
}

/// A pool when configured so; its settings type refuses unknown fields, so its
/// extra workers must be made from the settings without the `threadward` table.
#[background_thread(name = "overrides_crew", settings = CrewSettings, factory = Crew::new)]
struct Crew {
    label: String,
}

impl Crew {
    fn new(settings: CrewSettings) -> Self {
        Self {
            label: settings.label,
        }
    }
}

impl BackgroundThread for Crew {
    type Task = (Arc<Meeting>, mpsc::Sender<(String, bool)>);
    fn handle(&mut self, (meeting, done): Self::Task, _: &Context) -> Result<(), BoxError> {
        let met = meeting.meet(3);
        done.send((self.label.clone(), met))?;
        Ok(())
    }
}

#[test]
fn workers_make_a_pool_whose_workers_all_serve_the_queue() {
    let registry = Registry::new();
    let json = r#"{"label": "crew", "threadward": {"workers": 3}}"#;
    let thread = create_with_in("overrides_crew", settings(json), &registry).unwrap();
    assert_eq!(thread.info().workers, 3);
    assert_eq!(registry.get(thread.id()).unwrap().info().workers, 3);
    let crew = thread.downcast::<Crew>().ok().unwrap();
    // Three tasks that can only finish while three workers handle them at once.
    let meeting = Arc::new(Meeting::default());
    let (done, results) = mpsc::channel();
    for _ in 0..3 {
        crew.send((Arc::clone(&meeting), done.clone())).unwrap();
    }
    for _ in 0..3 {
        let (label, met) = results.recv_timeout(BOUND).unwrap();
        assert_eq!(label, "crew");
        assert!(met, "three workers were not handling tasks at once");
    }
    crew.stop();
    assert_eq!(crew.join().unwrap().handled(), 3);
}

/// Holds its first task until told, so that its queue can fill.
#[background_thread(name = "overrides_gated")]
#[derive(Default)]
struct Gated;

impl BackgroundThread for Gated {
    type Task = Option<(mpsc::Sender<()>, mpsc::Receiver<()>)>;
    fn handle(&mut self, task: Self::Task, _: &Context) -> Result<(), BoxError> {
        if let Some((started, open)) = task {
            started.send(())?;
            open.recv_timeout(BOUND)?;
        }
        Ok(())
    }
}

#[test]
fn capacity_bounds_the_queue() {
    let registry = Registry::new();
    let json = r#"{"threadward": {"capacity": 2}}"#;
    let thread = create_with_in("overrides_gated", settings(json), &registry).unwrap();
    let gated = thread.downcast::<Gated>().ok().unwrap();
    let (started, has_started) = mpsc::channel();
    let (open, gate) = mpsc::channel();
    gated.send(Some((started, gate))).unwrap();
    has_started.recv_timeout(BOUND).unwrap();
    // The thread holds its first task: two more fit, the third does not.
    gated.try_send(None).unwrap();
    gated.try_send(None).unwrap();
    assert!(matches!(
        gated.try_send(None),
        Err(TrySendError::Full(None))
    ));
    open.send(()).unwrap();
    gated.stop();
    assert_eq!(gated.join().unwrap().handled(), 3);
}

/// How many `Counted` values were made.
static COUNTED_MADE: AtomicUsize = AtomicUsize::new(0);

/// Counts the values its factory makes (only the test below creates it).
#[background_thread(name = "overrides_counted", settings = CrewSettings, factory = Counted::new)]
struct Counted;

impl Counted {
    fn new(_: CrewSettings) -> Self {
        COUNTED_MADE.fetch_add(1, Ordering::SeqCst);
        Self
    }
}

impl BackgroundThread for Counted {
    type Task = ();
    fn handle(&mut self, (): (), _: &Context) -> Result<(), BoxError> {
        Ok(())
    }
}

/// Tables that do not fit: the type, the settings, what the error says.
fn misfits() -> Vec<(&'static str, String, &'static str)> {
    let crew = |table: &str| format!(r#"{{"label": "crew", "threadward": {table}}}"#);
    vec![
        (
            "overrides_counted",
            crew("5"),
            "`threadward` must be a table; found an integer",
        ),
        (
            "overrides_counted",
            crew(r#"{"evry": "1s"}"#),
            "`threadward.evry`: unknown key; the keys are `every`, `missed`, `restart`",
        ),
        (
            "overrides_counted",
            crew(r#"{"workers": 0}"#),
            "`threadward.workers`: must be a whole number, at least 1",
        ),
        (
            "overrides_counted",
            crew(r#"{"capacity": -1}"#),
            "`threadward.capacity`: must be a whole number, at least 1",
        ),
        (
            "overrides_counted",
            crew(r#"{"every": "1s"}"#),
            "`threadward.every`: the type is declared without `every`",
        ),
        (
            "overrides_counted",
            crew(r#"{"missed": "skip"}"#),
            "`threadward.missed`: the type is declared without `every`",
        ),
        (
            "overrides_counted",
            crew(r#"{"delay": "1s", "startup_timeout": "1s"}"#),
            "leave one of them out",
        ),
        (
            "overrides_counted",
            crew(r#"{"max_restarts": 3, "within": "1m"}"#),
            "`threadward.max_restarts` is about restarts: it needs `restart = \"on-failure\"`",
        ),
        (
            "overrides_counted",
            crew(r#"{"restart": "on-failure", "max_restarts": 3}"#),
            "`threadward.max_restarts` needs `within`",
        ),
        (
            "overrides_counted",
            crew(r#"{"restart": "on-failure", "within": "1m"}"#),
            "`threadward.within` needs `max_restarts`",
        ),
        (
            "overrides_counted",
            crew(r#"{"restart": "on-failure", "max_restarts": 0, "within": "1m"}"#),
            "`threadward.max_restarts`: must be a whole number from 1",
        ),
        (
            "overrides_counted",
            crew(r#"{"restart": "always"}"#),
            "`threadward.restart`: unknown policy `always`",
        ),
        (
            "overrides_poller",
            r#"{"threadward": {"missed": "sometimes"}}"#.into(),
            "`threadward.missed`: unknown policy `sometimes`",
        ),
        (
            "overrides_poller",
            r#"{"threadward": {"every": "1 s"}}"#.into(),
            "`threadward.every`: `1 s`: write a duration like",
        ),
        (
            "overrides_poller",
            r#"{"threadward": {"every": "0s"}}"#.into(),
            "longer than zero",
        ),
        (
            "overrides_poller",
            r#"{"threadward": {"every": 5}}"#.into(),
            "`threadward.every`: write a duration like",
        ),
        (
            "overrides_poller",
            r#"{"threadward": {}, "period": 5}"#.into(),
            "the type takes no settings",
        ),
    ]
}

#[test]
fn what_does_not_fit_names_the_key_and_makes_nothing() {
    let registry = Registry::new();
    for (name, json, says) in misfits() {
        let error = create_with_in(name, settings(&json), &registry).unwrap_err();
        assert!(
            matches!(error, CreateError::Settings { .. }),
            "{json}: {error:?}"
        );
        let text = error.to_string();
        assert!(
            text.starts_with(&format!("the settings of thread `{name}` do not fit: ")),
            "{text}"
        );
        assert!(
            text.contains(says),
            "{json}: `{text}` does not say `{says}`"
        );
    }
    assert!(registry.is_empty());
    // The declaration is checked before the factory runs.
    assert_eq!(COUNTED_MADE.load(Ordering::SeqCst), 0);
    // And what fits is made once.
    let fits = settings(r#"{"label": "crew", "threadward": {}}"#);
    let counted = create_with_in("overrides_counted", fits, &registry).unwrap();
    assert_eq!(COUNTED_MADE.load(Ordering::SeqCst), 1);
    counted.stop();
    counted.join().unwrap();
}
