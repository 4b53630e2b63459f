//! The notifier with `--console`: it says where the console is, the page and the
//! threads are served there, and it is safe by default (no action without a token, no
//! foreign `Host`), and a page left open during a SIGTERM sees the shutdown end. Without
//! the flag there is no console.

mod service;

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::time::Duration;

use service::client::{Answer, Client};
use service::Service;

fn ask(address: SocketAddr, head: &str) -> Answer {
    let mut client = Client::connect(address, Duration::from_secs(10)).expect("connect");
    client.send_raw(head.as_bytes()).expect("send");
    client.answer(head.starts_with("HEAD")).expect("an answer")
}

/// Starts the notifier with a console on a free port; the console's address.
fn with_console() -> (Service, SocketAddr) {
    let mut service = Service::start_with_args(1, &["--console", "127.0.0.1:0"], &[]);
    service.wait_for_log("console on http://");
    let url = service
        .log
        .iter()
        .find_map(|line| line.strip_prefix("console on http://"))
        .expect("the console's line")
        .trim_end_matches('/')
        .to_owned();
    let address: SocketAddr = url.parse().expect("an address");
    assert!(address.ip().is_loopback());
    (service, address)
}

#[test]
fn the_notifier_serves_its_console_safely() {
    let (mut service, address) = with_console();

    let page = ask(
        address,
        &format!("GET / HTTP/1.1\r\nhost: {address}\r\n\r\n"),
    );
    assert_eq!(page.status, 200);
    assert!(page.body.contains("threadward console"));
    let threads = ask(
        address,
        &format!("GET /threads HTTP/1.1\r\nhost: {address}\r\n\r\n"),
    );
    assert_eq!(threads.status, 200);
    for name in ["\"notification\"", "\"http\"", "\"threadward-console\""] {
        assert!(threads.body.contains(name), "{name} in {}", threads.body);
    }
    // An action without a token: refused.
    let stop = ask(
        address,
        &format!("POST /threads/1/stop HTTP/1.1\r\nhost: {address}\r\ncontent-length: 0\r\n\r\n"),
    );
    assert!(matches!(stop.status, 401 | 403), "{stop:?}");
    // A page of another site whose name points here (DNS rebinding): refused.
    let rebound = ask(
        address,
        &format!(
            "GET /threads HTTP/1.1\r\nhost: evil.example:{}\r\n\r\n",
            address.port()
        ),
    );
    assert!(matches!(rebound.status, 403 | 421), "{rebound:?}");
    // Nothing was stopped: the notifier still takes work.
    let posted = service.request(
        "POST",
        "/task",
        Some(r#"{"recipient": "a@b.c", "text": "hi"}"#),
    );
    assert_eq!(posted.status, 202);

    assert_eq!(service.stop("TERM"), 0, "log: {:#?}", service.log);
    // The console was stopped last, after the report's threads.
    let ended: Vec<&str> = service
        .log
        .iter()
        .filter_map(|line| line.split("ended thread=\"").nth(1))
        .filter_map(|rest| rest.split('"').next())
        .collect();
    assert_eq!(ended.last(), Some(&"threadward-console"), "{ended:?}");
}

#[test]
fn without_the_flag_there_is_no_console() {
    let mut service = Service::start(1, &[]);
    let threads = service.request("GET", "/threads", None);
    assert!(
        !threads.body.contains("threadward-console"),
        "{}",
        threads.body
    );
    assert!(!service.log.iter().any(|line| line.contains("console on")));
    assert_eq!(service.stop("TERM"), 0);
}

/// How a page's event stream ended: its `data` lines, and whether the server closed it
/// (rather than the read timing out).
struct Seen {
    data: Vec<String>,
    closed: bool,
}

#[test]
fn a_page_left_open_during_a_sigterm_sees_the_shutdown_end() {
    let (mut service, address) = with_console();
    let mut stream = TcpStream::connect(address).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let head = format!("GET /threads/events HTTP/1.1\r\nhost: {address}\r\n\r\n");
    stream.write_all(head.as_bytes()).expect("send");
    let (first, opened) = mpsc::channel();
    let page = std::thread::spawn(move || {
        let mut seen = Seen {
            data: Vec::new(),
            closed: false,
        };
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) => {
                    seen.closed = true;
                    return seen;
                }
                Ok(_) => {}
                Err(_) => return seen,
            }
            // Chunked: the event's lines come whole, among the chunks' sizes.
            if let Some(data) = line.trim_end().strip_prefix("data: ") {
                seen.data.push(data.to_owned());
                let _ = first.send(());
            }
        }
    });
    opened
        .recv_timeout(Duration::from_secs(30))
        .expect("a first update");
    // SIGTERM with the page still open: the notifier ends cleanly (within the bound).
    assert_eq!(service.stop("TERM"), 0, "log: {:#?}", service.log);
    let seen = page.join().expect("the page's reader");
    assert!(seen.closed, "the stream was never closed");
    let last = seen.data.last().expect("updates");
    let last: serde_json::Value = serde_json::from_str(last).expect("JSON");
    let shutdown = &last["shutdown"];
    assert_eq!(shutdown["step"], "ended", "{last}");
    let report = shutdown["report"].as_str().expect("the report");
    assert!(report.contains("notification"), "{report}");
}
