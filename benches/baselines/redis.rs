//! Consuming a Redis stream: a thread fed by `threadward-redis` against a hand-rolled
//! loop on the `redis` crate (`XREADGROUP` → decode → handle → `XACK` and `XDEL`), both
//! with a no-op `handle`, both taking `prefetch` entries at a time. Each run starts a
//! `redis-server` of its own (no persistence: the figure is the consumer's, not the
//! disk's), fills the stream, then times from connecting until every entry is
//! acknowledged.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use redis::streams::StreamReadReply;
use threadward::{background_thread, BackgroundThread, BoxError, Context, Registry};
use threadward_redis::{Producer, Stream};

/// Whether `redis-server` can be run here.
pub(crate) fn available() -> bool {
    Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok()
}

/// A `redis-server` of the run's own; killed when dropped.
struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let server = Self {
            child: Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no"])
                .stdout(Stdio::null())
                .spawn()
                .expect("start redis-server"),
            url: format!("redis://127.0.0.1:{port}/"),
        };
        let started = Instant::now();
        loop {
            let ready = redis::Client::open(server.url.as_str())
                .and_then(|client| client.get_connection())
                .and_then(|mut con| redis::cmd("PING").query::<String>(&mut con));
            if ready.is_ok() {
                return server;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "redis-server did not start"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const KEY: &str = "bench";
const GROUP: &str = "bench";

#[background_thread(name = "bench-consumer")]
struct Consumer {
    total: u64,
    seen: u64,
    /// Told once `seen` reaches the run's tasks.
    done: (u64, std::sync::mpsc::Sender<()>),
}

impl BackgroundThread for Consumer {
    type Task = u64;
    fn handle(&mut self, task: u64, _ctx: &Context) -> Result<(), BoxError> {
        self.total = self.total.wrapping_add(std::hint::black_box(task));
        self.seen += 1;
        if self.seen == self.done.0 {
            let _ = self.done.1.send(());
        }
        Ok(())
    }
}

/// One run: `tasks` entries consumed `prefetch` at a time by threadward (`ward`) or by
/// the hand-rolled loop; thousand tasks per second.
pub(crate) fn run(ward: bool, prefetch: usize, tasks: u64) -> f64 {
    let server = Server::start();
    let producer = Producer::<u64>::connect(&server.url)
        .expect("a producer")
        .key(KEY)
        .group(GROUP);
    let all: Vec<u64> = (0..tasks).collect();
    for chunk in all.chunks(10_000) {
        producer.enqueue_all(chunk).expect("fill the stream");
    }
    let start = Instant::now();
    if ward {
        let registry = Registry::new();
        let stream = Stream::<u64>::connect(&server.url)
            .expect("a stream")
            .key(KEY)
            .group(GROUP)
            .prefetch(prefetch);
        let (done, all_seen) = std::sync::mpsc::channel();
        let consumer = Consumer {
            total: 0,
            seen: 0,
            done: (tasks, done),
        };
        let consumer = consumer
            .spawn_with_in(stream, &registry)
            .expect("spawn the consumer");
        all_seen
            .recv_timeout(Duration::from_secs(600))
            .expect("every task handled");
        consumer.stop();
        let exit = consumer.join().expect("join the consumer");
        let acked = exit
            .report()
            .source()
            .map_or(0, |source| source.counts.acked);
        assert_eq!(acked, tasks);
    } else {
        hand_rolled(&server.url, prefetch, tasks);
    }
    // Exact: a run has far fewer than 2^52 tasks.
    #[allow(clippy::cast_precision_loss)]
    let tasks = tasks as f64;
    tasks / start.elapsed().as_secs_f64() / 1e3
}

/// The loop a user would write: read up to `prefetch` entries, decode and handle each,
/// acknowledge and delete them, again.
fn hand_rolled(url: &str, prefetch: usize, tasks: u64) {
    let client = redis::Client::open(url).expect("a client");
    let mut con = client.get_connection().expect("a connection");
    let mut total = 0u64;
    let mut done = 0;
    while done < tasks {
        let reply: Option<StreamReadReply> = redis::cmd("XREADGROUP")
            .arg("GROUP")
            .arg(GROUP)
            .arg("hand-rolled")
            .arg("COUNT")
            .arg(prefetch)
            .arg("BLOCK")
            .arg(2000)
            .arg("STREAMS")
            .arg(KEY)
            .arg(">")
            .query(&mut con)
            .expect("XREADGROUP");
        let entries: Vec<_> = reply
            .map(|reply| reply.keys.into_iter().flat_map(|key| key.ids).collect())
            .unwrap_or_default();
        let mut ids = Vec::with_capacity(entries.len());
        for entry in entries {
            let task: u64 = match entry.map.get("task") {
                Some(redis::Value::BulkString(json)) => {
                    serde_json::from_slice(json).expect("a task")
                }
                _ => panic!("an entry without a task"),
            };
            total = total.wrapping_add(std::hint::black_box(task));
            ids.push(entry.id);
        }
        if ids.is_empty() {
            continue;
        }
        done += ids.len() as u64;
        redis::pipe()
            .cmd("XACK")
            .arg(KEY)
            .arg(GROUP)
            .arg(&ids)
            .ignore()
            .cmd("XDEL")
            .arg(KEY)
            .arg(&ids)
            .ignore()
            .query::<()>(&mut con)
            .expect("XACK");
    }
    std::hint::black_box(total);
}
