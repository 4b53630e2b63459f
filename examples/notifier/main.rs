//! The notification service: an HTTP server hosted in a managed background thread
//! queues notifications to a `Notifier` background thread, which delivers them.
//!
//! ```text
//! cargo run --example notifier                 # listens on 127.0.0.1:8080
//! cargo run --example notifier -- --port 9000  # or PORT=9000
//! cargo run --example notifier -- --console 127.0.0.1:9750  # and its threads live in a browser
//! cargo run --example notifier --features redis -- --redis redis://127.0.0.1:6379/ --port 9001
//! curl -X POST localhost:8080/task -d '{"recipient": "ada@example.com", "text": "hello"}'
//! curl localhost:8080/threads
//! ```
//!
//! - `POST /task` with the JSON object `{"recipient": "...", "text": "..."}` → `202
//!   {"id": N}`. Anything else is refused, and never delivered: malformed JSON, another
//!   shape or missing fields → 400; a body over 64 KiB (declared or sent) → 413; a body
//!   not complete within the timeout → 408; the queue (64) still full after
//!   `NOTIFIER_QUEUE_WAIT_MS` (default 100) → 503 with `Retry-After`; once the shutdown
//!   began → 503.
//! - `GET /threads`: the registry as JSON (the console's record, `threadward_console::Snapshot`); `GET /stats`: how many notifications were
//!   accepted, wait for room, are queued and were delivered; `GET /recent`: the ids of
//!   the latest deliveries (asked of the notifier's thread by a call); `GET /healthz`: `{"status": "ok"}` (503
//!   while draining). `HEAD` works where `GET` does; query strings are ignored; other
//!   methods → 405 with `Allow`; other paths → 404.
//! - Hardened for the open internet: at most `NOTIFIER_MAX_CONNECTIONS` (default 1024)
//!   connections, beyond which a client gets 503 and is closed; a client has
//!   `NOTIFIER_TIMEOUT_MS` (default 10,000) to send a request's headers, then its body,
//!   and to take each answer, and an idle keep-alive connection is closed after it;
//!   running out of file descriptors is logged, and accepting resumes as connections
//!   close. Slow clients hold only their own connection: every connection is a task on
//!   the server thread's async runtime, not a thread.
//! - `NOTIFIER_DELIVERY_MS` sets how long a delivery takes (default 1 ms), to watch the
//!   backpressure.
//! - Ctrl-C or SIGTERM: the server stops accepting first (it started last), answers the
//!   requests it has read, closes idle connections, and ends within `NOTIFIER_DRAIN_MS`
//!   (default 5,000); then the notifier delivers every accepted notification, the
//!   shutdown report is printed and the process exits with its code (0 when everything
//!   stopped cleanly). The shutdown's grace is the drain plus a full queue's deliveries
//!   plus 5 s, so that a client told 202 is never let down by the grace running out.
//!
//! - `--redis URL`: beyond one process. `POST /task` adds the notification to the Redis
//!   stream `notifications` (503 if Redis does not take it within the timeout), and the
//!   notifier consumes the stream with the group `notifiers`: several notifiers, on
//!   other ports or machines, share the work, and what a notifier that dies held is
//!   delivered by another after `--claim-idle-ms N` (default 30,000). Ids are random
//!   then (unique across the processes), and each delivery still logs
//!   `sent notification #ID` with the id of its 202. Without `--redis` nothing of Redis
//!   is used.
//!
//! - `--console ADDR`: also serves threadward's web console on `ADDR` (loopback; read
//!   only, no actions), printing `console on http://ADDR/`: every thread live, stuck ones
//!   marked with where they are, the recent exits, and a shutdown as it happens. The
//!   console stops last, so a page open during Ctrl-C shows the drain and the report.
//!
//! Logs go through `tracing` to stdout; `RUST_LOG` sets the level (`info` by default).
//! Text from clients is logged escaped (`?` formatting), so it cannot forge log lines.
//!
//! The service stops on signals through `threadward::Shutdown`, which is Unix-only: on
//! other platforms the example only says so.

#[cfg(unix)]
mod http;
#[cfg(unix)]
mod notifier;
#[cfg(unix)]
mod routes;

#[cfg(unix)]
use std::time::Duration;

#[cfg(unix)]
use threadward::{Declared, Shutdown};

#[cfg(unix)]
use crate::http::HttpServer;
#[cfg(unix)]
use crate::notifier::{Notification, Notifier};
#[cfg(unix)]
use threadward_redis::Stream;

/// With `--redis`: the stream the notifiers share, and their group.
#[cfg(unix)]
const STREAM: &str = "notifications";
#[cfg(unix)]
const GROUP: &str = "notifiers";

/// What the HTTP front is allowed: the service's knobs, read once at start.
#[cfg(unix)]
#[derive(Debug, Clone)]
struct Config {
    port: u16,
    /// How long a client may take to send headers or a body, or to take an answer;
    /// also how long an idle keep-alive connection stays open.
    timeout: Duration,
    max_connections: usize,
    /// How long a post waits for room in the notifier's full queue before its 503.
    queue_wait: Duration,
    /// How long the server drains its connections once stopped.
    drain: Duration,
    /// How long one delivery takes: with the drain, it sets the shutdown's grace.
    delivery: Duration,
    /// `--redis URL`: the notifications go through a Redis stream.
    redis: Option<String>,
    /// `--claim-idle-ms N`: how long a dead notifier's notifications wait to be claimed.
    claim_idle: Duration,
    /// `--console ADDR`: where the web console listens, if anywhere.
    console: Option<String>,
}

#[cfg(unix)]
impl Config {
    /// `--port N`, else `PORT`, else 8080; the rest from `NOTIFIER_…` variables.
    fn from_env() -> Result<Self, String> {
        let mut args = std::env::args().skip(1);
        let (mut port, mut redis, mut claim_idle, mut console) = (None, None, 30_000, None);
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--port" => {
                    let value = args.next().ok_or("--port needs a number")?;
                    port = Some(value.parse().map_err(|e| format!("--port {value}: {e}"))?);
                }
                "--redis" => redis = Some(args.next().ok_or("--redis needs a URL")?),
                "--console" => console = Some(args.next().ok_or("--console needs an address")?),
                "--claim-idle-ms" => {
                    let value = args.next().ok_or("--claim-idle-ms needs a number")?;
                    claim_idle = value
                        .parse()
                        .map_err(|e| format!("--claim-idle-ms {value}: {e}"))?;
                }
                other => {
                    return Err(format!(
                        "unknown argument `{other}` (try --port N, --redis URL, --claim-idle-ms N, --console ADDR)"
                    ))
                }
            }
        }
        let port = match port {
            Some(port) => port,
            None => number("PORT", 8080)?,
        };
        let millis = |name, default| number(name, default).map(Duration::from_millis);
        let config = Self {
            port,
            timeout: millis("NOTIFIER_TIMEOUT_MS", 10_000)?,
            max_connections: number("NOTIFIER_MAX_CONNECTIONS", 1024)?,
            queue_wait: millis("NOTIFIER_QUEUE_WAIT_MS", 100)?,
            drain: millis("NOTIFIER_DRAIN_MS", 5_000)?,
            delivery: millis("NOTIFIER_DELIVERY_MS", 1)?,
            redis,
            claim_idle: Duration::from_millis(claim_idle),
            console,
        };
        if config.timeout.is_zero() {
            return Err("NOTIFIER_TIMEOUT_MS must be at least 1".into());
        }
        if !(1..=tokio::sync::Semaphore::MAX_PERMITS).contains(&config.max_connections) {
            return Err(format!(
                "NOTIFIER_MAX_CONNECTIONS must be from 1 to {}",
                tokio::sync::Semaphore::MAX_PERMITS
            ));
        }
        Ok(config)
    }

    /// The shutdown's grace: the drain, then a full queue's deliveries, and slack. Every
    /// notification a client was told 202 for is delivered within it.
    fn grace(&self) -> Duration {
        let queue = Notifier::CAPACITY.unwrap_or(1);
        let deliveries = self
            .delivery
            .saturating_mul(u32::try_from(queue).unwrap_or(u32::MAX));
        self.drain
            .saturating_add(deliveries)
            .saturating_add(Duration::from_secs(5))
    }
}

/// The variable `name` as a number, `default` when unset; an error names it.
#[cfg(unix)]
fn number<N: std::str::FromStr>(name: &str, default: N) -> Result<N, String>
where
    N::Err: std::fmt::Display,
{
    match std::env::var(name) {
        Ok(value) => value.parse().map_err(|e| format!("{name}={value:?}: {e}")),
        Err(_) => Ok(default),
    }
}

#[cfg(not(unix))]
fn main() {
    eprintln!(
        "the notifier stops gracefully on SIGINT and SIGTERM through threadward::Shutdown, \
         which needs Unix: run it on Linux or macOS"
    );
    std::process::exit(2);
}

#[cfg(unix)]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let level = std::env::var("RUST_LOG")
        .ok()
        .and_then(|level| level.parse().ok())
        .unwrap_or(tracing_subscriber::filter::LevelFilter::INFO);
    tracing_subscriber::fmt().with_max_level(level).init();
    let config = Config::from_env()?;
    // Signals are taken over before anything starts: a SIGTERM from now on (even
    // during startup, or the moment readiness is announced) stops the service
    // gracefully, never by the default action.
    let shutdown = Shutdown::on_signals()
        .grace(config.grace())
        .halt_grace(Duration::from_secs(5))
        .install()?;

    let notifier = match &config.redis {
        // Fed from the stream that every notifier of the fleet shares.
        Some(url) => {
            let stream = Stream::<Notification>::connect(url)?
                .key(STREAM)
                .group(GROUP)
                .claim_idle(config.claim_idle);
            Notifier::from_env().spawn_with(stream)?
        }
        // Created by name through the factory, as a configuration file would name it.
        None => threadward::create("notification")?
            .downcast::<Notifier>()
            .map_err(|_| "`notification` is not a Notifier")?,
    };
    // Stopped by a shutdown after every other thread: its pages show the drain.
    let console = match &config.console {
        Some(address) => Some(threadward_console::Console::bind(address.as_str()).spawn()?),
        None => None,
    };
    // Started after the notifier, so a shutdown stops it first. Its `startup` binds.
    let http = HttpServer::new(config, notifier.clone()).spawn()?;
    let address = http.call(|server, _ctx| server.address())??;
    http.send(())?;
    println!("listening on http://{address}; press Ctrl-C to stop");
    if let Some(console) = &console {
        println!("console on {}", console.url());
    }

    let report = shutdown.wait();
    let exit = notifier.join()?;
    for notification in exit.undelivered() {
        println!("returned notification #{}", notification.id);
    }
    print!("{report}");
    std::process::exit(report.exit_code());
}
