//! End to end: the notifier example as a real process on a free port, driven with curl.
//! Posts 1,000 notifications from four client threads, sends every kind of bad input,
//! reads `/threads`, then SIGTERM (or SIGINT): the exit code must be 0 and every
//! accepted id must appear delivered exactly once in the service's own log lines.
//! A second run with slow delivery fills the bounded queue and checks the 503s.

mod service;

use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use service::Service;

/// `curl`, returning (status, headers and body).
fn curl(args: &[&str]) -> (u16, String) {
    let output = Command::new("curl")
        .args(["-s", "-i", "--max-time", "10"])
        .args(args)
        .output()
        .expect("run curl (install it: apt-get install curl)");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP status from curl {args:?}: {text}"));
    (status, text)
}

fn post(base: &str, body: &str) -> (u16, String) {
    let url = format!("{base}/task");
    curl(&[
        "-X",
        "POST",
        &url,
        "-H",
        "Content-Type: application/json",
        "--data-binary",
        body,
    ])
}

/// The id in a `202 {"id": N}` response.
fn accepted_id(response: &str) -> u64 {
    let body = response.rsplit("\r\n\r\n").next().unwrap_or_default();
    let value: serde_json::Value = serde_json::from_str(body).expect("a JSON body");
    value["id"].as_u64().expect("an id")
}

#[test]
fn the_service_accepts_rejects_reports_and_stops_without_losing_a_task() {
    let mut service = Service::start(1, &[]);

    let accepted: Vec<u64> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..4)
            .map(|worker| {
                let url = service.url.clone();
                scope.spawn(move || {
                    let mut ids = Vec::new();
                    for n in 0..250 {
                        let body = format!(
                            r#"{{"recipient": "user{worker}@example.com", "text": "note {n}"}}"#
                        );
                        let (status, response) = post(&url, &body);
                        match status {
                            202 => ids.push(accepted_id(&response)),
                            // A full queue is backpressure, not an error: nothing accepted.
                            503 => assert!(
                                response.to_ascii_lowercase().contains("retry-after: 1"),
                                "{response}"
                            ),
                            other => panic!("unexpected {other}: {response}"),
                        }
                    }
                    ids
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    assert!(
        accepted.len() > 500,
        "most posts are accepted: {}",
        accepted.len()
    );

    let (status, body) = post(&service.url, "{not json");
    assert_eq!(status, 400, "{body}");
    assert!(body.contains(r#""error""#), "a JSON error body: {body}");
    let (status, _) = post(&service.url, r#"{"recipient": "x"}"#);
    assert_eq!(status, 400, "a missing field is malformed too");
    let big = format!(
        r#"{{"recipient": "x", "text": "{}"}}"#,
        "a".repeat(70 * 1024)
    );
    assert_eq!(post(&service.url, &big).0, 413);
    assert_eq!(curl(&[&format!("{}/task", service.url)]).0, 405);
    assert_eq!(
        curl(&["-X", "DELETE", &format!("{}/threads", service.url)]).0,
        405
    );
    assert_eq!(curl(&[&format!("{}/nope", service.url)]).0, 404);
    let (status, body) = curl(&[&format!("{}/healthz", service.url)]);
    assert_eq!(status, 200, "{body}");

    let (status, body) = curl(&[&format!("{}/threads", service.url)]);
    assert_eq!(status, 200);
    let json = body.rsplit("\r\n\r\n").next().unwrap_or_default();
    let snapshot: serde_json::Value = serde_json::from_str(json).expect("JSON");
    assert_eq!(snapshot["schema"], 1, "{snapshot}");
    let threads = &snapshot["threads"];
    let names: Vec<&str> = threads
        .as_array()
        .expect("an array")
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["notification", "http"]);
    for field in [
        "id",
        "state",
        "handled",
        "queue_depth",
        "started_at_unix_ms",
        "last_woken_ms_ago",
        "last_checkpoint",
        "idle",
        "capacity",
        "refused",
    ] {
        assert!(threads[0].get(field).is_some(), "`{field}` in {threads}");
    }

    let code = service.stop("TERM");
    assert_eq!(code, 0, "log: {:#?}", service.log);
    service.assert_delivered_exactly_once(&accepted);
    assert!(service
        .log
        .iter()
        .any(|l| l.starts_with("shutdown on SIGTERM (15)")));
    // The server stopped first: it is first in the report's stop order.
    let rows: Vec<&String> = service
        .log
        .iter()
        .filter(|l| l.starts_with("  http ") || l.starts_with("  notification "))
        .collect();
    assert!(rows[0].starts_with("  http "), "{rows:?}");
}

#[test]
fn a_full_queue_answers_503_with_retry_after_and_sigint_drains_it() {
    // Deliveries take 50 ms; eight clients post until one is refused (bounded), so the
    // queue of 64 overflows however slowly a loaded machine runs the clients.
    const MAX_POSTS: usize = 2_000;
    let mut service = Service::start(50, &[]);
    let posted = AtomicUsize::new(0);
    let refused_seen = AtomicBool::new(false);
    let (accepted, refused) = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..8)
            .map(|_| {
                let url = service.url.clone();
                let (posted, refused_seen) = (&posted, &refused_seen);
                scope.spawn(move || {
                    let (mut ids, mut full) = (Vec::new(), 0);
                    while !refused_seen.load(Ordering::SeqCst)
                        && posted.fetch_add(1, Ordering::SeqCst) < MAX_POSTS
                    {
                        let (status, response) = post(&url, r#"{"recipient": "r", "text": "t"}"#);
                        match status {
                            202 => ids.push(accepted_id(&response)),
                            503 => {
                                assert!(
                                    response.to_ascii_lowercase().contains("retry-after: 1"),
                                    "{response}"
                                );
                                assert!(response.contains("queue full"), "{response}");
                                full += 1;
                                refused_seen.store(true, Ordering::SeqCst);
                            }
                            other => panic!("unexpected {other}: {response}"),
                        }
                    }
                    (ids, full)
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).fold(
            (Vec::new(), 0),
            |(mut ids, full), (more, f)| {
                ids.extend(more);
                (ids, full + f)
            },
        )
    });
    assert!(
        refused > 0,
        "{MAX_POSTS} posts against a queue of 64 at 50 ms a delivery never overflowed"
    );
    assert!(
        accepted.len() >= 64,
        "the queue filled up: {}",
        accepted.len()
    );
    let code = service.stop("INT");
    assert_eq!(code, 0, "log: {:#?}", service.log);
    service.assert_delivered_exactly_once(&accepted);
}
