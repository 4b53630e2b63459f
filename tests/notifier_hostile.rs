//! The notifier example against hostile clients, as a real process: lengths that would
//! exhaust memory, bodies and headers that never finish, bytes trickled one at a time,
//! an HTTP/2.0 request line, hundreds of idle connections, pipelining, HTTP/1.0
//! keep-alive, bodies of the wrong shape and text that tries to forge log lines. After
//! each, `/healthz` must still answer quickly; afterwards threads and descriptors are
//! back where they started, the process is alive and exits cleanly, and nothing but the
//! valid notifications was delivered. A second run holds the connection bound, a third
//! runs out of file descriptors. Every wait is bounded.

mod service;

use std::time::{Duration, Instant};

use service::client::Client;
use service::Service;

/// How long a client may wait for what the service's timeout (2 s in these runs)
/// promises: the timeout, and slack for a loaded machine.
const CUT_WITHIN: Duration = Duration::from_secs(8);

fn hardened(extra: &[(&str, &str)]) -> Service {
    let mut env = vec![("NOTIFIER_TIMEOUT_MS", "2000")];
    env.extend_from_slice(extra);
    Service::start(1, &env)
}

/// `/healthz` answers at once while the service is under attack: each probe must
/// answer (a freeze fails the test at the read timeout), and the fastest of up to five
/// within 100 ms (one slow probe on a loaded machine is not a freeze).
fn assert_healthy(service: &Service, during: &str) {
    let mut fastest = Duration::MAX;
    for _ in 0..5 {
        let asked = Instant::now();
        let answer = service.request("GET", "/healthz", None);
        assert_eq!(answer.status, 200, "during {during}: {answer:?}");
        fastest = fastest.min(asked.elapsed());
        if fastest <= Duration::from_millis(100) {
            return;
        }
    }
    panic!("/healthz took {fastest:?} at best during {during}");
}

/// A connection that sent `bytes` and nothing more.
fn sent(service: &Service, bytes: &[u8]) -> Client {
    let mut client = service.connect(CUT_WITHIN);
    client.send_raw(bytes).expect("send");
    client
}

#[test]
fn hostile_clients_are_refused_or_cut_off_and_the_service_carries_on() {
    let mut service = hardened(&[]);
    assert_healthy(&service, "warm-up");
    let before = service.resources();

    huge_lengths(&service);
    slow_clients(&service);
    protocol_edges(&service);
    let accepted = routes_and_shapes(&service);
    let during = idle_flood(&service, before);

    // Everything is back where it started. (The baseline may still count the last
    // warm-up connection, which the service closes when it sees the client's end.)
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut after = service.resources();
    while after.0 != before.0 || after.1 > before.1 {
        assert!(
            Instant::now() < deadline,
            "threads, fds, RSS KiB: before {before:?}, after {after:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
        after = service.resources();
    }
    println!("threads, fds, RSS KiB: before {before:?}, with 500 idle {during:?}, after {after:?}");
    assert!(service.is_running(), "the service died");

    assert_eq!(service.stop("TERM"), 0, "log: {:#?}", service.log);
    service.assert_delivered_exactly_once(&accepted);
    for line in &service.log {
        assert!(!line.starts_with("FORGED"), "a forged log line: {line:?}");
        assert!(
            !line.contains(['\u{1b}', '\0']),
            "raw control characters: {line:?}"
        );
    }
}

fn huge_lengths(service: &Service) {
    // A declared length over the limit: 413 before anything is read or allocated.
    let mut huge = sent(
        service,
        b"POST /task HTTP/1.1\r\nhost: t\r\ncontent-length: 100000000000\r\n\r\n{",
    );
    assert_eq!(huge.answer(false).expect("an answer").status, 413);
    assert!(huge.closed_by_server());
    for overflowing in ["18446744073709551615", "99999999999999999999999", "-1"] {
        let head =
            format!("POST /task HTTP/1.1\r\nhost: t\r\ncontent-length: {overflowing}\r\n\r\n{{");
        let mut client = sent(service, head.as_bytes());
        let answer = client.answer(false).expect("an answer");
        assert!(
            (400..500).contains(&answer.status),
            "{overflowing}: {answer:?}"
        );
        assert!(client.closed_by_server(), "{overflowing}: left open");
    }
    assert_healthy(service, "huge lengths");
}

fn slow_clients(service: &Service) {
    // A body cut short (the client gave up): never accepted.
    let truncated = b"POST /task HTTP/1.1\r\nhost: t\r\ncontent-length: 5000\r\n\r\n{\"recipient\": \"cut\", \"text\"";
    let mut client = sent(service, truncated);
    client.finish_sending().expect("shutdown");
    let answer = client
        .answer(false)
        .expect("an answer to the truncated body");
    assert_eq!(answer.status, 400, "{answer:?}");

    // A body that stalls: 408 once the timeout ran out; meanwhile others are served.
    let mut stalled_body = sent(service, truncated);
    // Headers that stall, and headers trickled a byte per 100 ms: closed at the timeout.
    let mut stalled_head = sent(service, b"POST /task HTTP/1.1\r\nhost: t\r\n");
    let started = Instant::now();
    let trickle = {
        let mut client = service.connect(CUT_WITHIN);
        std::thread::spawn(move || {
            let started = Instant::now();
            for byte in b"GET /healthz HTTP/1.1\r\nx-slow: "
                .iter()
                .chain(&[b'a'; 200])
            {
                if client.send_raw(&[*byte]).is_err() {
                    return started.elapsed();
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            assert!(client.closed_by_server(), "a trickle was never cut off");
            started.elapsed()
        })
    };
    assert_healthy(service, "stalled bodies and headers and a trickle");
    let answer = stalled_body
        .answer(false)
        .expect("an answer to the stalled body");
    assert_eq!(answer.status, 408, "{answer:?}");
    assert!(stalled_body.closed_by_server());
    assert!(stalled_head.closed_by_server(), "stalled headers left open");
    assert!(
        started.elapsed() < CUT_WITHIN,
        "cut off after {:?}",
        started.elapsed()
    );
    let trickled = trickle.join().expect("the trickling client");
    assert!(trickled < CUT_WITHIN, "a trickle held on for {trickled:?}");
}

fn protocol_edges(service: &Service) {
    // HTTP/2.0 is not spoken: an error status or a closed connection, nothing held.
    let mut h2 = sent(service, b"GET /healthz HTTP/2.0\r\nhost: t\r\n\r\n");
    let answer = h2.answer(false).expect("an answer to HTTP/2.0");
    assert!(answer.status >= 400, "{answer:?}");
    assert!(h2.closed_by_server());

    // Pipelined requests are answered in order, on one connection.
    let mut pipelined = sent(
        service,
        b"GET /healthz HTTP/1.1\r\nhost: t\r\n\r\nHEAD /healthz HTTP/1.1\r\nhost: t\r\n\r\nGET /nope HTTP/1.1\r\nhost: t\r\n\r\n",
    );
    // A body after the HEAD's answer would be read as the 404's status line.
    let statuses: Vec<u16> = [false, true, false]
        .iter()
        .map(|&head| pipelined.answer(head).expect("pipelined answer").status)
        .collect();
    assert_eq!(statuses, [200, 200, 404]);

    // HTTP/1.0 keep-alive is honoured and said so.
    let mut old = service.connect(CUT_WITHIN);
    for _ in 0..2 {
        old.send_raw(b"GET /healthz HTTP/1.0\r\nconnection: keep-alive\r\n\r\n")
            .expect("send");
        let answer = old.answer(false).expect("an HTTP/1.0 answer");
        assert_eq!(answer.status, 200);
        assert_eq!(answer.header("connection"), Some("keep-alive"));
    }
}

/// Routing, the body's shape, and a forging attempt; the ids accepted.
fn routes_and_shapes(service: &Service) -> Vec<u64> {
    // Routing and shapes.
    let checks: [(&str, &str, Option<&str>, u16); 9] = [
        ("HEAD", "/healthz", None, 200),
        ("GET", "/healthz?probe=1", None, 200),
        ("GET", "/recent", None, 200),
        ("POST", "/task", Some(r#"["alice", "hi"]"#), 400),
        (
            "POST",
            "/task",
            Some(r#"{"recipient": "a", "text": "t", "extra": 1}"#),
            400,
        ),
        (
            "POST",
            "/task",
            Some(r#"{"recipient": " ", "text": "t"}"#),
            400,
        ),
        ("POST", "/task", Some("42"), 400),
        ("PUT", "/healthz", None, 405),
        ("GET", "/task", None, 405),
    ];
    for (method, path, body, status) in checks {
        let answer = service.request(method, path, body);
        assert_eq!(
            answer.status, status,
            "{method} {path} {body:?}: {answer:?}"
        );
        if status == 405 {
            assert!(
                answer.header("allow").is_some(),
                "405 without Allow: {answer:?}"
            );
        }
    }

    // Text that tries to forge a log line, with a terminal escape and a NUL.
    let forged =
        r#"{"recipient": "a\nFORGED sent notification #999999\u001b[31m\u0000", "text": "t"}"#;
    let answer = service.request("POST", "/task", Some(forged));
    assert_eq!(answer.status, 202, "{answer:?}");
    vec![answer.id().expect("an id")]
}

/// Five hundred idle connections: served around, then closed at the timeout. The
/// resources while they were open.
fn idle_flood(service: &Service, before: (usize, usize, u64)) -> (usize, usize, u64) {
    let mut idle: Vec<Client> = (0..500).map(|_| service.connect(CUT_WITHIN)).collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut during = service.resources();
    // Held at once (all but a few: on a loaded machine the first may already be past
    // the 2 s timeout, and the baseline may count a warm-up connection since closed).
    while during.1 < before.1 + 450 {
        assert!(
            Instant::now() < deadline,
            "500 connections never accepted: {during:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
        during = service.resources();
    }
    assert_healthy(service, "500 idle connections");
    for client in &mut idle {
        assert!(
            client.closed_by_server(),
            "an idle connection was left open"
        );
    }
    drop(idle);
    during
}

#[test]
fn beyond_the_connection_bound_a_client_gets_503_and_the_listener_lives() {
    // A long timeout: the held connections stay open however slow the machine.
    let service = hardened(&[
        ("NOTIFIER_MAX_CONNECTIONS", "8"),
        ("NOTIFIER_TIMEOUT_MS", "30000"),
    ]);
    // Eight connections, each answered once: all accepted and held.
    let mut held: Vec<Client> = (0..8)
        .map(|_| {
            let mut client = service.connect(CUT_WITHIN);
            let answer = client.request("GET", "/healthz", None).expect("answer");
            assert_eq!(answer.status, 200);
            client
        })
        .collect();
    let mut ninth = service.connect(CUT_WITHIN);
    let answer = ninth.request("GET", "/healthz", None).expect("a 503");
    assert_eq!(answer.status, 503, "{answer:?}");
    assert_eq!(answer.header("retry-after"), Some("1"));
    assert!(ninth.closed_by_server());
    // One leaves: the next client is served again, by the same listener.
    drop(held.pop());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(answer) = service.connect(CUT_WITHIN).request("GET", "/healthz", None) {
            if answer.status == 200 {
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "never served again after a client left"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn running_out_of_file_descriptors_is_logged_and_recovered_from() {
    let mut service = Service::start_with_fd_limit(64, &[("NOTIFIER_TIMEOUT_MS", "30000")]);
    assert_healthy(&service, "start-up under a low fd limit");
    // More connections than descriptors: the kernel queues them, the service cannot
    // take them all.
    let flood: Vec<Client> = (0..100).map(|_| service.connect(CUT_WITHIN)).collect();
    service.wait_for_log("cannot accept connections");
    drop(flood);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(answer) = service.connect(CUT_WITHIN).request("GET", "/healthz", None) {
            assert_eq!(answer.status, 200);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "never accepted again: {:#?}",
            service.log
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    service.wait_for_log("accepting connections again");
    assert!(service.is_running());
    assert_eq!(service.stop("TERM"), 0, "log: {:#?}", service.log);
}
