//! The notifier example's shutdown under traffic, as a real process: requests in
//! flight on keep-alive connections when SIGTERM comes are answered, idle connections
//! are closed, a client mid-body waits no longer than the drain grace, and every id a
//! client was told 202 for is delivered exactly once; and a load of 20,000 posts from
//! 32 keep-alive connections, then SIGTERM, loses and doubles nothing. Every wait is
//! bounded.

mod service;

use std::time::{Duration, Instant};

use service::client::Client;
use service::Service;

const READS: Duration = Duration::from_secs(20);

/// Polls `/stats` (bounded) until the posts read by the server (accepted, or waiting
/// for room) reach `at_least`.
fn await_read(service: &Service, at_least: u64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let answer = service.request("GET", "/stats", None);
        let stats: serde_json::Value = serde_json::from_str(&answer.body).expect("JSON stats");
        let count = |field: &str| stats[field].as_u64().unwrap_or(0);
        if count("accepted") + count("waiting") >= at_least {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the server never read {at_least} posts: {stats}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn sigterm_answers_requests_in_flight_closes_idle_connections_and_loses_nothing() {
    // Deliveries take 20 ms; a post waits up to 10 s for room; the drain grace is 3 s.
    let mut service = Service::start(
        20,
        &[
            ("NOTIFIER_QUEUE_WAIT_MS", "10000"),
            ("NOTIFIER_DRAIN_MS", "3000"),
            ("NOTIFIER_TIMEOUT_MS", "30000"),
        ],
    );
    let body = r#"{"recipient": "r", "text": "t"}"#;
    let mut idle: Vec<Client> = (0..8)
        .map(|_| {
            let mut client = service.connect(READS);
            assert_eq!(client.request("GET", "/healthz", None).unwrap().status, 200);
            client
        })
        .collect();
    // Fill the queue (64) and more, then eight posts that wait for room.
    let mut accepted = Vec::new();
    let mut filler = service.connect(READS);
    for _ in 0..70 {
        let answer = filler
            .request("POST", "/task", Some(body))
            .expect("a fill answer");
        assert_eq!(answer.status, 202, "{answer:?}");
        accepted.push(answer.id().expect("an id"));
    }
    let mut in_flight: Vec<Client> = (0..8)
        .map(|_| {
            let mut client = service.connect(READS);
            client.send("POST", "/task", Some(body)).expect("send");
            client
        })
        .collect();
    // Read by the server: most still await room when the signal comes.
    await_read(&service, 70 + 8);
    // A client in the middle of its body: the drain grace bounds its wait.
    let mut mid_body = service.connect(READS);
    mid_body
        .send_raw(b"POST /task HTTP/1.1\r\nhost: t\r\ncontent-length: 500\r\n\r\n{\"recip")
        .expect("send");

    service.signal("TERM");
    let signalled = Instant::now();
    for client in &mut in_flight {
        let answer = client
            .answer(false)
            .expect("a request in flight was answered");
        match answer.status {
            202 => accepted.push(answer.id().expect("an id")),
            503 => {}
            other => panic!("in flight: {other} {answer:?}"),
        }
        assert!(client.closed_by_server(), "kept alive through the drain");
    }
    for client in &mut idle {
        assert!(
            client.closed_by_server(),
            "an idle connection was left open"
        );
    }
    // Answered (408 or 503) or closed, but within the grace and slack.
    if let Ok(answer) = mid_body.answer(false) {
        assert!(answer.status >= 400, "{answer:?}");
    }
    assert!(mid_body.closed_by_server());
    assert!(
        signalled.elapsed() < Duration::from_secs(3 + 3),
        "a client waited {:?} for the drain",
        signalled.elapsed()
    );

    assert_eq!(service.wait_exit(), 0, "log: {:#?}", service.log);
    service.assert_delivered_exactly_once(&accepted);
}

#[test]
fn a_full_queue_of_slow_deliveries_is_delivered_within_the_grace() {
    // 64 deliveries of 200 ms take 13 s: longer than a fixed 10 s grace would allow.
    let mut service = Service::start(200, &[("NOTIFIER_QUEUE_WAIT_MS", "0")]);
    let mut client = service.connect(READS);
    let mut accepted = Vec::new();
    while accepted.len() < 64 {
        let answer = client
            .request("POST", "/task", Some(r#"{"recipient": "r", "text": "t"}"#))
            .expect("an answer");
        match answer.status {
            202 => accepted.push(answer.id().expect("an id")),
            503 => break, // full already: the queue holds what it accepted
            other => panic!("unexpected {other}: {answer:?}"),
        }
    }
    assert!(accepted.len() >= 60, "the queue filled: {}", accepted.len());
    assert_eq!(service.stop("TERM"), 0, "log: {:#?}", service.log);
    service.assert_delivered_exactly_once(&accepted);
}

#[test]
fn a_load_of_keep_alive_posts_then_sigterm_delivers_every_accepted_id_exactly_once() {
    const CONNECTIONS: usize = 32;
    const POSTS: usize = 20_000;
    let mut service = Service::start(0, &[]);
    let address = service.address;
    let started = Instant::now();
    let (accepted, refused) = std::thread::scope(|scope| {
        let clients: Vec<_> = (0..CONNECTIONS)
            .map(|n| {
                scope.spawn(move || {
                    let mut client = Client::connect(address, READS).expect("connect");
                    let (mut ids, mut full) = (Vec::new(), 0);
                    for post in 0..POSTS / CONNECTIONS {
                        let body = format!(r#"{{"recipient": "c{n}", "text": "{post}"}}"#);
                        let answer = client
                            .request("POST", "/task", Some(&body))
                            .expect("answer");
                        match answer.status {
                            202 => ids.push(answer.id().expect("an id")),
                            503 if answer.body.contains("queue full") => full += 1,
                            other => panic!("unexpected {other}: {answer:?}"),
                        }
                    }
                    (ids, full)
                })
            })
            .collect();
        clients.into_iter().map(|c| c.join().expect("client")).fold(
            (Vec::new(), 0),
            |(mut ids, full), (more, f)| {
                ids.extend(more);
                (ids, full + f)
            },
        )
    });
    println!(
        "{} posts in {:?}: {} accepted, {refused} refused (queue full)",
        POSTS,
        started.elapsed(),
        accepted.len()
    );
    assert_eq!(accepted.len() + refused, POSTS);
    assert!(!accepted.is_empty());
    assert_eq!(service.stop("TERM"), 0, "log: {:#?}", service.log.len());
    service.assert_delivered_exactly_once(&accepted);
}
