//! Faults against a real `redis-server`: a consumer's connections killed (`CLIENT
//! KILL`), its group destroyed, a panic in `handle`, and Redis down for a while (the
//! worker's process stays near idle, then recovers).

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use serde_json::json;
use support::{enqueue, length, pending, wait_until, Redis, Worker};
use threadward::{background_thread, BackgroundThread, BoxError, Context};
use threadward_redis::{Producer, Stream};

/// Every task handled to its end, by any `Flaky` (a restart makes a fresh value).
static DONE: Mutex<Vec<String>> = Mutex::new(Vec::new());
/// Whether the task `panic` panicked once already.
static PANICKED: AtomicBool = AtomicBool::new(false);

#[background_thread(restart = "on-failure", backoff = "1ms")]
#[derive(Default)]
struct Flaky;

impl BackgroundThread for Flaky {
    type Task = String;
    fn handle(&mut self, task: String, _: &Context) -> Result<(), BoxError> {
        // Panics the first time it sees "panic", handles it the next.
        let first_panic = task == "panic" && !PANICKED.swap(true, Ordering::SeqCst);
        assert!(!first_panic, "asked to panic");
        DONE.lock().unwrap().push(task);
        Ok(())
    }
}

fn producer(redis: &Redis, key: &str) -> Producer<String> {
    Producer::connect(&redis.url())
        .unwrap()
        .key(key)
        .group("workers")
}

fn stream(redis: &Redis, key: &str) -> Stream<String> {
    Stream::connect(&redis.url())
        .unwrap()
        .key(key)
        .group("workers")
        .retry_backoff(Duration::from_millis(10))
}

fn done(task: &str) -> usize {
    DONE.lock().unwrap().iter().filter(|t| *t == task).count()
}

#[test]
fn a_panic_restarts_the_thread_and_its_entry_is_delivered_again() {
    let Some(redis) = Redis::start("a_panic_restarts_the_thread_and_its_entry_is_delivered_again")
    else {
        return;
    };
    let flaky = Flaky.spawn_with(stream(&redis, "panic")).unwrap();
    producer(&redis, "panic")
        .enqueue(&"panic".to_owned())
        .unwrap();
    wait_until("the entry handled after the panic", || done("panic") == 1);
    assert_eq!(flaky.info().restarts, 1);
    flaky.stop();
    let exit = flaky.join().unwrap();
    let counts = exit.report().source().unwrap().counts;
    assert_eq!(counts.acked, 1);
    let mut con = redis.connection();
    assert_eq!(pending(&mut con, "panic", "workers"), 0);
}

#[test]
fn a_consumer_recovers_when_its_connections_are_killed_or_its_group_destroyed() {
    let Some(redis) =
        Redis::start("a_consumer_recovers_when_its_connections_are_killed_or_its_group_destroyed")
    else {
        return;
    };
    let flaky = Flaky.spawn_with(stream(&redis, "kill")).unwrap();
    let producer = producer(&redis, "kill");
    producer.enqueue(&"first".to_owned()).unwrap();
    wait_until("the first", || done("first") == 1);
    let mut con = redis.connection();
    // Every other client: the consumer's reader and keeper (and the producer's).
    let killed: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("normal")
        .arg("SKIPME")
        .arg("yes")
        .query(&mut con)
        .unwrap();
    assert!(killed >= 2, "{killed}");
    // The producer's connection was killed too: its first enqueue says so, and the
    // next connects again.
    let second = "second".to_owned();
    producer
        .enqueue(&second)
        .or_else(|_| producer.enqueue(&second))
        .unwrap();
    wait_until("the second, after the kill", || done("second") == 1);
    // The group destroyed under it: created again, at the stream's start.
    let _: i64 = redis::cmd("XGROUP")
        .arg("DESTROY")
        .arg("kill")
        .arg("workers")
        .query(&mut con)
        .unwrap();
    producer.enqueue(&"third".to_owned()).unwrap();
    wait_until("the third, after the group was destroyed", || {
        done("third") == 1
    });
    assert!(flaky.info().source.unwrap().connected);
    flaky.stop();
    flaky.join().unwrap();
    assert_eq!(pending(&mut con, "kill", "workers"), 0);
}

/// CPU time (user and system) of process `pid` so far, in clock ticks, and the ticks
/// per second.
fn cpu_ticks(pid: u32) -> (u64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // The fields after the command's closing parenthesis: utime is the 12th, stime 13th.
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    let per_second = std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(100);
    (ticks, per_second)
}

#[test]
fn while_redis_is_down_a_worker_stays_near_idle_then_recovers() {
    let Some(mut redis) =
        Redis::start("while_redis_is_down_a_worker_stays_near_idle_then_recovers")
    else {
        return;
    };
    let mut worker = Worker::start(&redis, "down", &["--threads", "2"]);
    enqueue(&redis, "down", &[json!({"id": 1})]);
    wait_until("the first job", || worker.handled().contains(&1));
    redis.kill();
    std::thread::sleep(Duration::from_millis(300)); // the errors are seen
    let (before, per_second) = cpu_ticks(worker.pid());
    std::thread::sleep(Duration::from_secs(2));
    let (after, _) = cpu_ticks(worker.pid());
    // Reconnecting with backoff, not a busy loop: under 10 % of one core.
    assert!(
        (after - before) * 10 < per_second * 2,
        "{} ticks of {per_second}/s in 2 s while Redis was down",
        after - before
    );
    redis.restart();
    enqueue(&redis, "down", &[json!({"id": 2})]);
    wait_until("the job after Redis came back", || {
        worker.handled().contains(&2)
    });
    worker.signal("TERM");
    assert_eq!(worker.wait(), Some(0), "{:?}", worker.lines());
    let mut con = redis.connection();
    assert_eq!(length(&mut con, "down"), 0);
}
