//! `Shutdown`'s first step against real signals, each scenario in its own child process
//! (see `support`): threads stop in reverse start order, one after another; `on_stop`
//! hooks unblock a thread parked in `accept`; and a hook that blocks does not hold the
//! ladder up. Also: other signal handlers keep working, and once the shutdown is over
//! the signals take their default action again.

mod support;

use std::net::{TcpListener, TcpStream};
use std::os::unix::process::ExitStatusExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use support::{scenario, SayOnDrop, Scenario, WATCHDOG};
use threadward::{background_thread, BackgroundThread, BoxError, Context, Shutdown};

// ---------------------------------------------------------------- the parent's side

#[test]
fn threads_stop_in_reverse_start_order_and_on_stop_unblocks_accept() {
    let mut child = Scenario::start("scenario_order");
    child.wait_for("ready");
    child.signal("TERM");
    let (status, stderr) = child.exit_within(WATCHDOG);
    assert_eq!(status.code(), Some(0), "stderr: {stderr}");
    // Each thread's hooks run on a helper of their own, so their lines may interleave;
    // the threads' own ends come in stop order.
    let mut requested: Vec<&str> = child
        .stdout
        .iter()
        .filter_map(|l| l.strip_prefix("stop requested: "))
        .collect();
    requested.sort_unstable();
    assert_eq!(requested, ["first", "middle", "server"], "every hook ran");
    let ended: Vec<&str> = child
        .stdout
        .iter()
        .filter_map(|l| l.strip_prefix("ended: "))
        .collect();
    assert_eq!(ended, ["server", "middle", "first"]);
    // One after another: each is asked only once the one started after it has ended.
    let at = |line: &str| {
        child
            .stdout
            .iter()
            .position(|l| l == line)
            .unwrap_or_else(|| panic!("no `{line}`: {:#?}", child.stdout))
    };
    assert!(at("ended: server") < at("stop requested: middle"));
    assert!(at("ended: middle") < at("stop requested: first"));
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
fn a_blocking_on_stop_hook_does_not_keep_the_second_signal_from_halting() {
    let mut child = Scenario::start("scenario_blocking_hook");
    child.wait_for("ready");
    child.signal("INT");
    child.wait_for("hook entered");
    child.signal("INT");
    child.wait_for_within("halted", Duration::from_secs(5));
    let (status, stderr) = child.exit_within(Duration::from_secs(5));
    assert_eq!(status.code(), Some(130), "halted is not clean; {stderr}");
    assert!(
        child.stdout.iter().any(|l| l == "report: halted"),
        "{stderr}"
    );
}

/// Runs `scenario` until it prints `ready`, sends `signal` and expects it to kill the
/// child: the signal's default action.
fn assert_killed_by(scenario: &str, ready: &str, signal: &str, number: i32) {
    let mut child = Scenario::start(scenario);
    child.wait_for(ready);
    child.signal(signal);
    let (status, stderr) = child.exit_within(Duration::from_secs(10));
    assert_eq!(
        status.signal(),
        Some(number),
        "killed by SIG{signal}: {status:?}; {stderr}"
    );
}

#[test]
fn after_wait_returns_a_sigint_ends_the_process() {
    assert_killed_by("scenario_default_after_wait", "cleaning up", "INT", 2);
}

#[test]
fn a_later_shutdown_on_other_signals_keeps_sigint_ending_the_process() {
    assert_killed_by("scenario_default_after_another", "cleaning up", "INT", 2);
}

#[test]
fn after_the_handle_is_dropped_a_sigterm_ends_the_process() {
    assert_killed_by("scenario_default_after_drop", "dropped", "TERM", 15);
}

// ---------------------------------------------------------------- the children

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
    fn shutdown(&mut self, _ctx: &Context) {
        println!("ended: {}", self.label);
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
    fn shutdown(&mut self, _ctx: &Context) {
        println!("ended: server");
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

/// Loops through checkpoints for ever; its `on_stop` hook blocks for minutes.
#[background_thread(name = "hooked")]
struct Hooked;

impl BackgroundThread for Hooked {
    type Task = ();
    fn startup(&mut self, ctx: &Context) -> Result<(), BoxError> {
        ctx.on_stop(|| {
            println!("hook entered");
            std::thread::sleep(Duration::from_secs(300));
        });
        Ok(())
    }
    fn handle(&mut self, (): (), ctx: &Context) -> Result<(), BoxError> {
        let _halted = SayOnDrop("halted");
        println!("ready");
        loop {
            ctx.checkpoint();
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

#[test]
fn scenario_blocking_hook() {
    if !scenario("scenario_blocking_hook") {
        return;
    }
    let hooked = Hooked.spawn().unwrap();
    let shutdown = Shutdown::on_signals()
        .grace(Duration::from_secs(100))
        .install()
        .unwrap();
    hooked.send(()).unwrap();
    let report = shutdown.wait();
    println!("report: {}", report.threads()[0].outcome());
    std::process::exit(report.exit_code());
}

#[test]
fn scenario_default_after_wait() {
    if !scenario("scenario_default_after_wait") {
        return;
    }
    let shutdown = Shutdown::on_signals()
        .registry(&threadward::Registry::new())
        .install()
        .unwrap();
    shutdown.trigger();
    let report = shutdown.wait();
    assert!(report.is_clean());
    println!("cleaning up");
    std::thread::sleep(WATCHDOG);
    std::process::exit(99);
}

#[test]
fn scenario_default_after_drop() {
    if !scenario("scenario_default_after_drop") {
        return;
    }
    let shutdown = Shutdown::on_signals().install().unwrap();
    drop(shutdown);
    println!("dropped");
    std::thread::sleep(WATCHDOG);
    std::process::exit(99);
}

#[test]
fn scenario_default_after_another() {
    if !scenario("scenario_default_after_another") {
        return;
    }
    let registry = threadward::Registry::new();
    let shutdown = Shutdown::on_signals()
        .registry(&registry)
        .install()
        .unwrap();
    shutdown.trigger();
    shutdown.wait();
    // A second shutdown, on SIGHUP only: SIGINT keeps its default action.
    let later = Shutdown::without_signals()
        .signal(threadward::signal::SIGHUP)
        .registry(&registry)
        .install()
        .unwrap();
    drop(later);
    println!("cleaning up");
    std::thread::sleep(WATCHDOG);
    std::process::exit(99);
}
