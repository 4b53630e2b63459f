//! Process-level test of the notifier example: start it, let it work, send SIGINT (or
//! SIGTERM), and check from its output — not from its own summary — that it stopped
//! within a second and that every notification it accepted was delivered exactly once.
//! The signals go to a child process, so this test binary's own handlers are untouched.

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Builds the example (a no-op when it is fresh: `cargo test` builds examples, but
/// `cargo test --test notifier_signals` does not) and returns its path, next to the
/// test binaries' `deps` folder.
fn example(name: &str) -> PathBuf {
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
    let status = build.status().expect("run cargo build");
    assert!(status.success(), "building example `{name}` failed");
    let path = profile_dir.join("examples").join(name);
    assert!(path.exists(), "{} is missing", path.display());
    path
}

/// Kills the child if the test fails before it exits.
struct Watchdog(Child);

impl Drop for Watchdog {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn send_signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .args([format!("-{signal}"), pid.to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{signal} {pid} failed");
}

fn ids(lines: &[String], prefix: &str) -> Vec<u64> {
    lines
        .iter()
        .filter_map(|line| line.strip_prefix(prefix))
        .map(|rest| {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().expect("an id after the prefix")
        })
        .collect()
}

fn stops_on(signal: &str) {
    let child = Command::new(example("notifier"))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the notifier example");
    let mut child = Watchdog(child);
    let stdout = child.0.stdout.take().expect("piped stdout");
    let (line_tx, line_rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line_tx.send(line).is_err() {
                break;
            }
        }
    });

    // Let it deliver some notifications first.
    let mut lines = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while ids(&lines, "sent notification #").len() < 20 {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = line_rx
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("no deliveries within 30 s; output so far: {lines:#?}"));
        lines.push(line);
    }

    send_signal(child.0.id(), signal);
    let signalled = Instant::now();
    let status = loop {
        if let Some(status) = child.0.try_wait().expect("poll the child") {
            break status;
        }
        assert!(
            signalled.elapsed() < Duration::from_secs(1),
            "the notifier did not exit within 1 s of {signal}"
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    // The reader thread ends at end of output.
    while let Ok(line) = line_rx.recv_timeout(Duration::from_secs(5)) {
        lines.push(line);
    }
    assert!(status.success(), "exit status {status}; output: {lines:#?}");
    let number = if signal == "SIGINT" { 2 } else { 15 };
    let header = format!("shutdown on {signal} ({number})");
    assert!(lines.iter().any(|l| l.starts_with(&header)), "{lines:#?}");

    let queued = ids(&lines, "queued notification #");
    let sent = ids(&lines, "sent notification #");
    let returned = ids(&lines, "returned notification #");
    let mut seen = HashSet::new();
    for id in sent.iter().chain(&returned) {
        assert!(seen.insert(*id), "notification #{id} came back twice");
    }
    let queued_set: HashSet<u64> = queued.iter().copied().collect();
    assert_eq!(queued_set.len(), queued.len(), "no id queued twice");
    assert_eq!(
        seen, queued_set,
        "every queued notification was delivered or returned"
    );
    assert!(returned.is_empty(), "a graceful stop delivers everything");
}

#[test]
fn the_notifier_stops_on_sigint_without_losing_a_notification() {
    stops_on("SIGINT");
}

#[test]
fn the_notifier_stops_on_sigterm_without_losing_a_notification() {
    stops_on("SIGTERM");
}
