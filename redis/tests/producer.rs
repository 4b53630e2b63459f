//! Producers against a real `redis-server`: an enqueue once per key within a time to
//! live (racing producers add one task), and a delayed enqueue that the consumers move
//! into the stream when it is due.

mod support;

use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use support::{length, wait_until, Redis};
use threadward::{background_thread, BackgroundThread, BoxError, Context};
use threadward_redis::{Producer, Stream};

fn producer(redis: &Redis, key: &str) -> Producer<String> {
    Producer::connect(&redis.url())
        .unwrap()
        .key(key)
        .group("workers")
}

#[test]
fn enqueue_once_adds_one_task_per_key_within_its_time_to_live() {
    let Some(redis) = Redis::start("enqueue_once_adds_one_task_per_key_within_its_time_to_live")
    else {
        return;
    };
    let ttl = Duration::from_millis(200);
    // Racing producers, one key: one task.
    let start = Arc::new(Barrier::new(4));
    let added: Vec<bool> = (0..4)
        .map(|_| {
            let (start, producer) = (Arc::clone(&start), producer(&redis, "once"));
            std::thread::spawn(move || {
                start.wait();
                producer
                    .enqueue_once(&"invoice 7".to_owned(), "invoice-7", ttl)
                    .unwrap()
                    .is_some()
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|racer| racer.join().unwrap())
        .collect();
    assert_eq!(added.iter().filter(|&&added| added).count(), 1, "{added:?}");
    let mut con = redis.connection();
    assert_eq!(length(&mut con, "once"), 1);
    // Another key is another task.
    let other = producer(&redis, "once").enqueue_once(&"invoice 8".to_owned(), "invoice-8", ttl);
    assert!(other.unwrap().is_some());
    // Once the time to live has passed, the key adds a task again.
    wait_until("the key to expire", || {
        redis::cmd("EXISTS")
            .arg("once:once:invoice-7")
            .query::<i64>(&mut con)
            .unwrap()
            == 0
    });
    let again = producer(&redis, "once").enqueue_once(&"invoice 7".to_owned(), "invoice-7", ttl);
    assert!(again.unwrap().is_some());
    assert_eq!(length(&mut con, "once"), 3);
}

#[background_thread]
struct Clock {
    /// When each task was handled.
    seen: Arc<Mutex<Vec<(String, Instant)>>>,
}

impl BackgroundThread for Clock {
    type Task = String;
    fn handle(&mut self, task: String, _: &Context) -> Result<(), BoxError> {
        self.seen.lock().unwrap().push((task, Instant::now()));
        Ok(())
    }
}

#[test]
fn a_delayed_task_is_handled_once_it_is_due() {
    let Some(redis) = Redis::start("a_delayed_task_is_handled_once_it_is_due") else {
        return;
    };
    let seen = Arc::new(Mutex::new(Vec::new()));
    let clock = Clock {
        seen: Arc::clone(&seen),
    }
    .spawn_with(
        Stream::<String>::connect(&redis.url())
            .unwrap()
            .key("later")
            .group("workers"),
    )
    .unwrap();
    let producer = producer(&redis, "later");
    let asked = Instant::now();
    producer
        .enqueue_after(&"later".to_owned(), Duration::from_millis(500))
        .unwrap();
    producer.enqueue(&"now".to_owned()).unwrap();
    wait_until("both handled", || seen.lock().unwrap().len() == 2);
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen[0].0, "now");
    assert_eq!(seen[1].0, "later");
    // Not before its time (the server's clock counts in milliseconds), and within
    // about a second of it.
    let after = seen[1].1.duration_since(asked);
    assert!(after >= Duration::from_millis(490), "{after:?}");
    let mut con = redis.connection();
    assert_eq!(
        redis::cmd("ZCARD")
            .arg("later:delayed")
            .query::<i64>(&mut con)
            .unwrap(),
        0
    );
    clock.stop();
    let exit = clock.join().unwrap();
    assert_eq!(exit.report().source().unwrap().counts.acked, 2);
}
