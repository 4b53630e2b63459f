//! Whom the console serves: the `Host` header and the request's authority against DNS
//! rebinding, the names allowed, and HEAD answered as a GET would be. Each test has a
//! registry of its own and a console on a free loopback port.

mod support;

use std::io::{Read, Write};

use support::{console, get, raw, stop, BOUND};
use threadward::Registry;
use threadward_console::Console;

#[test]
fn only_requests_for_this_console_are_served() {
    let registry = Registry::new();
    let console = console(&registry);
    let address = console.address();
    let port = address.port();
    let with_host = |host: &str| {
        raw(
            address,
            &format!("GET /threads HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n\r\n"),
        )
        .status
    };
    for served in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("LOCALHOST:{port}"),
        format!("[::1]:{port}"),
    ] {
        assert_eq!(with_host(&served), 200, "{served}");
    }
    for refused in [
        format!("evil.example:{port}"),
        "evil.example".to_owned(),
        format!("127.0.0.1:{}", port.wrapping_add(1)),
        format!("127.0.0.1.evil.example:{port}"),
        format!("[::1]x:{port}"),
        format!("127.0.0.1:+{port}"),
        format!("[127.0.0.1]:{port}"),
        "127.0.0.1:".to_owned(),
    ] {
        assert_eq!(with_host(&refused), 421, "{refused}");
    }
    // HTTP/1.0 without a Host header.
    assert_eq!(raw(address, "GET /threads HTTP/1.0\r\n\r\n").status, 400);
    // A request line in absolute form names the host too: both names must be served.
    let absolute = |target: &str, host: &str| {
        let host = if host.is_empty() {
            String::new()
        } else {
            format!("host: {host}\r\n")
        };
        let head = format!("GET {target} HTTP/1.1\r\n{host}connection: close\r\n\r\n");
        raw(address, &head).status
    };
    let ours = format!("127.0.0.1:{port}");
    assert_eq!(absolute(&format!("http://{ours}/threads"), &ours), 200);
    assert_eq!(absolute("http://evil.example/threads", &ours), 421);
    assert_eq!(
        absolute(&format!("http://{ours}/threads"), "evil.example"),
        421
    );
    stop(&console);

    let named = Console::bind("127.0.0.1:0")
        .registry(&registry)
        .allow_host("Console.Test")
        .allow_host("ported.test:8443")
        .allow_host("proxied.test:443")
        .spawn()
        .unwrap();
    let with_host = |host: &str| {
        raw(
            named.address(),
            &format!("GET / HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n\r\n"),
        )
        .status
    };
    // A name allowed without a port, on any; with one, on that one, or on none if it
    // is a default port (a proxy in front).
    for served in [
        "console.test",
        "console.test:1234",
        "ported.test:8443",
        "proxied.test",
        "proxied.test:443",
    ] {
        assert_eq!(with_host(served), 200, "{served}");
    }
    for refused in [
        "ported.test",
        "ported.test:8444",
        "proxied.test:80",
        "console.test:x",
        "[console.test]",
    ] {
        assert_eq!(with_host(refused), 421, "{refused}");
    }
    stop(&named);
}

#[test]
fn a_mounted_console_checks_the_authority_of_a_request_without_a_host_header() {
    // As an HTTP/2 request arrives: the name in the target (`:authority`), no Host.
    let registry = Registry::new();
    let (handler, updating) = Console::mounted().registry(&registry).handler().unwrap();
    let status = |uri: &str| {
        let request = hyper::Request::get(uri).body(()).unwrap();
        handler.respond(&request).status().as_u16()
    };
    assert_eq!(status("http://127.0.0.1:8080/threads"), 200);
    assert_eq!(status("http://localhost/threads"), 200);
    assert_eq!(status("http://evil.example/threads"), 421);
    assert_eq!(status("/threads"), 400);
    updating.stop();
    updating.join_timeout(BOUND).unwrap();
}

#[test]
fn a_head_request_has_the_length_a_get_would_have_and_no_body() {
    let registry = Registry::new();
    let console = console(&registry);
    let script = get(console.address(), "/console.js");
    let mut stream = support::connect(console.address());
    let head = format!(
        "HEAD /console.js HTTP/1.1\r\nhost: {}\r\nconnection: close\r\n\r\n",
        console.address()
    );
    stream.write_all(head.as_bytes()).unwrap();
    let mut reader = std::io::BufReader::new(stream);
    let (status, headers) = support::read_head(&mut reader);
    assert_eq!(status, 200);
    let length = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .map(|(_, v)| v.clone());
    assert_eq!(length, Some(script.body.len().to_string()), "{headers:?}");
    let mut rest = Vec::new();
    let _ = reader.read_to_end(&mut rest);
    assert!(rest.is_empty(), "a body after a HEAD: {rest:?}");
    stop(&console);
}
