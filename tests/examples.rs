//! The `ticker`, `manager`, `supervised` and `configured` examples, run as a user runs
//! them: each ends on its own within seconds, and what it prints adds up (nothing lost,
//! every job accounted for).

mod service;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs the example to its end (killed after a bound) and returns its stdout.
fn run(name: &str) -> String {
    let mut child = Command::new(service::example(name))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the example");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the example") {
            break status;
        }
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("`{name}` did not end on its own within 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut out = String::new();
    child
        .stdout
        .take()
        .expect("piped")
        .read_to_string(&mut out)
        .expect("read stdout");
    assert!(status.success(), "`{name}` failed: {status}\n{out}");
    out
}

fn count(out: &str, pattern: &str) -> usize {
    out.lines().filter(|line| line.contains(pattern)).count()
}

#[test]
fn the_ticker_ends_at_its_deadline_and_ships_every_line() {
    let out = run("ticker");
    assert!(out.contains("compactor: stopped at its deadline"), "{out}");
    assert!(
        out.contains("shipper: shipped 100 lines (a full batch)"),
        "{out}"
    );
    assert!(out.contains("lines (tick)"), "{out}");
    assert!(out.contains("warmer: started"), "{out}");
    assert!(out.contains("warmer: stopped"), "{out}");
    // Every line sent was shipped.
    let shipped: usize = out
        .lines()
        .find_map(|l| l.strip_prefix("shipper: ")?.strip_suffix(" lines in all"))
        .and_then(|n| n.parse().ok())
        .expect("the shipper's total");
    let sent_line = out
        .lines()
        .find(|l| l.starts_with("shipper: stopped after"))
        .expect("the shipper's exit");
    assert_eq!(
        sent_line,
        format!("shipper: stopped after {shipped} lines"),
        "{out}"
    );
    // The warmer waited out its 300 ms delay.
    let warmed = out
        .lines()
        .find_map(|l| l.strip_prefix("warmer: started "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|ms| ms.parse::<u64>().ok())
        .expect("the warmer's start");
    assert!(warmed >= 300, "{out}");
}

#[test]
fn the_manager_example_accounts_for_every_job_after_stop_and_halt() {
    let out = run("manager");
    let (stop, halt) = out.split_once("-- halt: abrupt").expect("both rounds");
    // Round one: at most two at once; every job either ran (and was stopped or ended)
    // or was handed back.
    let started = count(stop, ": started");
    let handed_back = count(stop, "handed back, never started");
    let exits = count(stop, "main: job #");
    assert_eq!(started, exits, "{out}");
    assert_eq!(exits + handed_back, 5, "{out}");
    assert_eq!(count(stop, ": stopped"), exits, "{out}");
    // Round two: the running crunchers were halted, the rest handed back.
    let halted = count(halt, ": halted");
    assert_eq!(halted, 2, "{out}");
    let line = halt
        .lines()
        .find(|l| l.ends_with("crunchers handed back, never started"))
        .expect("the hand-back");
    let handed_back: usize = line["main: ".len()..]
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .expect("a count");
    assert_eq!(halted + handed_back, 5, "{out}");
}

#[test]
fn the_supervised_example_restarts_escalates_and_reports_the_tree() {
    let out = run("supervised");
    // The flaky worker restarted in place three times and lost no job.
    assert!(
        out.contains("flaky: 9 jobs handled, 6 done, 3 restarts"),
        "{out}"
    );
    // The nested supervisor exceeded its intensity and failed to its parent, which
    // started a new one.
    assert!(
        out.contains("failed: gave up: restarts exceeded 1 within 10s"),
        "{out}"
    );
    assert!(out.contains("jobs: restarted fragile as #"), "{out}");
    // The tree, from the registry's parent ids, and the report with its parent column.
    let tree: Vec<&str> = out
        .lines()
        .skip_while(|l| *l != "the tree:")
        .skip(1)
        .take(7)
        .map(|l| l.split(" #").next().unwrap_or_default())
        .collect();
    assert_eq!(
        tree,
        [
            "  jobs",
            "    flaky",
            "    resizer",
            "      resizer",
            "      resizer",
            "    fragile",
            "      breaker"
        ],
        "{out}"
    );
    // The pool handled all ten images, on its two workers.
    assert!(out.contains("resizer: a pool of 2 workers"), "{out}");
    assert_eq!(count(&out, "resizer: image "), 10, "{out}");
    assert!(out.contains("shutdown on trigger"), "{out}");
    assert_eq!(count(&out, " stopped "), 7, "{out}");
    assert_eq!(count(&out, "    failed: broken"), 2, "{out}");
}

#[test]
fn the_configured_example_starts_its_threads_from_the_toml_file() {
    let out = run("configured");
    for name in ["digest", "flusher", "mailer"] {
        assert_eq!(count(&out, &format!("started {name} (#")), 1, "{out}");
        assert_eq!(count(&out, &format!("{name}: stopped")), 1, "{out}");
    }
    // The settings reached the factories, the defaults filled in what was left out.
    assert!(
        out.contains("mailer: mail to ada@example.com through smtp.example.com (2 retries)"),
        "{out}"
    );
    assert!(
        out.contains("flusher: flushed a batch of up to 64"),
        "{out}"
    );
    // The `threadward` tables changed the declarations: the digest runs every 50 ms
    // (not the declared 1 s) and saw every event; the flusher is a pool of 2; the
    // mailer restarted after its failed mail and then sent the next one.
    assert!(out.contains("digest: hourly digest every 50ms"), "{out}");
    assert!(out.contains("flusher: 2 workers"), "{out}");
    assert!(
        out.contains("mailer: stopped (2 handled, 1 restarts)"),
        "{out}"
    );
    assert!(
        out.contains("digest: 55 events, 3 digests or more"),
        "{out}"
    );
}

#[test]
fn the_configured_example_refuses_settings_that_do_not_fit() {
    let dir = std::env::temp_dir().join(format!("threadward-configured-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let config = dir.join("threads.toml");
    for (toml, error) in [
        (
            "[mailer]\nrelai = \"smtp.example.com\"\n",
            "the settings of thread `mailer` do not fit: unknown field `relai`",
        ),
        (
            "[flusher.threadward]\nevery = \"1s\"\n",
            "the settings of thread `flusher` do not fit: `threadward.every`: the type is declared without `every`",
        ),
    ] {
        std::fs::write(&config, toml).expect("write");
        let output = Command::new(service::example("configured"))
            .arg(&config)
            .output()
            .expect("run the example");
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(error), "{stderr}");
        assert!(
            String::from_utf8_lossy(&output.stdout).is_empty(),
            "nothing started"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
