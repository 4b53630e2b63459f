//! The console over HTTP, in process: what it serves, to whom, and how safely. Each test
//! has a registry of its own and a console on a free loopback port.

mod support;

use std::io::{Read, Write};
use std::time::Duration;

use support::{events, eventually, get, raw, request, thread, BOUND};
use threadward::{Context, Registry};
use threadward_console::{Console, ConsoleError, Running};

const TOKEN: &str = "0123456789abcdef-secret";

fn console(registry: &Registry) -> Running {
    Console::bind("127.0.0.1:0")
        .registry(registry)
        .interval(Duration::from_millis(20))
        .spawn()
        .expect("the console starts")
}

fn sleeper(
    registry: &Registry,
    name: &'static str,
) -> threadward::Handle<threadward::ClosureThread> {
    threadward::thread(name)
        .spawn_in(registry, |ctx: &Context| {
            ctx.sleep(Duration::from_secs(600));
            Ok(())
        })
        .unwrap()
}

fn stop(console: &Running) {
    console.handle().stop();
    console
        .handle()
        .join_timeout(BOUND)
        .expect("the console stops");
}

#[test]
fn the_page_comes_with_a_strict_policy_no_inline_script_and_no_cors() {
    let registry = Registry::new();
    let console = console(&registry);
    let page = get(console.address(), "/");
    assert_eq!(page.status, 200);
    assert!(page
        .header("content-type")
        .unwrap()
        .starts_with("text/html"));
    let policy = page.header("content-security-policy").expect("a policy");
    assert!(
        policy.contains("script-src 'self'") && policy.contains("default-src 'none'"),
        "{policy}"
    );
    assert!(!policy.contains("unsafe"), "{policy}");
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
    // Every script is a file; no element carries a handler.
    for script in page.body.split("<script").skip(1) {
        let (attributes, rest) = script.split_once('>').unwrap();
        assert!(attributes.contains("src="), "an inline script: {script}");
        assert!(rest.starts_with("</script>"), "an inline script: {script}");
    }
    assert!(
        !page.body.contains(" on"),
        "an inline handler in {}",
        page.body
    );
    for path in [
        "/",
        "/console.js",
        "/console.css",
        "/threads",
        "/threads/events",
    ] {
        let preflight = request(
            console.address(),
            "OPTIONS",
            path,
            &[
                "origin: http://evil.example",
                "access-control-request-method: GET",
            ],
        );
        assert_eq!(preflight.status, 405, "{path}");
        assert!(
            !preflight
                .headers
                .iter()
                .any(|(n, _)| n.to_ascii_lowercase().starts_with("access-control")),
            "{path}: {preflight:?}"
        );
    }
    let script = get(console.address(), "/console.js");
    assert_eq!(
        (script.status, script.header("content-type")),
        (200, Some("text/javascript; charset=utf-8"))
    );
    assert!(
        !script.body.contains("innerHTML"),
        "the page writes text only"
    );
    stop(&console);
}

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
    ] {
        assert_eq!(with_host(&served), 200, "{served}");
    }
    for refused in [
        format!("evil.example:{port}"),
        "evil.example".to_owned(),
        format!("127.0.0.1:{}", port.wrapping_add(1)),
        format!("127.0.0.1.evil.example:{port}"),
        format!("[::1]x:{port}"),
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

#[test]
fn the_json_is_versioned_and_a_spawned_thread_shows_within_an_update() {
    let registry = Registry::new();
    let console = console(&registry);
    let address = console.address();
    let snapshot = get(address, "/threads").json();
    assert_eq!(snapshot["schema"], threadward_console::SCHEMA);
    eventually(
        || get(address, "/threads").json(),
        |s| thread(s, "threadward-console").is_some(),
    );
    let sleeper = sleeper(&registry, "sleeper");
    let seen = eventually(
        || get(address, "/threads").json(),
        |s| thread(s, "sleeper").is_some(),
    );
    let record = thread(&seen, "sleeper").unwrap();
    assert_eq!(record["id"], sleeper.id().as_u64());
    for field in [
        "idle",
        "capacity",
        "refused",
        "queue_depth",
        "rate",
        "stuck",
        "task_ms",
        "history",
    ] {
        assert!(record.get(field).is_some(), "`{field}` in {record}");
    }
    sleeper.stop();
    sleeper.join().unwrap();
    stop(&console);
}

#[test]
fn the_table_for_a_terminal_escapes_control_characters() {
    let registry = Registry::new();
    let console = console(&registry);
    let named = sleeper(&registry, "x\u{1b}[1m\u{202e}cod");
    let table = eventually(
        || get(console.address(), "/threads?format=text"),
        |answer| answer.body.contains("cod"),
    );
    assert_eq!(
        table.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert!(
        table.body.contains("x\\u{1b}[1m\\u{202e}cod"),
        "{}",
        table.body
    );
    assert!(
        !table.body.contains('\u{1b}') && !table.body.contains('\u{202e}'),
        "a raw escape or override reached the terminal"
    );
    named.stop();
    named.join().unwrap();
    stop(&console);
}

#[test]
fn the_event_stream_numbers_its_updates_pings_and_resumes() {
    let registry = Registry::new();
    let console = Console::bind("127.0.0.1:0")
        .registry(&registry)
        .interval(Duration::from_millis(20))
        .ping(Duration::from_millis(100))
        .spawn()
        .unwrap();
    let sleeper = sleeper(&registry, "sleeper");
    eventually(
        || get(console.address(), "/threads").json(),
        |s| thread(s, "sleeper").is_some(),
    );
    let mut stream = events(console.address(), &[]);
    assert_eq!(stream.status, 200);
    let content_type = stream
        .headers
        .iter()
        .find(|(n, _)| n == "content-type")
        .map(|(_, v)| v.as_str());
    assert_eq!(content_type, Some("text/event-stream"));
    let first = stream.next().expect("the first event");
    let first_id = first.id.expect("an id");
    let first_json = first.json();
    assert!(
        thread(&first_json, "sleeper")
            .unwrap()
            .get("history")
            .is_some(),
        "the first event has the history"
    );
    let second = stream.next().expect("an update");
    assert!(second.id.expect("an id") > first_id);
    assert!(
        thread(&second.json(), "sleeper")
            .unwrap()
            .get("history")
            .is_none(),
        "updates carry no history"
    );
    let mut pinged = false;
    for _ in 0..200 {
        if !stream.next().expect("updates").comments.is_empty() {
            pinged = true;
            break;
        }
    }
    assert!(
        pinged,
        "no comment line in 200 updates at a ping every 100 ms"
    );
    // A reconnection names the last id it saw, and gets the newest update at once.
    let mut again = events(console.address(), &[&format!("last-event-id: {first_id}")]);
    let resumed = again.next().expect("an event at once");
    assert!(resumed.id.expect("an id") > first_id);
    assert!(thread(&resumed.json(), "sleeper")
        .unwrap()
        .get("history")
        .is_some());
    // A stop ends the streams, after a last update.
    console.handle().stop();
    let mut last = None;
    while let Some(event) = stream.next() {
        last = Some(event);
    }
    let last = last.expect("a last update");
    assert_eq!(
        thread(&last.json(), "threadward-console").unwrap()["state"],
        "stopping"
    );
    console.handle().join_timeout(BOUND).unwrap();
    sleeper.stop();
    sleeper.join().unwrap();
}

#[test]
fn actions_are_off_unless_configured_and_need_the_token() {
    let registry = Registry::new();
    let target = sleeper(&registry, "target");
    let path = format!("/threads/{}/stop", target.id().as_u64());
    let plain = console(&registry);
    assert_eq!(request(plain.address(), "POST", &path, &[]).status, 403);
    assert_eq!(get(plain.address(), &path).status, 405);
    stop(&plain);

    let guarded = Console::bind("127.0.0.1:0")
        .registry(&registry)
        .token(TOKEN)
        .actions(true)
        .spawn()
        .unwrap();
    let address = guarded.address();
    let refused = request(address, "POST", &path, &[]);
    assert_eq!(refused.status, 401);
    assert_eq!(refused.header("www-authenticate"), Some("Bearer"));
    assert_eq!(
        request(
            address,
            "POST",
            &path,
            &["authorization: Bearer wrong-token-of-some-length"]
        )
        .status,
        401
    );
    // With a token, reads need it too; the page itself does not.
    assert_eq!(get(address, "/threads").status, 401);
    assert_eq!(get(address, "/").status, 200);
    let bearer = format!("authorization: Bearer {TOKEN}");
    assert_eq!(request(address, "GET", "/threads", &[&bearer]).status, 200);
    assert_eq!(
        request(address, "POST", "/threads/999999/stop", &[&bearer]).status,
        404
    );
    let done = request(address, "POST", &path, &[&bearer]);
    assert_eq!(done.status, 202, "{done:?}");
    assert!(target.join_timeout(BOUND).unwrap().outcome().is_clean());
    stop(&guarded);
}

#[test]
fn a_console_refuses_to_start_unsafely_or_wrongly() {
    let registry = Registry::new();
    let start = |console: Console| console.registry(&registry).spawn().err();
    assert!(matches!(
        start(Console::bind("0.0.0.0:0")),
        Some(ConsoleError::TokenRequired { .. })
    ));
    assert!(matches!(
        start(Console::bind("127.0.0.1:0").token("short")),
        Some(ConsoleError::WeakToken)
    ));
    assert!(matches!(
        start(Console::bind("127.0.0.1:0").token("has a space in it, sixteen+")),
        Some(ConsoleError::WeakToken)
    ));
    assert!(matches!(
        start(Console::bind("127.0.0.1:0").interval(Duration::ZERO)),
        Some(ConsoleError::ZeroInterval)
    ));
    assert!(matches!(
        start(Console::bind("not an address")),
        Some(ConsoleError::Address { .. })
    ));
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = Console::bind(taken.local_addr().unwrap().to_string());
    let error = start(busy).expect("the port is taken");
    assert!(matches!(error, ConsoleError::Listen { .. }), "{error}");
    assert!(error.to_string().contains("could not listen"), "{error}");
    // Beyond loopback with a token: allowed.
    let open = Console::bind("0.0.0.0:0")
        .token("0123456789abcdef-secret")
        .registry(&registry)
        .spawn()
        .unwrap();
    stop(&open);
    assert!(registry.is_empty(), "no thread was left behind");
}

#[test]
fn a_console_starts_and_fails_from_async_code_without_panicking() {
    let registry = Registry::new();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = taken.local_addr().unwrap().to_string();
    runtime.block_on(async {
        let console = Console::bind("127.0.0.1:0")
            .registry(&registry)
            .spawn()
            .expect("it starts");
        assert_eq!(get(console.address(), "/").status, 200);
        stop(&console);
        let refused = Console::bind(busy).registry(&registry).spawn();
        assert!(matches!(refused, Err(ConsoleError::Listen { .. })));
    });
}
