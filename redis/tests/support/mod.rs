//! A real `redis-server` for the tests: started on a free loopback port, stopped when
//! dropped. Without the binary a test says so on one line (and how to install it) and
//! passes, unless `THREADWARD_REQUIRE_REDIS=1` is set, when it fails.

#![allow(dead_code)] // each test file uses its own part of it

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Bound on every wait of these tests.
pub(crate) const BOUND: Duration = Duration::from_secs(20);

/// A `redis-server` of the test's own.
pub(crate) struct Redis {
    child: Child,
    pub(crate) port: u16,
    dir: PathBuf,
}

impl Redis {
    /// Starts one, or `None` (said on one line) when `redis-server` is not installed
    /// and not required.
    pub(crate) fn start(test: &str) -> Option<Self> {
        if Command::new("redis-server")
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_err()
        {
            assert!(
                std::env::var("THREADWARD_REQUIRE_REDIS").as_deref() != Ok("1"),
                "{test}: redis-server is required (THREADWARD_REQUIRE_REDIS=1) but not installed"
            );
            println!(
                "{test}: skipped: redis-server is not installed (apt-get install redis-server)"
            );
            return None;
        }
        // The port is free when asked; should another process take it before the
        // server binds it, try another.
        for _ in 0..5 {
            let port = free_port();
            let dir = std::env::temp_dir()
                .join(format!("threadward-redis-{}-{port}", std::process::id()));
            std::fs::create_dir_all(&dir).expect("a directory for the server");
            let child = server(port, &dir);
            let mut redis = Self { child, port, dir };
            if redis.wait_ready() {
                return Some(redis);
            }
        }
        panic!("{test}: redis-server did not start on any of 5 ports");
    }

    /// Kills the server (`kill -9`).
    pub(crate) fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Kills the server (`kill -9`) and starts it again on the same port, with the same
    /// data (written to its append-only file before every answer).
    pub(crate) fn restart(&mut self) {
        self.kill();
        for _ in 0..50 {
            self.child = server(self.port, &self.dir);
            if self.wait_ready() {
                return;
            }
            // The port may linger a moment after the kill.
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("redis-server did not start again on port {}", self.port);
    }

    /// The URL of the server.
    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// A connection for the test's own checks.
    pub(crate) fn connection(&self) -> redis::Connection {
        let client = redis::Client::open(self.url()).expect("a client");
        client
            .get_connection_with_timeout(Duration::from_secs(5))
            .expect("a connection")
    }

    /// Whether the server answers `PING` (bounded); `false` if it exited.
    fn wait_ready(&mut self) -> bool {
        let started = Instant::now();
        while started.elapsed() < BOUND {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            if let Ok(client) = redis::Client::open(self.url()) {
                if let Ok(mut con) = client.get_connection_with_timeout(Duration::from_secs(1)) {
                    if redis::cmd("PING").query::<String>(&mut con).is_ok() {
                        return true;
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A `redis-server` on `port`, keeping its data in `dir`: an append-only file synced
/// before every answer, so a `kill -9` loses nothing it acknowledged.
fn server(port: u16, dir: &std::path::Path) -> Child {
    Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args([
            "--save",
            "",
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
        ])
        .arg("--dir")
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start redis-server")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port")
}

/// Waits (bounded) until `done` holds.
pub(crate) fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < BOUND, "waited too long for {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// How many entries of `group` on `key` are pending (delivered, not acknowledged).
pub(crate) fn pending(con: &mut redis::Connection, key: &str, group: &str) -> u64 {
    let summary: (u64, redis::Value, redis::Value, redis::Value) = redis::cmd("XPENDING")
        .arg(key)
        .arg(group)
        .query(con)
        .expect("XPENDING");
    summary.0
}

/// How many entries `key` holds.
pub(crate) fn length(con: &mut redis::Connection, key: &str) -> u64 {
    redis::cmd("XLEN").arg(key).query(con).expect("XLEN")
}

/// A `stream_worker` process (the crate's example): its stdout lines collected as they
/// come; killed if still running when dropped.
pub(crate) struct Worker {
    child: Child,
    lines: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    reading: Option<std::thread::JoinHandle<()>>,
}

impl Worker {
    /// Starts a worker on `key` with `args`, and waits (bounded) until it is ready.
    pub(crate) fn start(redis: &Redis, key: &str, args: &[&str]) -> Self {
        use std::io::BufRead;
        let mut child = Command::new(example("stream_worker"))
            .arg(redis.url())
            .arg(key)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(if std::env::var_os("THREADWARD_WORKER_LOGS").is_some() {
                Stdio::inherit()
            } else {
                Stdio::null()
            })
            .spawn()
            .expect("start stream_worker");
        let stdout = child.stdout.take().expect("its stdout");
        let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = std::sync::Arc::clone(&lines);
        let reading = std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                sink.lock().unwrap().push(line);
            }
        });
        let worker = Self {
            child,
            lines,
            reading: Some(reading),
        };
        // (A worker may die before it is ready: of a poison pill it claimed at once.)
        let mut worker = worker;
        wait_until("the worker to be ready", || {
            worker.lines().iter().any(|line| line == "ready") || worker.has_ended()
        });
        worker
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    pub(crate) fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// The ids of the jobs it printed as handled, in order.
    pub(crate) fn handled(&self) -> Vec<u64> {
        self.lines()
            .iter()
            .filter_map(|line| line.strip_prefix("handled "))
            .filter_map(|id| id.parse().ok())
            .collect()
    }

    /// Whether the process has ended (without waiting).
    pub(crate) fn has_ended(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// Sends `signal` (`TERM`, `KILL`, `STOP`, `CONT`).
    pub(crate) fn signal(&self, signal: &str) {
        let sent = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -{signal} failed");
    }

    /// Waits (bounded) for the process to end: its exit code (`None` if killed by a
    /// signal), once all its output was read.
    pub(crate) fn wait(&mut self) -> Option<i32> {
        let started = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait for the worker") {
                break status;
            }
            assert!(started.elapsed() < BOUND, "the worker did not end");
            std::thread::sleep(Duration::from_millis(5));
        };
        if let Some(reading) = self.reading.take() {
            let _ = reading.join();
        }
        status.code()
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The path of the crate's example `name`, built if it is not yet (`cargo test` builds
/// it already).
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test's path");
    let profile = exe
        .parent()
        .and_then(std::path::Path::parent)
        .expect("target/<profile>/deps/<test>")
        .to_path_buf();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut build = Command::new(cargo);
    build.args([
        "build",
        "--quiet",
        "-p",
        "threadward-redis",
        "--example",
        name,
    ]);
    if profile.ends_with("release") {
        build.arg("--release");
    }
    assert!(
        build.status().expect("run cargo build").success(),
        "building `{name}` failed"
    );
    profile.join("examples").join(name)
}

/// Enqueues raw job JSON (as the worker example reads it).
pub(crate) fn enqueue(redis: &Redis, key: &str, jobs: &[serde_json::Value]) -> Vec<String> {
    let producer = threadward_redis::Producer::<serde_json::Value>::connect(&redis.url())
        .unwrap()
        .key(key)
        .group("workers");
    let ids = producer.enqueue_all(jobs).unwrap();
    ids.iter().map(ToString::to_string).collect()
}
