//! The child's side of `during_a_shutdown_the_ladder_is_shown_to_the_report`: a
//! process with a console, a thread that drains its queue once stopped, and one that
//! ignores the stop until halted, waiting for SIGTERM.

use std::time::{Duration, Instant};

use threadward::{background_thread, BackgroundThread, BoxError, Context};
use threadward_console::Console;

use crate::browser_support::scenario;

/// Holds its first task until it is stopped; then takes 25 ms per task.
#[background_thread(name = "drainer", capacity = 100)]
struct Drainer;

impl BackgroundThread for Drainer {
    type Task = u32;

    fn handle(&mut self, task: u32, ctx: &Context) -> Result<(), BoxError> {
        while task == 0 && !ctx.is_stopping() {
            ctx.sleep(Duration::from_millis(10));
        }
        std::thread::sleep(Duration::from_millis(25));
        Ok(())
    }
}

/// Ignores a stop: spins without a checkpoint until 5 s after the stop, then passes
/// checkpoints (a halt unwinds it there).
#[background_thread(name = "stubborn")]
struct Stubborn;

impl BackgroundThread for Stubborn {
    type Task = ();

    fn handle(&mut self, (): (), ctx: &Context) -> Result<(), BoxError> {
        threadward::checkpoint();
        let mut stopped_at = None;
        loop {
            std::thread::sleep(Duration::from_millis(1));
            if ctx.is_stopping() {
                let at = *stopped_at.get_or_insert_with(Instant::now);
                if at.elapsed() > Duration::from_secs(5) {
                    threadward::checkpoint();
                }
            }
        }
    }
}

#[test]
fn scenario_shutdown() {
    if !scenario("shutdown_child::scenario_shutdown") {
        return;
    }
    let shutdown = threadward::Shutdown::on_signals()
        .grace(Duration::from_secs(3))
        .halt_grace(Duration::from_secs(30))
        .stop_order(threadward::StopOrder::AllAtOnce)
        .install()
        .unwrap();
    let console = Console::bind("127.0.0.1:0")
        .stuck_after(Duration::from_millis(500))
        .spawn()
        .unwrap();
    let drainer = Drainer.spawn().unwrap();
    let stubborn = Stubborn.spawn().unwrap();
    stubborn.send(()).unwrap();
    for task in 0..100 {
        drainer.send(task).unwrap();
    }
    println!("console on {}", console.url());
    let report = shutdown.wait();
    print!("{report}");
    std::process::exit(0);
}
