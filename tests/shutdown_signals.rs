//! `Shutdown` against real signals, each scenario in its own child process: the parent
//! test re-runs this binary with `--exact scenario_…` and `THREADWARD_SCENARIO` set,
//! sends signals with `kill`, and checks the child's output itself — the ids it handled
//! and returned, its exit code, what it printed to stderr — rather than trusting the
//! child's summary. Without `THREADWARD_SCENARIO`, the `scenario_…` tests do nothing.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use threadward::{background_thread, BackgroundThread, BoxError, Context, Shutdown};

const WATCHDOG: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------- the parent's side

/// A running child scenario; killed if the test fails before it exits.
struct Scenario {
    child: Child,
    lines: mpsc::Receiver<String>,
    stderr: mpsc::Receiver<String>,
    stdout: Vec<String>,
}

impl Scenario {
    fn start(name: &str) -> Self {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                name,
                "--nocapture",
                "--quiet",
                "--test-threads=1",
            ])
            .env("THREADWARD_SCENARIO", name)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the scenario");
        let (line_tx, lines) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line_tx.send(line).is_err() {
                    break;
                }
            }
        });
        let (err_tx, stderr) = mpsc::channel();
        let mut err_pipe = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            let mut all = String::new();
            let _ = err_pipe.read_to_string(&mut all);
            let _ = err_tx.send(all);
        });
        Self {
            child,
            lines,
            stderr,
            stdout: Vec::new(),
        }
    }

    /// Reads stdout until a line equal to `wanted`.
    fn wait_for(&mut self, wanted: &str) {
        let deadline = Instant::now() + WATCHDOG;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let found = line == wanted;
                    self.stdout.push(line);
                    if found {
                        return;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout | mpsc::RecvTimeoutError::Disconnected) => {
                    panic!("no `{wanted}` from the child; stdout: {:#?}", self.stdout)
                }
            }
        }
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([format!("-{signal}"), self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
    }

    /// Waits for the exit (at most `within`), then collects all output.
    fn exit_within(&mut self, within: Duration) -> (ExitStatus, String) {
        let asked = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                asked.elapsed() < within,
                "the child did not exit within {within:?}; stdout so far: {:#?}",
                self.stdout
            );
            std::thread::sleep(Duration::from_millis(5));
        };
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(10)) {
            self.stdout.push(line);
        }
        let stderr = self
            .stderr
            .recv_timeout(Duration::from_secs(10))
            .unwrap_or_default();
        (status, stderr)
    }

    fn ids(&self, prefix: &str) -> Vec<u64> {
        self.stdout
            .iter()
            .filter_map(|line| line.strip_prefix(prefix))
            .map(|id| id.parse().expect("an id"))
            .collect()
    }
}

impl Drop for Scenario {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Checks that `handled` and `returned` together are exactly `0..sent`, none twice.
fn assert_books(handled: &[u64], returned: &[u64], sent: u64) {
    let mut seen = HashSet::new();
    for id in handled.iter().chain(returned) {
        assert!(seen.insert(*id), "task {id} came back twice");
    }
    assert_eq!(seen.len() as u64, sent, "every task is handled or returned");
    assert!(seen.iter().all(|id| *id < sent));
}

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
    let columns: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(columns[2], "halted", "{row}");
    assert_eq!(
        columns[3],
        handled.len().to_string(),
        "handled column: {row}"
    );
    assert_eq!(
        columns[4],
        returned.len().to_string(),
        "returned column: {row}"
    );
}

#[test]
fn a_third_sigint_exits_at_once_naming_the_stuck_thread() {
    let mut child = Scenario::start("scenario_stuck");
    child.wait_for("ready");
    child.signal("INT");
    child.wait_for("stop requested");
    child.signal("INT");
    child.wait_for("halt requested");
    child.signal("INT");
    let (status, stderr) = child.exit_within(Duration::from_secs(1));
    assert_eq!(status.code(), Some(130), "stderr: {stderr}");
    assert!(stderr.contains("STUCK stubborn"), "{stderr}");
    let line = stderr
        .lines()
        .find(|l| l.contains("STUCK stubborn"))
        .unwrap();
    assert!(
        line.contains("last checkpoint tests/shutdown_signals.rs:"),
        "the report says where it was last seen: {line}"
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
fn threads_stop_in_reverse_start_order_and_on_stop_unblocks_accept() {
    let mut child = Scenario::start("scenario_order");
    child.wait_for("ready");
    child.signal("TERM");
    let (status, stderr) = child.exit_within(WATCHDOG);
    assert_eq!(status.code(), Some(0), "stderr: {stderr}");
    let requested: Vec<&str> = child
        .stdout
        .iter()
        .filter_map(|l| l.strip_prefix("stop requested: "))
        .collect();
    assert_eq!(requested, ["server", "middle", "first"]);
    let reported: Vec<&str> = child
        .stdout
        .iter()
        .filter_map(|l| l.strip_prefix("report: "))
        .collect();
    assert_eq!(
        reported,
        ["server", "middle", "first"],
        "the report keeps stop order"
    );
}

#[test]
fn installing_twice_is_an_error_and_other_signal_handlers_keep_working() {
    let mut child = Scenario::start("scenario_coexist");
    child.wait_for("ready");
    child.signal("TERM");
    let (status, stderr) = child.exit_within(WATCHDOG);
    assert_eq!(status.code(), Some(0), "stderr: {stderr}");
    assert!(child
        .stdout
        .contains(&"second install: AlreadyInstalled".to_owned()));
    assert!(child
        .stdout
        .contains(&"own handler saw SIGTERM: true".to_owned()));
    assert!(child
        .stdout
        .contains(&"installed again after the first ended".to_owned()));
}

#[test]
fn without_signals_the_ladder_runs_on_its_timers() {
    let mut child = Scenario::start("scenario_timers");
    child.wait_for("ready");
    // grace and halt_grace are 200 ms each: no signal needed to reach the exit.
    let (status, stderr) = child.exit_within(WATCHDOG);
    assert_eq!(
        status.code(),
        Some(1),
        "no signal involved: exit code 1; {stderr}"
    );
    assert!(stderr.contains("shutdown on trigger"), "{stderr}");
    assert!(stderr.contains("STUCK stubborn"), "{stderr}");
}

// ---------------------------------------------------------------- the children

fn scenario(name: &str) -> bool {
    std::env::var("THREADWARD_SCENARIO").as_deref() == Ok(name)
}

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

/// Prints a line when dropped: tells the parent that a halt unwound the thread.
struct SayOnDrop(&'static str);

impl Drop for SayOnDrop {
    fn drop(&mut self) {
        println!("{}", self.0);
    }
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

#[test]
fn scenario_stuck() {
    if !scenario("scenario_stuck") {
        return;
    }
    let cruncher = Cruncher::default().spawn().unwrap();
    cruncher.send(0).unwrap();
    let stubborn = Stubborn.spawn().unwrap();
    let shutdown = Shutdown::on_signals()
        .grace(Duration::from_secs(100))
        .halt_grace(Duration::from_secs(100))
        .install()
        .unwrap();
    stubborn.send(()).unwrap();
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

/// Says when it is asked to stop.
#[background_thread(name = "first")]
#[derive(Default)]
struct Announcer {
    label: &'static str,
}

impl BackgroundThread for Announcer {
    type Task = ();
    fn startup(&mut self, ctx: &Context) -> Result<(), BoxError> {
        let label = self.label;
        ctx.on_stop(move || println!("stop requested: {label}"));
        Ok(())
    }
    fn handle(&mut self, (): (), _ctx: &Context) -> Result<(), BoxError> {
        Ok(())
    }
}

/// Serves a listener; `on_stop` connects to it so that `accept` returns.
#[background_thread(name = "server")]
#[derive(Default)]
struct Server;

impl BackgroundThread for Server {
    type Task = TcpListener;
    fn startup(&mut self, ctx: &Context) -> Result<(), BoxError> {
        ctx.on_stop(|| println!("stop requested: server"));
        Ok(())
    }
    fn handle(&mut self, listener: TcpListener, ctx: &Context) -> Result<(), BoxError> {
        let address = listener.local_addr()?;
        ctx.on_stop(move || drop(TcpStream::connect(address)));
        println!("ready");
        for stream in listener.incoming() {
            if ctx.is_stopping() {
                break;
            }
            drop(stream?);
        }
        Ok(())
    }
}

#[test]
fn scenario_order() {
    if !scenario("scenario_order") {
        return;
    }
    let first = Announcer { label: "first" }.spawn().unwrap();
    let middle = Announcer { label: "middle" }.spawn().unwrap();
    let server = Server.spawn().unwrap();
    let shutdown = Shutdown::on_signals().install().unwrap();
    server
        .send(TcpListener::bind("127.0.0.1:0").unwrap())
        .unwrap();
    let report = shutdown.wait();
    for thread in report.threads() {
        let label = if thread.id() == first.id() {
            "first"
        } else if thread.id() == middle.id() {
            "middle"
        } else {
            thread.name()
        };
        println!("report: {label}");
    }
    std::process::exit(report.exit_code());
}

#[test]
fn scenario_coexist() {
    if !scenario("scenario_coexist") {
        return;
    }
    let own = std::sync::Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGTERM, std::sync::Arc::clone(&own)).unwrap();
    let registry = threadward::Registry::new();
    let _announcer = Announcer { label: "first" }.spawn_in(&registry).unwrap();
    let shutdown = Shutdown::on_signals()
        .registry(&registry)
        .install()
        .unwrap();
    match Shutdown::on_signals().install() {
        Err(threadward::InstallError::AlreadyInstalled) => {
            println!("second install: AlreadyInstalled");
        }
        other => println!("second install: {other:?}"),
    }
    println!("ready");
    let report = shutdown.wait();
    println!("own handler saw SIGTERM: {}", own.load(Ordering::SeqCst));
    if Shutdown::without_signals().install().is_ok() {
        println!("installed again after the first ended");
    }
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
