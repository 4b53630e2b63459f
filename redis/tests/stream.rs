//! Threads fed from a Redis stream, against a real `redis-server`: shared work handled
//! once, acknowledged and deleted; retries then dead letters; unreadable entries set
//! aside; a stop that is immediate and finishes what is held; a halt that gives back;
//! errors that say what without credentials.

mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use support::{length, pending, wait_until, Redis, BOUND};
use threadward::{background_thread, BackgroundThread, BoxError, Context, Registry, SpawnFailure};
use threadward_redis::{Error, Producer, Stream};

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
enum Job {
    /// Recorded as handled.
    Work(u32),
    /// Always fails.
    Fail(u32),
    /// Waits until the thread is stopped or halted (bounded).
    Hold(u32),
}

/// How often each job was handled, across every thread of a test.
type Seen = Arc<Mutex<HashMap<u32, u32>>>;

#[background_thread]
struct Worker {
    seen: Seen,
}

impl BackgroundThread for Worker {
    type Task = Job;
    fn handle(&mut self, job: Job, ctx: &Context) -> Result<(), BoxError> {
        let (Job::Work(n) | Job::Fail(n) | Job::Hold(n)) = job;
        *self.seen.lock().unwrap().entry(n).or_default() += 1;
        match job {
            Job::Work(_) => Ok(()),
            Job::Fail(n) => Err(format!("job {n} failed").into()),
            Job::Hold(_) => {
                ctx.sleep(BOUND);
                Ok(())
            }
        }
    }
}

fn producer(redis: &Redis, key: &str) -> Producer<Job> {
    Producer::connect(&redis.url())
        .unwrap()
        .key(key)
        .group("workers")
}

fn stream(redis: &Redis, key: &str) -> Stream<Job> {
    Stream::connect(&redis.url())
        .unwrap()
        .key(key)
        .group("workers")
}

fn handled(seen: &Seen) -> u32 {
    seen.lock().unwrap().values().sum()
}

#[test]
fn two_threads_share_a_thousand_tasks_each_handled_once() {
    let Some(redis) = Redis::start("two_threads_share_a_thousand_tasks_each_handled_once") else {
        return;
    };
    // Enqueued before any consumer exists: the group starts at the stream's start.
    let jobs: Vec<Job> = (0..1000).map(Job::Work).collect();
    let ids = producer(&redis, "share").enqueue_all(&jobs).unwrap();
    assert_eq!(ids.len(), 1000);
    let seen = Seen::default();
    let registry = Registry::new();
    let workers: Vec<_> = (0..2)
        .map(|_| {
            Worker {
                seen: Arc::clone(&seen),
            }
            .spawn_with_in(stream(&redis, "share").prefetch(7), &registry)
            .unwrap()
        })
        .collect();
    wait_until("1000 handled", || handled(&seen) == 1000);
    for worker in &workers {
        worker.stop();
    }
    let mut acked = 0;
    for worker in workers {
        let exit = worker.join().unwrap();
        let source = exit.report().source().unwrap();
        assert!(source.is_clean(), "{source:?}");
        acked += source.counts.acked;
        assert!(exit.report().to_string().contains("from its source: acked"));
    }
    assert_eq!(acked, 1000);
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1000);
    assert!(
        seen.values().all(|&times| times == 1),
        "a job handled twice"
    );
    let mut con = redis.connection();
    assert_eq!(pending(&mut con, "share", "workers"), 0);
    assert_eq!(
        length(&mut con, "share"),
        0,
        "acknowledged entries are deleted"
    );
}

#[test]
fn a_failing_task_is_retried_with_backoff_then_dead_lettered() {
    let Some(redis) = Redis::start("a_failing_task_is_retried_with_backoff_then_dead_lettered")
    else {
        return;
    };
    let seen = Seen::default();
    let source = stream(&redis, "retry")
        .max_attempts(3)
        .retry_backoff(Duration::from_millis(20));
    let worker = Worker {
        seen: Arc::clone(&seen),
    }
    .spawn_with(source)
    .unwrap();
    let started = Instant::now();
    producer(&redis, "retry").enqueue(&Job::Fail(1)).unwrap();
    let mut con = redis.connection();
    wait_until("a dead letter", || length(&mut con, "retry:dead") == 1);
    // Three attempts, the second after at least half of 20 ms, the third after at
    // least half of 40 ms.
    assert_eq!(seen.lock().unwrap()[&1], 3);
    assert!(started.elapsed() >= Duration::from_millis(30));
    let letters: Vec<(String, HashMap<String, String>)> = redis::cmd("XRANGE")
        .arg("retry:dead")
        .arg("-")
        .arg("+")
        .query(&mut con)
        .unwrap();
    let letter = &letters[0].1;
    assert_eq!(letter["error"], "job 1 failed");
    assert_eq!(letter["deliveries"], "3");
    assert_eq!(letter["stream"], "retry");
    assert_eq!(letter["v"], "1");
    assert_eq!(letter["task"], r#"{"Fail":1}"#);
    assert!(!letter["consumer"].is_empty());
    // The thread goes on.
    producer(&redis, "retry").enqueue(&Job::Work(2)).unwrap();
    wait_until("the next job", || seen.lock().unwrap().contains_key(&2));
    worker.stop();
    let exit = worker.join().unwrap();
    let counts = exit.report().source().unwrap().counts;
    assert_eq!(
        (counts.acked, counts.retried, counts.dead_lettered),
        (1, 2, 1)
    );
    assert_eq!(pending(&mut con, "retry", "workers"), 0);
    assert_eq!(length(&mut con, "retry"), 0);
}

#[test]
fn an_entry_that_holds_no_task_is_dead_lettered_and_the_thread_goes_on() {
    let Some(redis) =
        Redis::start("an_entry_that_holds_no_task_is_dead_lettered_and_the_thread_goes_on")
    else {
        return;
    };
    let seen = Seen::default();
    let worker = Worker {
        seen: Arc::clone(&seen),
    }
    .spawn_with(stream(&redis, "bad"))
    .unwrap();
    let mut con = redis.connection();
    for fields in [
        vec![("v", "1"), ("task", "not json")],
        vec![("v", "1"), ("task", r#"{"Unknown":1}"#)],
        vec![("v", "9"), ("task", r#"{"Work":1}"#)],
        vec![("something", "else")],
    ] {
        let _: String = redis::cmd("XADD")
            .arg("bad")
            .arg("*")
            .arg(&fields)
            .query(&mut con)
            .unwrap();
    }
    producer(&redis, "bad").enqueue(&Job::Work(5)).unwrap();
    wait_until("four dead letters", || length(&mut con, "bad:dead") == 4);
    wait_until("the good job", || seen.lock().unwrap().contains_key(&5));
    let letters: Vec<(String, HashMap<String, String>)> = redis::cmd("XRANGE")
        .arg("bad:dead")
        .arg("-")
        .arg("+")
        .query(&mut con)
        .unwrap();
    let errors: Vec<&str> = letters.iter().map(|(_, l)| l["error"].as_str()).collect();
    assert!(
        errors[0].starts_with("the task does not parse"),
        "{errors:?}"
    );
    assert!(
        errors[1].contains("unknown variant `Unknown`"),
        "{errors:?}"
    );
    assert!(errors[2].contains("envelope version `9`"), "{errors:?}");
    assert!(errors[3].contains("no envelope version"), "{errors:?}");
    assert_eq!(
        letters[0].1["task"], "not json",
        "the entry is kept as it was"
    );
    worker.stop();
    let exit = worker.join().unwrap();
    assert_eq!(exit.report().source().unwrap().counts.dead_lettered, 4);
    assert_eq!(pending(&mut con, "bad", "workers"), 0);
}

/// Waits (bounded) until a client of `redis` waits in a blocking `XREADGROUP`.
fn wait_for_blocked_reader(redis: &Redis) {
    let mut con = redis.connection();
    wait_until("a blocked reader", || {
        let clients: String = redis::cmd("CLIENT").arg("LIST").query(&mut con).unwrap();
        clients
            .lines()
            .any(|line| line.contains("cmd=xreadgroup") && line.contains("flags=b"))
    });
}

#[test]
fn an_idle_thread_blocked_on_the_stream_stops_at_once() {
    let Some(redis) = Redis::start("an_idle_thread_blocked_on_the_stream_stops_at_once") else {
        return;
    };
    // The stop cuts the blocking read short: well under 50 ms. On a loaded machine a
    // stop can be slow once; it must be fast in one of three tries.
    let mut took = Vec::new();
    for _ in 0..3 {
        let worker = Worker {
            seen: Seen::default(),
        }
        .spawn_with(stream(&redis, "idle"))
        .unwrap();
        wait_for_blocked_reader(&redis);
        let asked = Instant::now();
        worker.stop();
        worker.join_timeout(BOUND).unwrap();
        took.push(asked.elapsed());
        if took.last().is_some_and(|t| *t < Duration::from_millis(50)) {
            return;
        }
    }
    panic!("an idle thread took {took:?} to stop");
}

#[test]
fn a_stop_finishes_and_acknowledges_what_the_thread_holds() {
    let Some(redis) = Redis::start("a_stop_finishes_and_acknowledges_what_the_thread_holds") else {
        return;
    };
    let seen = Seen::default();
    // The first job holds the thread; the next four wait behind it, taken.
    let mut jobs = vec![Job::Hold(0)];
    jobs.extend((1..5).map(Job::Work));
    producer(&redis, "drain").enqueue_all(&jobs).unwrap();
    let worker = Worker {
        seen: Arc::clone(&seen),
    }
    .spawn_with(stream(&redis, "drain").prefetch(5))
    .unwrap();
    wait_until("five taken", || {
        worker.info().source.is_some_and(|s| s.in_flight == 5) && handled(&seen) == 1
    });
    // What an observer sees of the source (the group's numbers are read each second).
    wait_until("the group's numbers", || {
        worker
            .info()
            .source
            .is_some_and(|s| s.pending == Some(5) && s.lag == Some(0))
    });
    let info = worker.info().source.unwrap();
    assert_eq!(
        (info.kind, info.stream.as_str(), info.group.as_str()),
        ("redis", "drain", "workers")
    );
    assert!(info.connected);
    assert!(info.consumer.contains(&format!("-{}-", std::process::id())));
    worker.stop(); // cuts the hold short (an interruptible sleep), then drains
    let exit = worker.join().unwrap();
    let report = exit.report().source().unwrap();
    assert_eq!(report.counts.acked, 5);
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(handled(&seen), 5);
    let mut con = redis.connection();
    assert_eq!(pending(&mut con, "drain", "workers"), 0);
}

#[test]
fn a_halt_gives_back_what_was_not_handled_and_another_consumer_takes_it() {
    let Some(redis) =
        Redis::start("a_halt_gives_back_what_was_not_handled_and_another_consumer_takes_it")
    else {
        return;
    };
    let mut jobs = vec![Job::Hold(0)];
    jobs.extend((1..4).map(Job::Work));
    producer(&redis, "halt").enqueue_all(&jobs).unwrap();
    let first = Seen::default();
    let worker = Worker {
        seen: Arc::clone(&first),
    }
    .spawn_with(stream(&redis, "halt").prefetch(4))
    .unwrap();
    wait_until("four taken", || {
        worker.info().source.is_some_and(|s| s.in_flight == 4) && handled(&first) == 1
    });
    worker.halt();
    let exit = worker.join().unwrap();
    let report = exit.report().source().unwrap();
    // The held job was cut short by the halt: it goes back with the three queued.
    assert_eq!(report.counts.released, 4, "{report:?}");
    assert!(!report.is_clean());
    // Another consumer, whose claims wait far longer than the test, takes them at
    // once: a release makes them idle for longer than any claim waits.
    let second = Seen::default();
    let other = Worker {
        seen: Arc::clone(&second),
    }
    .spawn_with(stream(&redis, "halt").claim_idle(Duration::from_secs(3600)))
    .unwrap();
    wait_until("the four given back, taken", || {
        other.info().source.is_some_and(|s| s.in_flight == 4) && handled(&second) == 1
    });
    other.stop(); // cuts the held job short, then handles the three behind it
    let exit = other.join().unwrap();
    assert_eq!(exit.report().source().unwrap().counts.acked, 4);
    let seen = second.lock().unwrap();
    assert!((0..4).all(|n| seen.get(&n) == Some(&1)), "{seen:?}");
    let mut con = redis.connection();
    assert_eq!(pending(&mut con, "halt", "workers"), 0);
}

#[test]
fn what_cannot_connect_fails_the_spawn_and_no_error_shows_the_password() {
    let Some(redis) =
        Redis::start("what_cannot_connect_fails_the_spawn_and_no_error_shows_the_password")
    else {
        return;
    };
    assert!(matches!(
        Stream::<Job>::connect("http://example.com/"),
        Err(Error::InvalidUrl { .. })
    ));
    // A closed port: refused.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let url = format!("redis://user:hunter2@127.0.0.1:{port}/");
    let source = Stream::<Job>::connect(&url).unwrap();
    assert!(!format!("{source:?}").contains("hunter2"));
    let error = Worker {
        seen: Seen::default(),
    }
    .spawn_with(source)
    .unwrap_err();
    assert!(matches!(error.failure(), SpawnFailure::Source(_)));
    let text = error.to_string();
    assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
    assert!(!text.contains("hunter2"), "{text}");
    // Wrong credentials: refused too, and said so without them.
    let url = format!("redis://user:hunter2@127.0.0.1:{}/", redis.port);
    let error = Worker {
        seen: Seen::default(),
    }
    .spawn_with(Stream::<Job>::connect(&url).unwrap())
    .unwrap_err();
    let text = error.to_string();
    assert!(matches!(error.failure(), SpawnFailure::Source(_)), "{text}");
    assert!(!text.contains("hunter2"), "{text}");
    assert_eq!(error.into_inner().seen.lock().unwrap().len(), 0);
}

#[test]
fn what_redis_cannot_take_at_the_end_is_reported_pending() {
    let Some(mut redis) = Redis::start("what_redis_cannot_take_at_the_end_is_reported_pending")
    else {
        return;
    };
    let seen = Seen::default();
    producer(&redis, "gone").enqueue(&Job::Hold(1)).unwrap();
    let worker = Worker {
        seen: Arc::clone(&seen),
    }
    .spawn_with(stream(&redis, "gone").claim_idle(Duration::from_secs(7)))
    .unwrap();
    wait_until("the job held", || handled(&seen) == 1);
    redis.kill();
    worker.stop(); // the job ends; its acknowledgement cannot reach Redis
    let exit = worker.join().unwrap();
    let report = exit.report().source().unwrap();
    assert_eq!(report.left_pending, 1, "{report:?}");
    assert_eq!(report.counts.ack_failed, 1, "{report:?}");
    assert_eq!(report.redelivered_within, Some(Duration::from_secs(7)));
    assert!(!report.is_clean());
    let text = exit.report().to_string();
    assert!(
        text.contains("1 left pending, delivered again within 7s"),
        "{text}"
    );
}
