//! The notification service: an HTTP server hosted in a managed background thread
//! queues notifications to a `Notifier` background thread, which delivers them.
//!
//! ```text
//! cargo run --example notifier                 # listens on 127.0.0.1:8080
//! cargo run --example notifier -- --port 9000  # or PORT=9000
//! curl -X POST localhost:8080/task -d '{"recipient": "ada@example.com", "text": "hello"}'
//! curl localhost:8080/threads
//! ```
//!
//! - `POST /task` with `{"recipient": "...", "text": "..."}` → `202 {"id": N}`; malformed
//!   JSON → 400; a body over 64 KiB → 413; queue (64) full → 503 with `Retry-After`;
//!   after the shutdown began → 503; other methods → 405; other paths → 404.
//! - `NOTIFIER_DELIVERY_MS` sets how long a delivery takes (default 1 ms), to watch the
//!   backpressure.
//! - `GET /threads`: the registry as JSON; `GET /healthz`: `{"status": "ok"}`.
//! - Ctrl-C or SIGTERM: the server stops accepting first (it started last), the notifier
//!   delivers every accepted notification, the shutdown report is printed and the
//!   process exits with its code (0 when everything stopped cleanly).
//!
//! Logs go through `tracing` to stdout; `RUST_LOG` sets the level (`info` by default).

use std::io::Read;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde_json::json;
use threadward::{
    background_thread, BackgroundThread, BoxError, Context, Sender, Shutdown, TrySendError,
};
use tiny_http::{Header, Method, Request, Response, Server};

/// Bodies larger than this are refused with 413.
const MAX_BODY: usize = 64 * 1024;

/// One notification to deliver.
#[derive(Debug)]
struct Notification {
    id: u64,
    recipient: String,
    text: String,
}

/// What a client posts to `/task`.
#[derive(Debug, Deserialize)]
struct NewNotification {
    recipient: String,
    text: String,
}

/// Delivers notifications, one at a time, on its own thread. The queue is small on
/// purpose: when delivery falls behind, clients get 503 and `Retry-After` (backpressure)
/// instead of an ever-growing backlog.
#[background_thread(name = "notification", capacity = 64, factory = Notifier::from_env)]
struct Notifier {
    delivered: u64,
    /// How long one delivery takes (`NOTIFIER_DELIVERY_MS`, default 1 ms).
    delivery: Duration,
}

impl Notifier {
    fn from_env() -> Self {
        let millis = std::env::var("NOTIFIER_DELIVERY_MS")
            .ok()
            .and_then(|ms| ms.parse().ok())
            .unwrap_or(1);
        Self {
            delivered: 0,
            delivery: Duration::from_millis(millis),
        }
    }
}

impl BackgroundThread for Notifier {
    type Task = Notification;

    fn handle(&mut self, notification: Notification, _ctx: &Context) -> Result<(), BoxError> {
        // Stands in for a call to a mail or push service.
        std::thread::sleep(self.delivery);
        self.delivered += 1;
        tracing::info!(
            id = notification.id,
            recipient = %notification.recipient,
            chars = notification.text.chars().count(),
            "sent notification #{}",
            notification.id
        );
        Ok(())
    }

    fn shutdown(&mut self, ctx: &Context) {
        tracing::info!("{} delivered {} notifications", ctx.name(), self.delivered);
    }
}

/// Serves HTTP on its own managed thread; a stop unblocks its `accept`.
#[background_thread(name = "http")]
struct HttpServer {
    server: Arc<Server>,
    notifier: Sender<Notifier>,
    next_id: u64,
}

impl BackgroundThread for HttpServer {
    /// One task: serve until stopped.
    type Task = ();

    fn startup(&mut self, ctx: &Context) -> Result<(), BoxError> {
        let server = Arc::clone(&self.server);
        ctx.on_stop(move || server.unblock());
        Ok(())
    }

    fn handle(&mut self, (): (), ctx: &Context) -> Result<(), BoxError> {
        let server = Arc::clone(&self.server);
        for request in server.incoming_requests() {
            self.respond(request, ctx);
        }
        Ok(())
    }
}

impl HttpServer {
    fn respond(&mut self, mut request: Request, ctx: &Context) {
        let (status, body, retry_after) = match (request.method(), request.url()) {
            (Method::Post, "/task") => self.post_task(&mut request, ctx),
            (Method::Get, "/threads") => (200, json!(threadward::registry().active()), false),
            (Method::Get, "/healthz") => (200, json!({"status": "ok"}), false),
            (_, "/task" | "/threads" | "/healthz") => {
                (405, json!({"error": "method not allowed"}), false)
            }
            _ => (404, json!({"error": "not found"}), false),
        };
        let mut response = Response::from_string(body.to_string()).with_status_code(status);
        for (field, value) in [("Content-Type", "application/json")]
            .into_iter()
            .chain(retry_after.then_some(("Retry-After", "1")))
        {
            if let Ok(header) = Header::from_bytes(field, value) {
                response.add_header(header);
            }
        }
        if let Err(error) = request.respond(response) {
            tracing::warn!(%error, "could not answer a request");
        }
    }

    fn post_task(
        &mut self,
        request: &mut Request,
        ctx: &Context,
    ) -> (u16, serde_json::Value, bool) {
        if ctx.is_stopping() {
            return (503, json!({"error": "shutting down"}), false);
        }
        let mut body = Vec::new();
        let limit = u64::try_from(MAX_BODY + 1).unwrap_or(u64::MAX);
        if request
            .as_reader()
            .take(limit)
            .read_to_end(&mut body)
            .is_err()
        {
            return (400, json!({"error": "could not read the body"}), false);
        }
        if body.len() > MAX_BODY {
            return (413, json!({"error": "body over 64 KiB"}), false);
        }
        let new: NewNotification = match serde_json::from_slice(&body) {
            Ok(new) => new,
            Err(error) => return (400, json!({"error": error.to_string()}), false),
        };
        let id = self.next_id + 1;
        let notification = Notification {
            id,
            recipient: new.recipient,
            text: new.text,
        };
        match self.notifier.try_send(notification) {
            Ok(()) => {
                self.next_id = id;
                tracing::info!(id, "accepted notification #{id}");
                (202, json!({"id": id}), false)
            }
            Err(TrySendError::Full(_)) => (503, json!({"error": "queue full"}), true),
            Err(TrySendError::Closed(..)) => (503, json!({"error": "shutting down"}), false),
        }
    }
}

/// `--port N`, else `PORT`, else 8080.
fn port() -> Result<u16, Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--port" {
            let value = args.next().ok_or("--port needs a number")?;
            return Ok(value.parse()?);
        }
    }
    match std::env::var("PORT") {
        Ok(value) => Ok(value.parse()?),
        Err(_) => Ok(8080),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let level = std::env::var("RUST_LOG")
        .ok()
        .and_then(|level| level.parse().ok())
        .unwrap_or(tracing_subscriber::filter::LevelFilter::INFO);
    tracing_subscriber::fmt().with_max_level(level).init();

    let server = Server::http(SocketAddr::from(([127, 0, 0, 1], port()?)))
        .map_err(|error| format!("could not listen: {error}"))?;
    let address = server
        .server_addr()
        .to_ip()
        .ok_or("the server is not on an IP address")?;

    // Created by name through the factory, as a configuration file would name it.
    let notifier = threadward::create("notification")?
        .downcast::<Notifier>()
        .map_err(|_| "`notification` is not a Notifier")?;
    // Started after the notifier, so a shutdown stops it first.
    let http = HttpServer {
        server: Arc::new(server),
        notifier: notifier.sender(),
        next_id: 0,
    }
    .spawn()?;
    http.send(())?;
    println!("listening on http://{address}; press Ctrl-C to stop");

    let report = Shutdown::on_signals()
        .grace(Duration::from_secs(10))
        .halt_grace(Duration::from_secs(5))
        .wait()?;
    let exit = notifier.join()?;
    for notification in exit.undelivered() {
        println!("returned notification #{}", notification.id);
    }
    print!("{report}");
    std::process::exit(report.exit_code());
}
