//! The notifier example as a real process on a free port: started, read, measured
//! (threads, descriptors, memory from `/proc`) and stopped with a real signal. Every
//! wait is bounded.

#![allow(dead_code)] // each test binary uses a part

pub(crate) mod client;

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use client::{Answer, Client};

pub(crate) const BOUND: Duration = Duration::from_secs(60);

/// Builds the example (a no-op when fresh) and returns its path.
pub(crate) fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps/<test>");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut build = Command::new(cargo);
    build.args(["build", "--quiet", "--example", name]);
    if profile_dir.ends_with("release") {
        build.arg("--release");
    }
    assert!(
        build.status().expect("run cargo build").success(),
        "building `{name}` failed"
    );
    profile_dir.join("examples").join(name)
}

/// The running service; killed if the test fails first.
pub(crate) struct Service {
    child: Child,
    lines: mpsc::Receiver<String>,
    pub(crate) log: Vec<String>,
    pub(crate) url: String,
    pub(crate) address: SocketAddr,
}

impl Service {
    /// Starts the notifier with deliveries of `delivery_ms` and the `env` given.
    pub(crate) fn start(delivery_ms: u64, env: &[(&str, &str)]) -> Self {
        let mut command = Command::new(example("notifier"));
        command.args(["--port", "0"]);
        Self::spawn(command, delivery_ms, env)
    }

    /// Starts the notifier with these arguments too.
    pub(crate) fn start_with_args(delivery_ms: u64, args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut command = Command::new(example("notifier"));
        command.args(["--port", "0"]).args(args);
        Self::spawn(command, delivery_ms, env)
    }

    /// Starts the notifier through `sh -c 'ulimit -n LIMIT; exec notifier'`.
    pub(crate) fn start_with_fd_limit(limit: u32, env: &[(&str, &str)]) -> Self {
        let mut command = Command::new("sh");
        command.args([
            "-c",
            &format!("ulimit -n {limit} && exec \"$0\" --port 0"),
            &example("notifier").display().to_string(),
        ]);
        Self::spawn(command, 1, env)
    }

    fn spawn(mut command: Command, delivery_ms: u64, env: &[(&str, &str)]) -> Self {
        let mut child = command
            .env("NOTIFIER_DELIVERY_MS", delivery_ms.to_string())
            .env("RUST_LOG", "info")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the notifier");
        let stdout = child.stdout.take().expect("piped");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut service = Self {
            child,
            lines,
            log: Vec::new(),
            url: String::new(),
            address: SocketAddr::from(([127, 0, 0, 1], 0)),
        };
        let deadline = Instant::now() + BOUND;
        while service.url.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = service
                .lines
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("never listened: {:#?}", service.log));
            if let Some(rest) = line.strip_prefix("listening on ") {
                rest.split(';')
                    .next()
                    .unwrap_or_default()
                    .clone_into(&mut service.url);
                service.address = service
                    .url
                    .trim_start_matches("http://")
                    .parse()
                    .expect("an address");
            }
            service.log.push(line);
        }
        service
    }

    /// A new keep-alive connection whose reads give up after `timeout`.
    pub(crate) fn connect(&self, timeout: Duration) -> Client {
        Client::connect(self.address, timeout).expect("connect to the service")
    }

    /// One request on a connection of its own.
    pub(crate) fn request(&self, method: &str, path: &str, body: Option<&str>) -> Answer {
        self.connect(Duration::from_secs(10))
            .request(method, path, body)
            .unwrap_or_else(|error| panic!("{method} {path}: {error}"))
    }

    /// Takes the lines logged so far.
    pub(crate) fn read_log(&mut self) {
        while let Ok(line) = self.lines.try_recv() {
            self.log.push(line);
        }
    }

    /// Waits (bounded) for a log line containing `wanted`.
    pub(crate) fn wait_for_log(&mut self, wanted: &str) {
        let deadline = Instant::now() + BOUND;
        while !self.log.iter().any(|line| line.contains(wanted)) {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self.lines.recv_timeout(left);
            let line = line.unwrap_or_else(|_| panic!("never logged {wanted:?}: {:#?}", self.log));
            self.log.push(line);
        }
    }

    pub(crate) fn is_running(&mut self) -> bool {
        self.child.try_wait().expect("poll the child").is_none()
    }

    /// The process's (threads, open descriptors, resident KiB), from `/proc`.
    pub(crate) fn resources(&self) -> (usize, usize, u64) {
        let pid = self.child.id();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
        let field = |name: &str| -> u64 {
            status
                .lines()
                .find_map(|line| line.strip_prefix(name))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|n| n.parse().ok())
                .unwrap_or(0)
        };
        let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
            .expect("fd directory")
            .count();
        let threads = usize::try_from(field("Threads:")).unwrap_or(usize::MAX);
        (threads, fds, field("VmRSS:"))
    }

    /// Sends `signal` and waits (bounded) for the exit code.
    pub(crate) fn stop(&mut self, signal: &str) -> i32 {
        self.signal(signal);
        self.wait_exit()
    }

    /// Sends `signal`.
    pub(crate) fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([format!("-{signal}"), self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
    }

    /// Waits (bounded) for the process to exit; its exit code, and the rest of its log.
    pub(crate) fn wait_exit(&mut self) -> i32 {
        let asked = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("poll") {
                break status;
            }
            assert!(
                asked.elapsed() < BOUND,
                "did not exit; log: {:#?}",
                self.log
            );
            std::thread::sleep(Duration::from_millis(10));
        };
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(10)) {
            self.log.push(line);
        }
        status.code().unwrap_or(-1)
    }

    /// Ids the service logged as delivered.
    pub(crate) fn delivered(&self) -> Vec<u64> {
        self.log
            .iter()
            .filter_map(|line| line.split("sent notification #").nth(1))
            .map(|rest| rest.split_whitespace().next().unwrap().parse().unwrap())
            .collect()
    }

    /// Every accepted id was delivered, once; nothing else was.
    pub(crate) fn assert_delivered_exactly_once(&self, accepted: &[u64]) {
        let delivered = self.delivered();
        let mut seen = HashSet::new();
        for id in &delivered {
            assert!(seen.insert(*id), "notification #{id} delivered twice");
        }
        let accepted: HashSet<u64> = accepted.iter().copied().collect();
        assert_eq!(
            seen, accepted,
            "every accepted notification is delivered, once"
        );
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
