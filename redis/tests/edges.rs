//! The edges of a stream's consumer, against a real `redis-server`: a keeper that must
//! not wait on a full queue, a release that a lease renewal must not undo, a task type
//! whose `Deserialize` panics, settings at their extremes, claims that must reach
//! entries behind many live ones.

mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use support::{length, pending, wait_until, Redis};
use threadward::{background_thread, BackgroundThread, BoxError, Context};
use threadward_redis::{Producer, Stream};

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
enum Job {
    Work(u32),
    /// Handled for this many milliseconds (a stop or halt cuts it short).
    Hold(u32, u64),
}

type Seen = Arc<Mutex<HashMap<u32, u32>>>;

/// Counts `job` as handled, and holds the thread as long as it says.
fn work(seen: &Seen, job: &Job, ctx: &Context) {
    let (Job::Work(n) | Job::Hold(n, _)) = job;
    *seen.lock().unwrap().entry(*n).or_default() += 1;
    if let Job::Hold(_, ms) = job {
        ctx.sleep(Duration::from_millis(*ms));
    }
}

/// A queue of one: full as soon as one task waits behind the one being handled.
#[background_thread(capacity = 1)]
struct Small {
    seen: Seen,
}

impl BackgroundThread for Small {
    type Task = Job;
    fn handle(&mut self, job: Job, ctx: &Context) -> Result<(), BoxError> {
        work(&self.seen, &job, ctx);
        Ok(())
    }
}

#[background_thread]
struct Big {
    seen: Seen,
}

impl BackgroundThread for Big {
    type Task = Job;
    fn handle(&mut self, job: Job, ctx: &Context) -> Result<(), BoxError> {
        work(&self.seen, &job, ctx);
        Ok(())
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

/// Adds `job` and has the consumer `dead` read it (in one step: no live reader gets it).
fn held_by_a_dead_consumer(redis: &Redis, key: &str, job: &Job) {
    let json = serde_json::to_string(job).unwrap();
    let mut con = redis.connection();
    let _: redis::Value = redis::pipe()
        .atomic()
        .cmd("XADD")
        .arg(key)
        .arg("*")
        .arg("v")
        .arg("1")
        .arg("task")
        .arg(&json)
        .cmd("XREADGROUP")
        .arg("GROUP")
        .arg("workers")
        .arg("dead")
        .arg("COUNT")
        .arg(1)
        .arg("STREAMS")
        .arg(key)
        .arg(">")
        .query(&mut con)
        .unwrap();
}

#[test]
fn a_full_queue_never_stops_the_leases() {
    let Some(redis) = Redis::start("a_full_queue_never_stops_the_leases") else {
        return;
    };
    let idle = Duration::from_millis(600);
    let a_seen = Seen::default();
    let a = Small {
        seen: Arc::clone(&a_seen),
    }
    .spawn_with(stream(&redis, "full").claim_idle(idle))
    .unwrap();
    producer(&redis, "full")
        .enqueue_all(&[Job::Hold(0, 4000), Job::Work(1)])
        .unwrap();
    wait_until("A holds two, handling the first", || {
        a.info().source.is_some_and(|s| s.in_flight == 2) && a_seen.lock().unwrap().contains_key(&0)
    });
    // A dead consumer's entry: A's keeper claims it, and finds A's queue full.
    held_by_a_dead_consumer(&redis, "full", &Job::Work(99));
    wait_until("A claims it", || {
        a.info().source.is_some_and(|s| s.in_flight == 3)
    });
    // Another consumer, claiming what is idle for as long: A's leases stay fresh while
    // its keeper waits for room, so it takes nothing A holds.
    let b_seen = Seen::default();
    let b = Big {
        seen: Arc::clone(&b_seen),
    }
    .spawn_with(stream(&redis, "full").claim_idle(idle))
    .unwrap();
    wait_until("A handles all three", || a_seen.lock().unwrap().len() == 3);
    a.stop();
    b.stop();
    let (a_exit, b_exit) = (a.join().unwrap(), b.join().unwrap());
    assert!(
        b_seen.lock().unwrap().is_empty(),
        "B took {:?}",
        b_seen.lock().unwrap()
    );
    assert!(a_seen.lock().unwrap().values().all(|&n| n == 1));
    assert_eq!(a_exit.report().source().unwrap().counts.acked, 3);
    assert_eq!(b_exit.report().source().unwrap().counts.acked, 0);
}

#[test]
fn a_release_is_not_undone_by_a_lease_renewal() {
    let Some(redis) = Redis::start("a_release_is_not_undone_by_a_lease_renewal") else {
        return;
    };
    for round in 0..5 {
        let key = format!("release{round}");
        producer(&redis, &key)
            .enqueue_all(&[Job::Hold(0, 20_000), Job::Work(1), Job::Work(2)])
            .unwrap();
        let seen = Seen::default();
        let source = stream(&redis, &key)
            .claim_idle(Duration::from_millis(30))
            .prefetch(3);
        let worker = Big {
            seen: Arc::clone(&seen),
        }
        .spawn_with(source)
        .unwrap();
        wait_until("three held", || {
            worker.info().source.is_some_and(|s| s.in_flight == 3)
                && seen.lock().unwrap().contains_key(&0)
        });
        // Redis answers slowly for a moment: a renewal falls in the halt's round.
        let mut con = redis.connection();
        let _: () = redis::cmd("CLIENT")
            .arg("PAUSE")
            .arg(150)
            .arg("ALL")
            .query(&mut con)
            .unwrap();
        std::thread::sleep(Duration::from_millis(20));
        worker.halt();
        let exit = worker.join().unwrap();
        assert_eq!(exit.report().source().unwrap().counts.released, 3);
        let idles: Vec<(String, String, u64, u32)> = redis::cmd("XPENDING")
            .arg(&key)
            .arg("workers")
            .arg("-")
            .arg("+")
            .arg(10)
            .query(&mut con)
            .unwrap();
        // Given back: idle for longer than any claim waits.
        assert!(
            idles.iter().all(|(_, _, idle, _)| *idle > 1_000_000_000),
            "round {round}: {idles:?}"
        );
    }
}

/// A task whose `Deserialize` panics on 13 (a user's `deserialize_with`, a bug).
#[derive(Debug)]
struct Touchy(u32);

impl<'de> Deserialize<'de> for Touchy {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = u32::deserialize(d)?;
        assert!(n != 13, "unlucky");
        Ok(Self(n))
    }
}

#[background_thread]
struct TouchyWorker {
    seen: Arc<Mutex<Vec<u32>>>,
}

impl BackgroundThread for TouchyWorker {
    type Task = Touchy;
    fn handle(&mut self, task: Touchy, _: &Context) -> Result<(), BoxError> {
        self.seen.lock().unwrap().push(task.0);
        Ok(())
    }
}

#[test]
fn a_panic_in_deserialize_dead_letters_the_entry_and_the_consumer_goes_on() {
    let Some(redis) =
        Redis::start("a_panic_in_deserialize_dead_letters_the_entry_and_the_consumer_goes_on")
    else {
        return;
    };
    let seen = Arc::new(Mutex::new(Vec::new()));
    let source = Stream::<Touchy>::connect(&redis.url())
        .unwrap()
        .key("touchy");
    let worker = TouchyWorker {
        seen: Arc::clone(&seen),
    }
    .spawn_with(source)
    .unwrap();
    let producer = Producer::<u32>::connect(&redis.url())
        .unwrap()
        .key("touchy");
    producer.enqueue(&13).unwrap();
    producer.enqueue(&14).unwrap();
    wait_until("14 handled", || seen.lock().unwrap().contains(&14));
    let mut con = redis.connection();
    wait_until("13 dead-lettered", || length(&mut con, "touchy:dead") == 1);
    let letters: Vec<(String, HashMap<String, String>)> = redis::cmd("XRANGE")
        .arg("touchy:dead")
        .arg("-")
        .arg("+")
        .query(&mut con)
        .unwrap();
    assert!(letters[0].1["error"].contains("Deserialize panicked: unlucky"));
    worker.stop();
    worker.join_timeout(Duration::from_secs(10)).unwrap();
}

#[test]
fn settings_at_their_extremes_are_held_to_what_works() {
    let Some(redis) = Redis::start("settings_at_their_extremes_are_held_to_what_works") else {
        return;
    };
    let source = stream(&redis, "extreme")
        .claim_idle(Duration::MAX)
        .retry_backoff(Duration::MAX)
        .prefetch(0);
    let seen = Seen::default();
    let worker = Big {
        seen: Arc::clone(&seen),
    }
    .spawn_with(source)
    .unwrap();
    let producer = producer(&redis, "extreme");
    assert_eq!(producer.enqueue_all(&[]).unwrap(), Vec::new());
    let once = producer.enqueue_once(&Job::Work(1), "one", Duration::MAX);
    assert!(once.unwrap().is_some());
    wait_until("the job", || seen.lock().unwrap().contains_key(&1));
    worker.stop();
    let exit = worker.join_timeout(Duration::from_secs(10)).unwrap();
    assert!(exit.report().source().unwrap().is_clean());
}

#[test]
fn claims_reach_a_dead_consumers_entries_behind_many_live_ones() {
    let Some(redis) = Redis::start("claims_reach_a_dead_consumers_entries_behind_many_live_ones")
    else {
        return;
    };
    let mut con = redis.connection();
    // 110 entries held by a live consumer (fresh), then 10 by a dead one (long idle).
    let live: Vec<Job> = (0..110).map(Job::Work).collect();
    producer(&redis, "behind").enqueue_all(&live).unwrap();
    let _: redis::Value = redis::cmd("XREADGROUP")
        .arg("GROUP")
        .arg("workers")
        .arg("live")
        .arg("COUNT")
        .arg(110)
        .arg("STREAMS")
        .arg("behind")
        .arg(">")
        .query(&mut con)
        .unwrap();
    for n in 1000..1010 {
        held_by_a_dead_consumer(&redis, "behind", &Job::Work(n));
    }
    let dead: Vec<String> = redis::cmd("XRANGE")
        .arg("behind")
        .arg("-")
        .arg("+")
        .query::<Vec<(String, HashMap<String, String>)>>(&mut con)
        .unwrap()
        .into_iter()
        .skip(110)
        .map(|(id, _)| id)
        .collect();
    let _: redis::Value = redis::cmd("XCLAIM")
        .arg("behind")
        .arg("workers")
        .arg("dead")
        .arg(0)
        .arg(&dead)
        .arg("IDLE")
        .arg(3_600_000)
        .arg("JUSTID")
        .query(&mut con)
        .unwrap();
    // One entry at a time: each claim call scans only ten pending entries.
    let seen = Seen::default();
    let source = stream(&redis, "behind")
        .claim_idle(Duration::from_secs(600))
        .prefetch(1);
    let worker = Big {
        seen: Arc::clone(&seen),
    }
    .spawn_with(source)
    .unwrap();
    wait_until("the dead consumer's ten", || {
        let seen = seen.lock().unwrap();
        (1000..1010).all(|n| seen.contains_key(&n))
    });
    worker.stop();
    worker.join().unwrap();
    // The live consumer's entries were left to it.
    assert!(seen.lock().unwrap().keys().all(|&n| n >= 1000));
    assert_eq!(pending(&mut con, "behind", "workers"), 110);
}
