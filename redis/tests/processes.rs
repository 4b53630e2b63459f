//! Worker processes (the crate's `stream_worker` example) on a real `redis-server`:
//! several processes share one stream; a `kill -9` loses nothing; SIGTERM drains;
//! Redis killed and started again; a poison pill; leases held while a task runs long.

mod support;

use std::collections::HashMap;
use std::time::Duration;

use serde_json::json;
use support::{enqueue, length, pending, wait_until, Redis, Worker};

fn jobs(ids: std::ops::Range<u64>, work_ms: u64) -> Vec<serde_json::Value> {
    ids.map(|id| json!({"id": id, "work_ms": work_ms}))
        .collect()
}

/// How often each id was handled, over `workers`.
fn tally(workers: &[&Worker]) -> HashMap<u64, u32> {
    let mut seen = HashMap::new();
    for worker in workers {
        for id in worker.handled() {
            *seen.entry(id).or_default() += 1;
        }
    }
    seen
}

#[test]
fn two_processes_of_two_threads_share_a_thousand_tasks() {
    let Some(redis) = Redis::start("two_processes_of_two_threads_share_a_thousand_tasks") else {
        return;
    };
    let mut a = Worker::start(&redis, "shared", &["--threads", "2"]);
    let mut b = Worker::start(&redis, "shared", &["--threads", "2"]);
    enqueue(&redis, "shared", &jobs(0..1000, 0));
    wait_until("1000 handled", || tally(&[&a, &b]).len() == 1000);
    a.signal("TERM");
    b.signal("TERM");
    assert_eq!(a.wait(), Some(0), "{:?}", a.lines());
    assert_eq!(b.wait(), Some(0), "{:?}", b.lines());
    let seen = tally(&[&a, &b]);
    assert!(
        seen.values().all(|&times| times == 1),
        "a job handled twice"
    );
    // Both processes took part.
    assert!(!a.handled().is_empty() && !b.handled().is_empty());
    let mut con = redis.connection();
    assert_eq!(pending(&mut con, "shared", "workers"), 0);
    assert_eq!(length(&mut con, "shared"), 0);
}

#[test]
fn a_worker_killed_mid_task_loses_nothing() {
    let Some(redis) = Redis::start("a_worker_killed_mid_task_loses_nothing") else {
        return;
    };
    let args = ["--prefetch", "5", "--claim-idle-ms", "300"];
    let mut doomed = Worker::start(&redis, "crash", &args);
    enqueue(&redis, "crash", &jobs(0..100, 10));
    wait_until("some handled", || doomed.handled().len() >= 10);
    doomed.signal("KILL");
    assert_eq!(doomed.wait(), None, "killed by the signal");
    let before = doomed.handled();
    let mut survivor = Worker::start(&redis, "crash", &args);
    wait_until("every job handled", || {
        tally(&[&doomed, &survivor]).len() == 100
    });
    survivor.signal("TERM");
    assert_eq!(survivor.wait(), Some(0));
    // Duplicates only among what the killed worker held: at most its prefetch, each
    // handled there (its ack lost with it) and again here.
    let seen = tally(&[&doomed, &survivor]);
    let twice: Vec<u64> = seen
        .iter()
        .filter(|(_, &n)| n > 1)
        .map(|(&id, _)| id)
        .collect();
    assert!(twice.len() <= 5, "{twice:?}");
    assert!(twice.iter().all(|id| before.contains(id)), "{twice:?}");
    assert!(seen.values().all(|&n| n <= 2));
    let mut con = redis.connection();
    assert_eq!(pending(&mut con, "crash", "workers"), 0);
}

#[test]
fn sigterm_finishes_what_is_held_and_reads_nothing_more() {
    let Some(redis) = Redis::start("sigterm_finishes_what_is_held_and_reads_nothing_more") else {
        return;
    };
    enqueue(&redis, "drain", &jobs(0..50, 20));
    let mut worker = Worker::start(&redis, "drain", &["--prefetch", "4"]);
    wait_until("some handled", || worker.handled().len() >= 3);
    worker.signal("TERM");
    assert_eq!(worker.wait(), Some(0), "{:?}", worker.lines());
    let handled = worker.handled();
    let report = worker.lines().join("\n");
    // Every job it took was handled and acknowledged; nothing was given back.
    assert!(
        report.contains(&format!("from its source: acked {}, ", handled.len())),
        "{report}"
    );
    assert!(report.contains("released 0, ack failed 0"), "{report}");
    let mut con = redis.connection();
    assert_eq!(pending(&mut con, "drain", "workers"), 0);
    // What it did not take is still there, for the next worker.
    assert_eq!(length(&mut con, "drain"), 50 - handled.len() as u64);
}

#[test]
fn workers_reconnect_after_redis_is_killed_and_started_again() {
    let Some(mut redis) = Redis::start("workers_reconnect_after_redis_is_killed_and_started_again")
    else {
        return;
    };
    let mut worker = Worker::start(
        &redis,
        "restart",
        &["--threads", "2", "--claim-idle-ms", "500"],
    );
    enqueue(&redis, "restart", &jobs(0..100, 2));
    wait_until("some handled", || worker.handled().len() >= 10);
    redis.restart();
    enqueue(&redis, "restart", &jobs(100..200, 0));
    wait_until("every job handled", || tally(&[&worker]).len() == 200);
    worker.signal("TERM");
    assert_eq!(worker.wait(), Some(0), "{:?}", worker.lines());
    let mut con = redis.connection();
    assert_eq!(pending(&mut con, "restart", "workers"), 0);
    assert_eq!(length(&mut con, "restart"), 0);
}

#[test]
fn a_poison_pill_is_dead_lettered_after_its_deliveries() {
    let Some(redis) = Redis::start("a_poison_pill_is_dead_lettered_after_its_deliveries") else {
        return;
    };
    enqueue(&redis, "poison", &[json!({"id": 1, "abort": true})]);
    let args = ["--claim-idle-ms", "50", "--max-deliveries", "2"];
    let mut con = redis.connection();
    // Each worker takes the pill and dies of it; after two deliveries the next one
    // sets it aside instead.
    let mut deaths = 0;
    while length(&mut con, "poison:dead") == 0 {
        assert!(deaths <= 3, "still not dead-lettered after {deaths} deaths");
        let mut worker = Worker::start(&redis, "poison", &args);
        let ended = {
            let started = std::time::Instant::now();
            loop {
                if length(&mut con, "poison:dead") == 1 {
                    break false;
                }
                if started.elapsed() > Duration::from_secs(5) {
                    break false;
                }
                if worker.has_ended() {
                    break true;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        };
        if ended {
            deaths += 1;
        } else {
            worker.signal("TERM");
            assert_eq!(worker.wait(), Some(0), "{:?}", worker.lines());
        }
    }
    assert_eq!(deaths, 2);
    assert_eq!(pending(&mut con, "poison", "workers"), 0);
}

#[test]
fn a_long_task_keeps_its_lease_until_its_process_is_stopped() {
    let Some(redis) = Redis::start("a_long_task_keeps_its_lease_until_its_process_is_stopped")
    else {
        return;
    };
    let args = ["--prefetch", "1", "--claim-idle-ms", "200"];
    let mut a = Worker::start(&redis, "lease", &args);
    let mut b = Worker::start(&redis, "lease", &args);
    // Longer than five claim_idles: renewed all along, so never claimed by the other.
    enqueue(&redis, "lease", &[json!({"id": 1, "work_ms": 1200})]);
    wait_until("the long job done", || tally(&[&a, &b]).get(&1) == Some(&1));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        tally(&[&a, &b])[&1],
        1,
        "the long job was taken while it ran"
    );
    // A job for ever, and its worker stopped (SIGSTOP): its lease lapses, and the
    // other worker claims it.
    let id = enqueue(&redis, "lease", &[json!({"id": 2, "work_ms": 600_000})]).remove(0);
    let mut con = redis.connection();
    let mut holder = || {
        let held: Vec<(String, String, u64, u32)> = redis::cmd("XPENDING")
            .arg("lease")
            .arg("workers")
            .arg(&id)
            .arg(&id)
            .arg(1)
            .query(&mut con)
            .unwrap();
        held.first()
            .map(|(_, consumer, _, deliveries)| (consumer.clone(), *deliveries))
    };
    let mut owner = None;
    wait_until("the job taken", || {
        owner = holder().map(|(consumer, _)| consumer);
        owner.is_some()
    });
    let owner = owner.unwrap_or_default();
    let a_holds = owner.contains(&format!("-{}-", a.pid()));
    let (stopped, other) = if a_holds {
        (&mut a, &mut b)
    } else {
        (&mut b, &mut a)
    };
    stopped.signal("STOP");
    wait_until("the job claimed by the other worker", || {
        holder().is_some_and(|(consumer, deliveries)| consumer != owner && deliveries == 2)
    });
    stopped.signal("KILL");
    let _ = stopped.wait();
    other.signal("TERM"); // cuts the endless job short: handled, acknowledged
    assert_eq!(other.wait(), Some(0));
}
