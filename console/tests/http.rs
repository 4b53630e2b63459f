//! The console over HTTP, in process: what it serves and how safely (whom: `hosts.rs`).
//! Each test has a registry of its own and a console on a free loopback port.

mod support;

use std::time::Duration;

use support::{console, events, eventually, get, request, stop, thread, BOUND};
use threadward::{Context, Registry};
use threadward_console::{Console, ConsoleError};

const TOKEN: &str = "0123456789abcdef-secret";

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
    // A host to allow that no request could name.
    for host in ["h:+80", "[name]", "::1", ""] {
        let error = start(Console::bind("127.0.0.1:0").allow_host(host));
        assert!(
            matches!(&error, Some(ConsoleError::AllowedHost(given)) if given == host),
            "{host}: {error:?}"
        );
    }
    let mounted = Console::mounted().registry(&registry).allow_host("[name]");
    assert!(matches!(
        mounted.handler().err(),
        Some(ConsoleError::AllowedHost(_))
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
