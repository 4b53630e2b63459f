//! The console mounted in a service's own axum server, under a prefix: the page, its
//! assets and its data served there, the Host check held, and the event stream ending
//! when the console's updating thread stops.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use threadward::Registry;
use threadward_console::server::{listen, serve, Limits};
use threadward_console::Console;
use tower_service::Service;

const BOUND: Duration = Duration::from_secs(30);

/// The status line and the rest of one answer, on a connection closed after it.
fn ask(address: SocketAddr, path: &str, host: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(BOUND)).unwrap();
    let head = format!("GET {path} HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, answer)
}

#[test]
fn the_console_serves_from_an_axum_router_under_a_prefix() {
    let registry = Registry::new();
    let (handler, updates) = Console::mounted()
        .registry(&registry)
        .interval(Duration::from_millis(20))
        .handler()
        .unwrap();
    let app: axum::Router =
        axum::Router::new().nest("/ops/console", threadward_console::router(handler));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let listener = runtime
        .block_on(async { listen("127.0.0.1:0".parse().unwrap()) })
        .unwrap();
    let address = listener.local_addr().unwrap();
    let (stopping, stop) = tokio::sync::watch::channel(false);
    let server = std::thread::spawn(move || {
        runtime.block_on(serve(
            listener,
            Limits::default(),
            stop,
            move |request: hyper::Request<hyper::body::Incoming>| {
                let mut app = app.clone();
                async move {
                    match app.call(request.map(axum::body::Body::new)).await {
                        Ok(answer) => answer,
                        Err(never) => match never {},
                    }
                }
            },
        ));
    });
    let host = address.to_string();

    let (status, page) = ask(address, "/ops/console", &host);
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("src=\"/ops/console/console.js\""),
        "the page asks under its prefix: {page}"
    );
    let (status, script) = ask(address, "/ops/console/console.js", &host);
    assert_eq!(status, 200);
    assert!(script.contains("threads/events"));
    let sleeper = threadward::thread("mounted-sleeper")
        .spawn_in(&registry, |ctx| {
            ctx.sleep(Duration::from_secs(600));
            Ok(())
        })
        .unwrap();
    let start = std::time::Instant::now();
    loop {
        let (status, json) = ask(address, "/ops/console/threads", &host);
        assert_eq!(status, 200);
        if json.contains("\"mounted-sleeper\"") && json.contains("\"schema\":1") {
            break;
        }
        assert!(start.elapsed() < BOUND, "never shown: {json}");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Mounted, any port of an IP address or localhost is served; other names are not.
    assert_eq!(ask(address, "/ops/console/threads", "localhost:1").0, 200);
    assert_eq!(
        ask(
            address,
            "/ops/console/threads",
            &format!("evil.example:{}", address.port())
        )
        .0,
        421
    );

    // The event stream ends once the updating thread stops.
    let mut stream = TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(BOUND)).unwrap();
    let head = format!(
        "GET /ops/console/threads/events HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).unwrap();
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    assert!(line.contains(" 200 "), "{line}");
    sleeper.stop();
    sleeper.join().unwrap();
    updates.stop();
    updates.join_timeout(BOUND).unwrap();
    let mut rest = String::new();
    reader
        .read_to_string(&mut rest)
        .expect("the stream ends, it does not time out");
    assert!(rest.contains("event: threads"), "{rest}");
    stopping.send_replace(true);
    server.join().unwrap();
}
