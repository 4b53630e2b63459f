//! The parent's side of the process-level signal tests: each scenario runs in its own
//! child process (the test binary re-runs itself with `--exact scenario_…` and
//! `THREADWARD_SCENARIO` set), the parent sends real signals with `kill` and checks the
//! child's output itself. Every wait is bounded.

#![allow(dead_code)] // each test binary uses a part

pub(crate) mod ladder;

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub(crate) const WATCHDOG: Duration = Duration::from_secs(60);

/// Whether this process is the child running scenario `name` (without
/// `THREADWARD_SCENARIO`, the `scenario_…` tests do nothing).
pub(crate) fn scenario(name: &str) -> bool {
    std::env::var("THREADWARD_SCENARIO").as_deref() == Ok(name)
}

/// Prints a line when dropped: tells the parent that a halt unwound the thread.
pub(crate) struct SayOnDrop(pub(crate) &'static str);

impl Drop for SayOnDrop {
    fn drop(&mut self) {
        println!("{}", self.0);
    }
}

/// A running child scenario; killed if the test fails before it exits.
pub(crate) struct Scenario {
    child: Child,
    lines: mpsc::Receiver<String>,
    stderr: mpsc::Receiver<String>,
    pub(crate) stdout: Vec<String>,
}

impl Scenario {
    pub(crate) fn start(name: &str) -> Self {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                name,
                "--nocapture",
                "--quiet",
                "--test-threads=1",
            ])
            .env("THREADWARD_SCENARIO", name)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the scenario");
        let (line_tx, lines) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line_tx.send(line).is_err() {
                    break;
                }
            }
        });
        let (err_tx, stderr) = mpsc::channel();
        let mut err_pipe = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            let mut all = String::new();
            let _ = err_pipe.read_to_string(&mut all);
            let _ = err_tx.send(all);
        });
        Self {
            child,
            lines,
            stderr,
            stdout: Vec::new(),
        }
    }

    /// Reads stdout until a line equal to `wanted`.
    pub(crate) fn wait_for(&mut self, wanted: &str) {
        self.wait_for_within(wanted, WATCHDOG);
    }

    /// Returns once a line equal to `wanted` was read, already or within `within`: for
    /// lines whose order against the others is not fixed.
    pub(crate) fn seen_within(&mut self, wanted: &str, within: Duration) {
        if !self.stdout.iter().any(|line| line == wanted) {
            self.wait_for_within(wanted, within);
        }
    }

    /// Reads stdout until a line equal to `wanted`, for at most `within`.
    pub(crate) fn wait_for_within(&mut self, wanted: &str, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let found = line == wanted;
                    self.stdout.push(line);
                    if found {
                        return;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout | mpsc::RecvTimeoutError::Disconnected) => {
                    panic!(
                        "no `{wanted}` from the child within {within:?}; stdout: {:#?}",
                        self.stdout
                    )
                }
            }
        }
    }

    pub(crate) fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([format!("-{signal}"), self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
    }

    /// Waits for the exit (at most `within`), then collects all output.
    pub(crate) fn exit_within(&mut self, within: Duration) -> (ExitStatus, String) {
        let asked = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                asked.elapsed() < within,
                "the child did not exit within {within:?}; stdout so far: {:#?}",
                self.stdout
            );
            std::thread::sleep(Duration::from_millis(5));
        };
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(10)) {
            self.stdout.push(line);
        }
        let stderr = self
            .stderr
            .recv_timeout(Duration::from_secs(10))
            .unwrap_or_default();
        (status, stderr)
    }

    /// Waits for the exit (bounded) and asserts that its code is 0.
    pub(crate) fn exits_cleanly(&mut self) {
        let (status, stderr) = self.exit_within(WATCHDOG);
        assert_eq!(status.code(), Some(0), "stderr: {stderr}");
    }

    /// Whether the child printed `line`.
    pub(crate) fn printed(&self, line: &str) -> bool {
        self.stdout.iter().any(|l| l == line)
    }

    pub(crate) fn ids(&self, prefix: &str) -> Vec<u64> {
        self.stdout
            .iter()
            .filter_map(|line| line.strip_prefix(prefix))
            .map(|id| id.parse().expect("an id"))
            .collect()
    }
}

impl Drop for Scenario {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Checks that `handled` and `returned` together are exactly `0..sent`, none twice.
pub(crate) fn assert_books(handled: &[u64], returned: &[u64], sent: u64) {
    let mut seen = HashSet::new();
    for id in handled.iter().chain(returned) {
        assert!(seen.insert(*id), "task {id} came back twice");
    }
    assert_eq!(seen.len() as u64, sent, "every task is handled or returned");
    assert!(seen.iter().all(|id| *id < sent));
}

/// Prints `report: <the names of the report's threads>`, for the parent to check.
pub(crate) fn print_report_names(report: &threadward::ShutdownReport) {
    let names: Vec<&str> = report
        .threads()
        .iter()
        .map(threadward::ExitReport::name)
        .collect();
    println!("report: {}", names.join(", "));
}
