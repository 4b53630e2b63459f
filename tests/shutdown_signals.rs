//! `Shutdown`'s ladder against real signals, each scenario in its own child process
//! (see `support`): the first signal stops and drains, the second halts, the third
//! exits naming the stuck threads and what they abandon; and the ladder on its timers.

mod support;

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use support::{assert_books, scenario, SayOnDrop, Scenario, WATCHDOG};
use threadward::{background_thread, BackgroundThread, BoxError, Context, Shutdown};

// ---------------------------------------------------------------- the parent's side

#[test]
fn sigterm_with_a_million_tasks_queued_handles_every_one_once() {
    let mut child = Scenario::start("scenario_million");
    child.wait_for("ready");
    child.signal("TERM");
    let (status, stderr) = child.exit_within(WATCHDOG);
    assert_eq!(status.code(), Some(0), "stderr: {stderr}");
    let handled = child.ids("handled ");
    assert_books(&handled, &[], 1_000_000);
}

#[test]
fn a_second_sigint_halts_and_the_queue_comes_back() {
    let mut child = Scenario::start("scenario_halt");
    child.wait_for("ready");
    child.signal("INT");
    child.wait_for("stop requested");
    child.signal("INT");
    let (status, stderr) = child.exit_within(WATCHDOG);
    assert_eq!(
        status.code(),
        Some(130),
        "halted is not clean: 128 + SIGINT; {stderr}"
    );
    let handled = child.ids("handled ");
    let returned = child.ids("returned ");
    assert!(!returned.is_empty(), "tasks were still queued");
    assert_books(&handled, &returned, 1_000);

    // The report's row agrees with what the parent counted itself.
    let row = child
        .stdout
        .iter()
        .find(|l| l.starts_with("  cruncher "))
        .unwrap_or_else(|| panic!("no report row: {:#?}", child.stdout));
    // thread, id, parent, outcome, handled, undelivered, stop took
    let columns: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(columns[2], "-", "no parent: {row}");
    assert_eq!(columns[3], "halted", "{row}");
    assert_eq!(
        columns[4],
        handled.len().to_string(),
        "handled column: {row}"
    );
    assert_eq!(
        columns[5],
        returned.len().to_string(),
        "undelivered column: {row}"
    );
}

#[test]
fn a_third_sigint_exits_at_once_naming_the_stuck_thread() {
    let mut child = Scenario::start("scenario_stuck");
    child.wait_for("ready");
    child.signal("INT");
    // The last-started is asked first, and the cruncher only once it has ended: never.
    // Its `on_stop` hook then blocks for minutes, which must not hold the ladder up.
    child.wait_for("stubborn asked to stop");
    child.signal("INT");
    child.wait_for_within("halt requested", Duration::from_secs(5));
    // The halt ends the cruncher, and wakes the quiet thread, which ends too.
    child.seen_within("cruncher ended", Duration::from_secs(5));
    child.seen_within("quiet ended", Duration::from_secs(5));
    child.signal("INT");
    let (status, stderr) = child.exit_within(Duration::from_secs(5));
    assert_eq!(status.code(), Some(130), "stderr: {stderr}");
    // Only a thread that has not ended is stuck: the cruncher ended when halted.
    assert!(
        stderr.contains("2 ended, 1 stuck (64 queued abandoned)"),
        "{stderr}"
    );
    assert!(!stderr.contains("STUCK cruncher"), "{stderr}");
    let line = stderr
        .lines()
        .find(|l| l.contains("STUCK stubborn"))
        .unwrap_or_else(|| panic!("no stuck line: {stderr}"));
    assert!(
        line.contains(
            "(stopping), 64 queued abandoned, last checkpoint tests/shutdown_signals.rs:"
        ),
        "the report says what it abandons and where it was last seen: {line}"
    );
    assert!(line.ends_with(" ago)"), "and how long ago: {line}");
}

#[test]
fn sigterm_during_startup_never_runs_handle_and_shuts_down_once() {
    let mut child = Scenario::start("scenario_startup");
    child.wait_for("in startup");
    child.signal("TERM");
    let (status, stderr) = child.exit_within(WATCHDOG);
    assert_eq!(status.code(), Some(0), "stderr: {stderr}");
    assert!(
        !child.stdout.iter().any(|l| l == "handle ran"),
        "{:#?}",
        child.stdout
    );
    let shutdowns = child.stdout.iter().filter(|l| *l == "shutdown ran").count();
    assert_eq!(shutdowns, 1, "{:#?}", child.stdout);
}

#[test]
fn without_signals_the_ladder_runs_on_its_timers() {
    let mut child = Scenario::start("scenario_timers");
    child.wait_for("ready");
    // grace and halt_grace are 200 ms each: no signal needed to reach the exit, and the
    // stubborn thread's `on_stop` hook, which blocks for minutes, does not delay it.
    let (status, stderr) = child.exit_within(Duration::from_secs(10));
    assert_eq!(
        status.code(),
        Some(1),
        "no signal involved: exit code 1; {stderr}"
    );
    assert!(stderr.contains("shutdown on trigger"), "{stderr}");
    assert!(stderr.contains("STUCK stubborn"), "{stderr}");
}
// ---------------------------------------------------------------- the children

/// Holds the first task until a stop is requested, so that the rest stays queued.
#[background_thread(name = "sink")]
#[derive(Default)]
struct Sink {
    handled: Vec<u64>,
    release: Option<mpsc::Receiver<()>>,
}

impl BackgroundThread for Sink {
    type Task = u64;
    fn startup(&mut self, ctx: &Context) -> Result<(), BoxError> {
        let (tx, rx) = mpsc::channel();
        self.release = Some(rx);
        ctx.on_stop(move || {
            println!("stop requested");
            let _ = tx.send(());
        });
        Ok(())
    }
    fn handle(&mut self, id: u64, _ctx: &Context) -> Result<(), BoxError> {
        if let Some(release) = self.release.take() {
            let _ = release.recv();
        }
        self.handled.push(id);
        Ok(())
    }
    fn shutdown(&mut self, _ctx: &Context) {
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        for id in &self.handled {
            let _ = writeln!(out, "handled {id}");
        }
    }
}

#[test]
fn scenario_million() {
    if !scenario("scenario_million") {
        return;
    }
    let sink = Sink::default().spawn().unwrap();
    let shutdown = Shutdown::on_signals()
        .grace(Duration::from_secs(100))
        .install()
        .unwrap();
    for id in 0..1_000_000 {
        sink.send(id).unwrap();
    }
    println!("ready");
    let report = shutdown.wait();
    let exit = sink.join().unwrap();
    assert!(exit.undelivered().is_empty());
    std::process::exit(report.exit_code());
}

/// Loops through checkpoints for ever on its first task: only a halt ends it.
#[background_thread(name = "cruncher")]
#[derive(Default)]
struct Cruncher {
    spinning: bool,
}

impl BackgroundThread for Cruncher {
    type Task = u64;
    fn startup(&mut self, ctx: &Context) -> Result<(), BoxError> {
        ctx.on_stop(|| println!("stop requested"));
        Ok(())
    }
    fn handle(&mut self, id: u64, ctx: &Context) -> Result<(), BoxError> {
        println!("handled {id}");
        if !self.spinning {
            self.spinning = true;
            let _halted = SayOnDrop("halt requested");
            loop {
                ctx.checkpoint();
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        Ok(())
    }
}

#[test]
fn scenario_halt() {
    if !scenario("scenario_halt") {
        return;
    }
    let cruncher = Cruncher::default().spawn().unwrap();
    let shutdown = Shutdown::on_signals()
        .grace(Duration::from_secs(100))
        .install()
        .unwrap();
    for id in 0..1_000 {
        cruncher.send(id).unwrap();
    }
    println!("ready");
    let report = shutdown.wait();
    let exit = cruncher.join().unwrap();
    for id in exit.undelivered() {
        println!("returned {id}");
    }
    print!("{report}");
    std::process::exit(report.exit_code());
}

/// Passes one checkpoint, says it is ready, then spins without ever checking again.
#[background_thread(name = "stubborn")]
#[derive(Default)]
struct Stubborn;

impl BackgroundThread for Stubborn {
    type Task = ();
    fn startup(&mut self, ctx: &Context) -> Result<(), BoxError> {
        ctx.on_stop(|| {
            println!("stubborn asked to stop");
            // A hook that blocks, like a connect to a dead peer.
            std::thread::sleep(Duration::from_secs(300));
        });
        Ok(())
    }
    fn handle(&mut self, (): (), ctx: &Context) -> Result<(), BoxError> {
        ctx.checkpoint();
        println!("ready");
        let never = AtomicBool::new(false);
        while !never.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(1));
        }
        Ok(())
    }
}

/// Does nothing: ends as soon as it is asked to stop.
#[background_thread(name = "quiet")]
struct Quiet;

impl BackgroundThread for Quiet {
    type Task = ();
    fn handle(&mut self, (): (), _ctx: &Context) -> Result<(), BoxError> {
        Ok(())
    }
}

#[test]
fn scenario_stuck() {
    if !scenario("scenario_stuck") {
        return;
    }
    let cruncher = Cruncher::default().spawn().unwrap();
    cruncher.send(0).unwrap();
    let quiet = Quiet.spawn().unwrap();
    // Say when the halted threads have ended, so that the parent's third signal comes
    // after that whatever the scheduling.
    for (handle, ended) in [
        (cruncher.to_any(), "cruncher ended"),
        (quiet.to_any(), "quiet ended"),
    ] {
        std::thread::spawn(move || {
            let _ = handle.join();
            println!("{ended}");
        });
    }
    let stubborn = Stubborn.spawn().unwrap();
    let shutdown = Shutdown::on_signals()
        .grace(Duration::from_secs(100))
        .halt_grace(Duration::from_secs(100))
        .install()
        .unwrap();
    // One task it spins on, and 64 queued behind it that the exit abandons.
    for _ in 0..65 {
        stubborn.send(()).unwrap();
    }
    // The third signal ends the process from inside `wait`.
    let report = shutdown.wait();
    eprintln!("wait returned: {report}");
    std::process::exit(99);
}

/// Waits in `startup` until a stop is requested.
#[background_thread(name = "slow-starter")]
#[derive(Default)]
struct SlowStarter;

impl BackgroundThread for SlowStarter {
    type Task = ();
    fn startup(&mut self, ctx: &Context) -> Result<(), BoxError> {
        let (tx, rx) = mpsc::channel();
        ctx.on_stop(move || {
            let _ = tx.send(());
        });
        println!("in startup");
        let _ = rx.recv();
        Ok(())
    }
    fn handle(&mut self, (): (), _ctx: &Context) -> Result<(), BoxError> {
        println!("handle ran");
        Ok(())
    }
    fn shutdown(&mut self, _ctx: &Context) {
        println!("shutdown ran");
    }
}

#[test]
fn scenario_startup() {
    if !scenario("scenario_startup") {
        return;
    }
    let shutdown = Shutdown::on_signals().install().unwrap();
    let spawner = std::thread::spawn(|| {
        if let Ok(handle) = SlowStarter.spawn() {
            let _ = handle.send(()); // refused: it is already stopping
            let _ = handle.join();
        }
    });
    let report = shutdown.wait();
    spawner.join().unwrap();
    std::process::exit(report.exit_code());
}

#[test]
fn scenario_timers() {
    if !scenario("scenario_timers") {
        return;
    }
    let stubborn = Stubborn.spawn().unwrap();
    stubborn.send(()).unwrap(); // prints "ready" once it spins
    let shutdown = Shutdown::without_signals()
        .grace(Duration::from_millis(200))
        .halt_grace(Duration::from_millis(200))
        .install()
        .unwrap();
    shutdown.trigger();
    let report = shutdown.wait();
    eprintln!("wait returned: {report}");
    std::process::exit(99);
}
