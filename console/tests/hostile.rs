//! The console against hostile clients, in process: what the notifier's front survives
//! (the two share the server), the console survives too. Lengths that would exhaust
//! memory, heads that never finish or trickle, more connections than allowed, another
//! protocol, pipelining, bytes that are not HTTP. After each, `/threads` still answers;
//! afterwards no descriptor is left open. Every wait is bounded.

mod support;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use support::{connect, get, raw, read_answer, BOUND};
use threadward::Registry;
use threadward_console::server::Limits;
use threadward_console::Console;

/// The server's timeout in these runs, and how long a client may wait for what it
/// promises on a loaded machine.
const TIMEOUT: Duration = Duration::from_secs(1);
const CUT_WITHIN: Duration = Duration::from_secs(8);

fn healthy(address: SocketAddr, during: &str) {
    let answer = get(address, "/threads");
    assert_eq!(answer.status, 200, "during {during}: {answer:?}");
}

/// Whether the server closed the connection (end of stream or reset) within the bound.
fn closed_by_server(stream: &mut std::net::TcpStream) -> bool {
    stream.set_read_timeout(Some(CUT_WITHIN)).unwrap();
    let mut sink = [0; 4096];
    loop {
        match stream.read(&mut sink) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) => {
                return !matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                )
            }
        }
    }
}

fn open_descriptors() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, Iterator::count)
}

#[test]
fn hostile_clients_are_refused_or_cut_off_and_the_console_carries_on() {
    let registry = Registry::new();
    let console = Console::bind("127.0.0.1:0")
        .registry(&registry)
        .limits(Limits::default().timeout(TIMEOUT).max_connections(64))
        .spawn()
        .unwrap();
    let address = console.address();
    healthy(address, "warm-up");
    let before = open_descriptors();

    huge_lengths(address);
    slow_heads(address);
    junk_and_pipelining(address);
    more_connections_than_allowed(address);
    odd_paths(address);

    // Nothing is left open.
    let deadline = Instant::now() + BOUND;
    while open_descriptors() > before {
        assert!(
            Instant::now() < deadline,
            "descriptors: {before} before, {} after",
            open_descriptors()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    console.handle().stop();
    console.handle().join_timeout(BOUND).unwrap();
}

fn huge_lengths(address: SocketAddr) {
    // A declared length no one should allocate: answered without reading the body.
    let mut huge = connect(address);
    huge.write_all(format!("POST /threads/1/stop HTTP/1.1\r\nhost: {address}\r\ncontent-length: 100000000000\r\n\r\n{{").as_bytes()).unwrap();
    let answer = read_answer(&mut std::io::BufReader::new(huge.try_clone().unwrap()));
    assert!((400..500).contains(&answer.status), "{answer:?}");
    assert!(
        closed_by_server(&mut huge),
        "left open after a huge body was declared"
    );
    for overflowing in ["18446744073709551615", "99999999999999999999999", "-1"] {
        let answer = raw(
            address,
            &format!("POST / HTTP/1.1\r\nhost: {address}\r\ncontent-length: {overflowing}\r\n\r\n"),
        );
        assert!(
            (400..500).contains(&answer.status),
            "{overflowing}: {answer:?}"
        );
    }
    healthy(address, "huge lengths");

    // Headers too large: refused.
    let big = format!(
        "GET /threads HTTP/1.1\r\nhost: {address}\r\nx-big: {}\r\n\r\n",
        "a".repeat(1 << 20)
    );
    let mut client = connect(address);
    let _ = client.write_all(big.as_bytes());
    let answer = read_answer(&mut std::io::BufReader::new(client));
    assert!((400..500).contains(&answer.status), "{}", answer.status);
    healthy(address, "huge headers");
}

fn slow_heads(address: SocketAddr) {
    // A head that stalls, and one trickled a byte every 100 ms: cut at the timeout.
    let started = Instant::now();
    let mut stalled = connect(address);
    stalled
        .write_all(b"GET /threads HTTP/1.1\r\nhost: ")
        .unwrap();
    let trickle = std::thread::spawn(move || {
        let mut client = connect(address);
        for byte in b"GET /threads HTTP/1.1\r\nx-slow: "
            .iter()
            .chain(&[b'a'; 200])
        {
            if client.write_all(&[*byte]).is_err() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        closed_by_server(&mut client)
    });
    healthy(address, "slow heads");
    assert!(
        closed_by_server(&mut stalled),
        "a stalled head was never cut off"
    );
    assert!(trickle.join().unwrap(), "a trickled head was never cut off");
    assert!(started.elapsed() < CUT_WITHIN * 3);
}

fn junk_and_pipelining(address: SocketAddr) {
    // Another protocol, and bytes that are not HTTP: refused or closed.
    for junk in [
        &b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"[..],
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
        b"\0\0\0\0GET / HTTP/1.1\r\n\r\n",
    ] {
        let mut client = connect(address);
        let _ = client.write_all(junk);
        assert!(closed_by_server(&mut client), "left open after {junk:?}");
    }
    healthy(address, "junk");

    // Pipelined requests are answered in order.
    let mut pipelined = connect(address);
    let head = format!("GET /console.css HTTP/1.1\r\nhost: {address}\r\n\r\n");
    pipelined
        .write_all(
            format!(
                "{head}{head}GET /threads HTTP/1.1\r\nhost: {address}\r\nconnection: close\r\n\r\n"
            )
            .as_bytes(),
        )
        .unwrap();
    let mut reader = std::io::BufReader::new(pipelined);
    for expected in [
        "text/css; charset=utf-8",
        "text/css; charset=utf-8",
        "application/json",
    ] {
        let answer = read_answer(&mut reader);
        assert_eq!(
            (answer.status, answer.header("content-type")),
            (200, Some(expected))
        );
    }
}

fn more_connections_than_allowed(address: SocketAddr) {
    // More connections than allowed: the ones beyond are told 503 and closed, and the
    // console serves again once they go.
    let idle: Vec<_> = (0..64).map(|_| connect(address)).collect();
    std::thread::sleep(Duration::from_millis(200));
    let beyond = raw(
        address,
        &format!("GET /threads HTTP/1.1\r\nhost: {address}\r\n\r\n"),
    );
    assert_eq!(beyond.status, 503, "{beyond:?}");
    drop(idle);
    let deadline = Instant::now() + BOUND;
    while raw(
        address,
        &format!("GET /threads HTTP/1.1\r\nhost: {address}\r\nconnection: close\r\n\r\n"),
    )
    .status
        != 200
    {
        assert!(Instant::now() < deadline, "never served again");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn odd_paths(address: SocketAddr) {
    // Paths and queries of every shape: answered, never a crash.
    for path in [
        "/threads/%00/stop",
        "/threads/99999999999999999999999/halt",
        "/threads/1/stop/again",
        "/threads?format=text&format=text",
        "//threads",
        "/threads/../threads",
    ] {
        let answer = raw(
            address,
            &format!("GET {path} HTTP/1.1\r\nhost: {address}\r\nconnection: close\r\n\r\n"),
        );
        assert!(answer.status < 500, "{path}: {answer:?}");
    }
    let long = format!("/{}", "a".repeat(60_000));
    let answer = raw(
        address,
        &format!("GET {long} HTTP/1.1\r\nhost: {address}\r\nconnection: close\r\n\r\n"),
    );
    assert!(
        answer.status < 500 && answer.status >= 400,
        "{}",
        answer.status
    );
    healthy(address, "odd paths");
}
