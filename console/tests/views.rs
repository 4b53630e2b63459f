//! What the console makes of the threads over time: a stuck thread marked with where it
//! is (and a thread that blocks by design not), rates, recent exits, and a slow client
//! that holds up nobody.

mod support;

use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::{events, eventually, get, thread, BOUND};
use threadward::{background_thread, BackgroundThread, BoxError, Context, Registry};
use threadward_console::{Console, Running};

fn console(registry: &Registry, stuck_after: Duration) -> Running {
    Console::bind("127.0.0.1:0")
        .registry(registry)
        .interval(Duration::from_millis(20))
        .stuck_after(stuck_after)
        .spawn()
        .expect("the console starts")
}

/// Passes one checkpoint, then spins without another until released.
#[background_thread]
struct Spinner {
    release: Arc<AtomicBool>,
    /// Passes a checkpoint every millisecond instead: busy, but making progress.
    progressing: bool,
}

impl BackgroundThread for Spinner {
    type Task = ();

    fn handle(&mut self, (): (), _ctx: &Context) -> Result<(), BoxError> {
        threadward::checkpoint();
        while !self.release.load(Ordering::SeqCst) {
            if self.progressing {
                threadward::checkpoint();
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        Ok(())
    }
}

/// Hosts a "server" in one task, stopped through the `on_stop` hook the task registers;
/// or, `early`, registers its hook in `startup` (a clean-up, say) and then blocks in its
/// task all the same: that says nothing of the task, which is stuck.
#[background_thread]
struct Server {
    early: bool,
}

impl BackgroundThread for Server {
    type Task = ();

    fn startup(&mut self, ctx: &Context) -> Result<(), BoxError> {
        if self.early {
            ctx.on_stop(|| {});
        }
        Ok(())
    }

    fn handle(&mut self, (): (), ctx: &Context) -> Result<(), BoxError> {
        if !self.early {
            ctx.on_stop(|| {});
        }
        // Blocked as in `accept`: no checkpoint passed.
        while !ctx.is_stopping() {
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(())
    }
}

#[test]
fn a_thread_stuck_on_one_task_is_marked_with_where_it_is_and_a_server_is_not() {
    let registry = Registry::new();
    let stuck_after = Duration::from_millis(300);
    let console = console(&registry, stuck_after);
    let release = Arc::new(AtomicBool::new(false));
    let stuck = Spinner {
        release: Arc::clone(&release),
        progressing: false,
    }
    .spawn_in(&registry)
    .unwrap();
    let busy = Spinner {
        release: Arc::clone(&release),
        progressing: true,
    }
    .spawn_in(&registry)
    .unwrap();
    let server = Server { early: false }.spawn_in(&registry).unwrap();
    let early = Server { early: true }.spawn_in(&registry).unwrap();
    let started = Instant::now();
    stuck.send(()).unwrap();
    busy.send(()).unwrap();
    server.send(()).unwrap();
    early.send(()).unwrap();
    let by_id = |snapshot: &serde_json::Value, id: u64| {
        snapshot["threads"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["id"] == id)
            .cloned()
    };
    let (stuck_id, busy_id, server_id, early_id) = (
        stuck.id().as_u64(),
        busy.id().as_u64(),
        server.id().as_u64(),
        early.id().as_u64(),
    );
    let mut stream = events(console.address(), &[]);
    let seen = stream.until(|s| by_id(s, stuck_id).is_some_and(|t| t["stuck"] == true));
    assert!(
        started.elapsed() >= stuck_after,
        "marked before the threshold"
    );
    let record = by_id(&seen, stuck_id).unwrap();
    assert_eq!(record["last_checkpoint"]["file"], file!(), "{record}");
    assert!(record["task_ms"].as_f64().unwrap() >= 300.0, "{record}");
    assert_eq!(record["idle"], false);
    // Still some time later: a thread passing checkpoints, and a server blocking by
    // design, are busy as long but not stuck.
    let later = stream.until(|s| {
        by_id(s, busy_id)
            .and_then(|t| t["task_ms"].as_f64())
            .is_some_and(|ms| ms >= 900.0)
            && by_id(s, server_id)
                .and_then(|t| t["task_ms"].as_f64())
                .is_some_and(|ms| ms >= 900.0)
    });
    assert_eq!(by_id(&later, busy_id).unwrap()["stuck"], false);
    let server_seen = by_id(&later, server_id).unwrap();
    assert_eq!(server_seen["stuck"], false, "{server_seen}");
    assert_eq!(server_seen["blocks_by_design"], true, "{server_seen}");
    assert_eq!(by_id(&later, stuck_id).unwrap()["stuck"], true);
    // A hook from `startup` is no licence to block: that one is stuck.
    let early_seen = stream.until(|s| by_id(s, early_id).is_some_and(|t| t["stuck"] == true));
    let early_record = by_id(&early_seen, early_id).unwrap();
    assert_eq!(early_record["blocks_by_design"], false, "{early_record}");
    assert_eq!(early_record["on_stop"], true, "{early_record}");
    release.store(true, Ordering::SeqCst);
    let after = stream.until(|s| by_id(s, stuck_id).is_some_and(|t| t["idle"] == true));
    assert_eq!(by_id(&after, stuck_id).unwrap()["stuck"], false);
    for handle in [stuck, busy] {
        handle.stop();
        handle.join().unwrap();
    }
    for handle in [server, early] {
        handle.stop();
        handle.join().unwrap();
    }
    console.handle().stop();
    console.handle().join_timeout(BOUND).unwrap();
}

/// Fails at once with markup in its error, after taking its queue's tasks.
#[background_thread(capacity = 8)]
struct Crasher;

impl BackgroundThread for Crasher {
    type Task = u32;

    fn handle(&mut self, _: u32, _ctx: &Context) -> Result<(), BoxError> {
        Err("disk <b>full</b>".into())
    }
}

#[test]
fn a_thread_that_ends_between_two_updates_is_in_the_recent_exits() {
    let registry = Registry::new();
    let console = Console::bind("127.0.0.1:0")
        .registry(&registry)
        .interval(Duration::from_secs(3600))
        .spawn()
        .unwrap();
    let crasher = Crasher.spawn_in(&registry).unwrap();
    let id = crasher.id().as_u64();
    for task in 0..3 {
        crasher.send(task).unwrap();
    }
    let exit = crasher.join().unwrap();
    assert_eq!(exit.undelivered().len(), 2);
    // The updates are an hour apart: the exit waits for the next, and is in it. A
    // stop makes one.
    let mut stream = events(console.address(), &[]);
    stream.next().unwrap();
    console.handle().stop();
    let last = stream.until(|s| !s["exits"].as_array().unwrap().is_empty());
    let exits = last["exits"].as_array().unwrap();
    let recorded = exits.iter().find(|x| x["id"] == id).expect("the crash");
    assert_eq!(recorded["clean"], false);
    assert_eq!(recorded["undelivered"], 2);
    assert!(
        recorded["outcome"]
            .as_str()
            .unwrap()
            .contains("disk <b>full</b>"),
        "{recorded}"
    );
    console.handle().join_timeout(BOUND).unwrap();
}

#[test]
fn rates_and_history_follow_the_work() {
    let registry = Registry::new();
    let console = console(&registry, Duration::from_secs(5));
    let counter = threadward::thread("counter")
        .spawn_in(&registry, |ctx: &Context| {
            ctx.sleep(Duration::from_secs(600));
            Ok(())
        })
        .unwrap();
    let snapshot = eventually(
        || get(console.address(), "/threads").json(),
        |s| thread(s, "counter").is_some(),
    );
    let history = thread(&snapshot, "counter").unwrap()["history"]
        .as_array()
        .unwrap()
        .len();
    assert!(history >= 1, "{snapshot}");
    counter.stop();
    counter.join().unwrap();
    console.handle().stop();
    console.handle().join_timeout(BOUND).unwrap();
}

#[test]
fn a_client_that_stops_reading_is_dropped_and_delays_no_other() {
    let registry = Registry::new();
    // Large updates, often: a client that reads nothing fills its socket's buffers fast.
    let sleepers: Vec<_> = (0..200)
        .map(|_| {
            threadward::thread("a-thread-with-a-rather-long-name-to-make-updates-larger")
                .spawn_in(&registry, |ctx: &Context| {
                    ctx.sleep(Duration::from_secs(600));
                    Ok(())
                })
                .unwrap()
        })
        .collect();
    let console = Console::bind("127.0.0.1:0")
        .registry(&registry)
        .interval(Duration::from_millis(5))
        .limits(threadward_console::server::Limits::default().timeout(Duration::from_millis(500)))
        .spawn()
        .unwrap();
    let mut stalled = events(console.address(), &[]);
    let mut reader = events(console.address(), &[]);
    // The other client gets update after update, never waiting long, while the stalled
    // one's buffers fill and its write times out.
    let start = Instant::now();
    let mut longest = Duration::ZERO;
    let mut last = Instant::now();
    while start.elapsed() < Duration::from_secs(3) {
        reader.next().expect("updates");
        longest = longest.max(last.elapsed());
        last = Instant::now();
    }
    assert!(
        longest < Duration::from_secs(2),
        "an update took {longest:?}"
    );
    // The stalled client was dropped: what it finds buffered ends, and the connection
    // is closed (not held open for ever).
    let mut sink = vec![0; 1 << 16];
    let drained = Instant::now();
    loop {
        match stalled.reader.get_mut().read(&mut sink) {
            Ok(0) => break,
            Ok(_) => assert!(
                drained.elapsed() < BOUND,
                "the stalled client was never dropped"
            ),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                panic!("the stalled client's connection was left open")
            }
            // Reset: closed with data it never read.
            Err(_) => break,
        }
    }
    drop(reader);
    for sleeper in &sleepers {
        sleeper.stop();
    }
    for sleeper in sleepers {
        sleeper.join().unwrap();
    }
    console.handle().stop();
    console.handle().join_timeout(BOUND).unwrap();
}

#[test]
fn a_thread_ticking_back_to_back_is_busy_but_never_stuck() {
    let registry = Registry::new();
    let console = console(&registry, Duration::from_millis(300));
    // Each run takes longer than the period: the next begins at once, without a wait.
    let ticker = threadward::thread("ticker")
        .every(Duration::from_millis(10))
        .spawn_in(&registry, |_ctx: &Context| {
            std::thread::sleep(Duration::from_millis(20));
            Ok(())
        })
        .unwrap();
    let id = ticker.id().as_u64();
    let started = Instant::now();
    let mut stream = events(console.address(), &[]);
    while started.elapsed() < Duration::from_millis(1500) {
        let update = stream.until(|_| true);
        let Some(record) = update["threads"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["id"] == id)
        else {
            continue;
        };
        assert_eq!(record["stuck"], false, "{record}");
        let on_task = record["task_ms"].as_f64().unwrap_or(0.0);
        assert!(on_task < 300.0, "one run counted as a task of {on_task} ms");
    }
    ticker.stop();
    ticker.join_timeout(BOUND).unwrap();
    console.handle().stop();
    console.handle().join_timeout(BOUND).unwrap();
}
