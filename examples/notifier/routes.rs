//! What each request gets. Every path through here answers: no input panics, and every
//! wait (for a body, for room in the queue, for the notifier's answer) has a bound.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::{Body, Bytes, Incoming};
use hyper::header::{HeaderValue, ALLOW, CONNECTION, CONTENT_TYPE, RETRY_AFTER};
use hyper::{Method, Request, Response, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};
use threadward::Handle;
use threadward_redis::Producer;
use tokio::sync::watch;

use crate::notifier::{Notification, Notifier};

/// Bodies larger than this are refused with 413.
pub(crate) const MAX_BODY: usize = 64 * 1024;

/// What every request handler shares.
pub(crate) struct Front {
    pub(crate) notifier: Handle<Notifier>,
    /// With `--redis`: where posts go instead of the notifier's queue.
    pub(crate) producer: Option<Arc<Producer<Notification>>>,
    pub(crate) next_id: AtomicU64,
    /// Posts answered 202.
    pub(crate) accepted: AtomicU64,
    /// Posts awaiting room in the notifier's full queue.
    pub(crate) waiting: AtomicUsize,
    /// Flips to `true` when the server thread is asked to stop.
    pub(crate) stop: watch::Receiver<bool>,
    pub(crate) timeout: Duration,
    pub(crate) queue_wait: Duration,
}

impl Front {
    fn draining(&self) -> bool {
        *self.stop.borrow()
    }
}

/// What a client posts to `/task`: exactly these two fields.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewNotification {
    recipient: String,
    text: String,
}

type Answer = Response<Full<Bytes>>;

/// Routes on the path alone (a query string is ignored), then the method.
pub(crate) async fn respond(front: &Front, request: Request<Incoming>) -> Answer {
    let read = matches!(*request.method(), Method::GET | Method::HEAD);
    match request.uri().path() {
        "/task" if request.method() == Method::POST => post_task(front, request).await,
        "/task" => not_allowed("POST"),
        "/healthz" if read && front.draining() => closing(reply(
            StatusCode::SERVICE_UNAVAILABLE,
            &json!({"status": "draining"}),
        )),
        "/healthz" if read => reply(StatusCode::OK, &json!({"status": "ok"})),
        // The console's record (versioned): the same schema as its own `/threads`.
        "/threads" if read => {
            let snapshot = threadward_console::Snapshot::now(threadward::registry());
            json_reply(StatusCode::OK, snapshot.to_json())
        }
        "/stats" if read => stats(front),
        "/recent" if read => recent(front).await,
        "/healthz" | "/threads" | "/stats" | "/recent" => not_allowed("GET, HEAD"),
        _ => reply(StatusCode::NOT_FOUND, &json!({"error": "not found"})),
    }
}

async fn post_task(front: &Front, request: Request<Incoming>) -> Answer {
    if front.draining() {
        return closing(shutting_down());
    }
    // A declared length over the limit is refused before anything is read or allocated.
    if request.body().size_hint().lower() > MAX_BODY as u64 {
        return closing(too_large());
    }
    let collect = Limited::new(request.into_body(), MAX_BODY).collect();
    let body = match tokio::time::timeout(front.timeout, collect).await {
        Ok(Ok(body)) => body.to_bytes(),
        Ok(Err(error)) if error.downcast_ref::<LengthLimitError>().is_some() => {
            return closing(too_large());
        }
        // Cut short (the client gave up, or sent a broken chunk): never accepted.
        Ok(Err(_)) => {
            return closing(error(StatusCode::BAD_REQUEST, "the body was cut short"));
        }
        Err(_) => {
            let message = format!("the body did not arrive within {:?}", front.timeout);
            return closing(error(StatusCode::REQUEST_TIMEOUT, &message));
        }
    };
    let new = match parse(&body) {
        Ok(new) => new,
        Err(message) => return error(StatusCode::BAD_REQUEST, &message),
    };
    let id = match front.producer {
        Some(_) => fleet_id(),
        None => front.next_id.fetch_add(1, Ordering::Relaxed) + 1,
    };
    let notification = Notification {
        id,
        recipient: new.recipient,
        text: new.text,
    };
    if let Some(producer) = &front.producer {
        return enqueue(front, Arc::clone(producer), notification).await;
    }
    // Awaits room for a moment (a burst), without blocking the server's thread.
    let waiting = Waiting::new(&front.waiting);
    let sent = tokio::time::timeout(front.queue_wait, front.notifier.send_async(notification));
    let sent = sent.await;
    if matches!(sent, Ok(Ok(()))) {
        // Counted before it stops waiting: `accepted + waiting` never dips.
        front.accepted.fetch_add(1, Ordering::Relaxed);
    }
    drop(waiting);
    match sent {
        Ok(Ok(())) => {
            tracing::info!(id, "accepted notification #{id}");
            reply(StatusCode::ACCEPTED, &json!({ "id": id }))
        }
        Ok(Err(_closed)) => closing(shutting_down()),
        Err(_full) => {
            let mut answer = error(StatusCode::SERVICE_UNAVAILABLE, "queue full");
            answer
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from_static("1"));
            answer
        }
    }
}

/// Adds the notification to the Redis stream (on the runtime's blocking pool: the
/// server's thread never waits on Redis), within the request timeout.
async fn enqueue(
    front: &Front,
    producer: Arc<Producer<Notification>>,
    notification: Notification,
) -> Answer {
    let id = notification.id;
    let added = tokio::task::spawn_blocking(move || producer.enqueue(&notification));
    match tokio::time::timeout(front.timeout, added).await {
        Ok(Ok(Ok(entry))) => {
            front.accepted.fetch_add(1, Ordering::Relaxed);
            tracing::info!(id, %entry, "accepted notification #{id}");
            reply(StatusCode::ACCEPTED, &json!({ "id": id }))
        }
        outcome => {
            if let Ok(Ok(Err(error))) = outcome {
                tracing::warn!(%error, "the stream did not take a notification");
            }
            let mut answer = error(StatusCode::SERVICE_UNAVAILABLE, "the queue is unreachable");
            answer
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from_static("1"));
            answer
        }
    }
}

/// An id no other notifier of the fleet gives: random, below 2^53 (exact in
/// JavaScript's numbers).
fn fleet_id() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    hasher.finish() & ((1 << 53) - 1)
}

/// The body as a notification: a JSON object with a non-empty `recipient` and a
/// `text`, nothing else.
fn parse(body: &[u8]) -> Result<NewNotification, String> {
    let value: Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    if !value.is_object() {
        return Err(r#"expected a JSON object: {"recipient": "...", "text": "..."}"#.into());
    }
    let new: NewNotification = serde_json::from_value(value).map_err(|e| e.to_string())?;
    if new.recipient.trim().is_empty() {
        return Err("`recipient` is empty".into());
    }
    Ok(new)
}

/// The service's counters, read without waiting: the notifier's `handled` count comes
/// from its registry entry.
fn stats(front: &Front) -> Answer {
    let notifier = front.notifier.info();
    reply(
        StatusCode::OK,
        &json!({
            "accepted": front.accepted.load(Ordering::Relaxed),
            "waiting": front.waiting.load(Ordering::Relaxed),
            "queued": notifier.queue_depth,
            "delivered": notifier.handled,
        }),
    )
}

/// The latest deliveries, asked of the notifier's own thread (between deliveries) by a
/// call that awaits the answer instead of blocking the server's thread.
async fn recent(front: &Front) -> Answer {
    let asked = front
        .notifier
        .call_async(|notifier, _ctx| notifier.recent.iter().copied().collect::<Vec<u64>>());
    match tokio::time::timeout(front.timeout, asked).await {
        Ok(Ok(ids)) => reply(StatusCode::OK, &json!({ "delivered": ids })),
        Ok(Err(_)) => closing(shutting_down()),
        Err(_) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the notifier did not answer",
        ),
    }
}

/// Counts a post as waiting for room until it is dropped (answered, or its connection
/// closed under it).
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn new(count: &'a AtomicUsize) -> Self {
        count.fetch_add(1, Ordering::Relaxed);
        Self(count)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

fn reply(status: StatusCode, body: &Value) -> Answer {
    json_reply(status, body.to_string())
}

fn json_reply(status: StatusCode, body: String) -> Answer {
    let mut answer = Response::new(Full::new(Bytes::from(body)));
    *answer.status_mut() = status;
    answer
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    answer
}

fn error(status: StatusCode, message: &str) -> Answer {
    reply(status, &json!({ "error": message }))
}

fn not_allowed(allow: &'static str) -> Answer {
    let mut answer = error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
    answer
        .headers_mut()
        .insert(ALLOW, HeaderValue::from_static(allow));
    answer
}

fn too_large() -> Answer {
    let message = format!("the body is over {} KiB", MAX_BODY / 1024);
    error(StatusCode::PAYLOAD_TOO_LARGE, &message)
}

fn shutting_down() -> Answer {
    error(StatusCode::SERVICE_UNAVAILABLE, "shutting down")
}

/// The answer, and the connection closed after it (what is left of the request is not
/// read, or the server is draining).
fn closing(mut answer: Answer) -> Answer {
    answer
        .headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("close"));
    answer
}
