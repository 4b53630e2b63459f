//! Every request the console answers, whatever server carries it: the standalone one,
//! or the service's own (mounted). Nothing here waits or panics on any input.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use hyper::body::{Body, Bytes, Frame, SizeHint};
use hyper::header::{
    HeaderMap, HeaderName, HeaderValue, ALLOW, AUTHORIZATION, CACHE_CONTROL, CONNECTION,
    CONTENT_LENGTH, CONTENT_SECURITY_POLICY, CONTENT_TYPE, HOST, REFERRER_POLICY, WWW_AUTHENTICATE,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use hyper::{Method, Request, Response, StatusCode};

use crate::hub::{Events, Hub};
use crate::text;

const PAGE: &str = include_str!("../assets/console.html");
const SCRIPT: &str = include_str!("../assets/console.js");
const STYLE: &str = include_str!("../assets/console.css");

/// Scripts and styles from the console itself only, no inline script, no frames, data
/// only from the console: what a name or an error could smuggle in runs nowhere.
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; \
    frame-ancestors 'none'";

/// The console's answers to requests, for any HTTP server: see
/// [`Console::handler`](crate::Console::handler).
///
/// ```
/// use threadward_console::Console;
///
/// let (handler, updates) = Console::mounted().handler()?;
/// // In your server: answer the console's paths with it (its body is an `http_body::Body`).
/// let request = hyper::Request::get("/threads?format=text")
///     .header("host", "localhost:8080")
///     .body(())?;
/// let answer = handler.respond(&request);
/// assert_eq!(answer.status(), 200);
/// assert_eq!(answer.headers()["content-type"], "text/plain; charset=utf-8");
/// updates.stop(); // ends the event streams
/// updates.join()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Handler {
    pub(crate) hub: Arc<Hub>,
}

/// The body of a console's answer: a whole one, or the event stream.
#[derive(Debug)]
pub enum ConsoleBody {
    /// An answer sent whole.
    Full(Option<Bytes>),
    /// `GET /threads/events`.
    Events(Events),
}

impl Body for ConsoleBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.get_mut() {
            Self::Full(bytes) => Poll::Ready(bytes.take().map(|bytes| Ok(Frame::data(bytes)))),
            Self::Events(events) => Pin::new(events).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, Self::Full(None))
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Self::Full(bytes) => SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64)),
            Self::Events(_) => SizeHint::default(),
        }
    }
}

type Answer = Response<ConsoleBody>;

impl Handler {
    /// The answer to `request` (its body is never read). Paths: `GET /` (the page),
    /// `GET /threads` (JSON; `?format=text`: a table), `GET /threads/events`
    /// (server-sent events), `POST /threads/<id>/stop` and `/halt` (with the token,
    /// when actions are on).
    pub fn respond<B>(&self, request: &Request<B>) -> Response<ConsoleBody> {
        self.respond_under("", request)
    }

    /// As [`respond`](Self::respond), for a console your server serves under `prefix`
    /// (`/ops/console`): the request's path is the one below it (`/threads`), and the
    /// page asks for its script, style and data under the prefix. A prefix of other
    /// characters than letters, digits and `/_.~-` is not used (the page's requests
    /// are then relative to its address).
    pub fn respond_under<B>(&self, prefix: &str, request: &Request<B>) -> Response<ConsoleBody> {
        let mut answer = self.route(request);
        let plain = |c: char| c.is_ascii_alphanumeric() || "/_.~-".contains(c);
        let usable =
            prefix.starts_with('/') && !prefix.starts_with("//") && prefix.chars().all(plain);
        if request.uri().path() == "/" && usable {
            if let ConsoleBody::Full(Some(page)) = answer.body() {
                if page.as_ref() == PAGE.as_bytes() {
                    *answer.body_mut() = ConsoleBody::Full(Some(Bytes::from(under(prefix))));
                }
            }
        }
        secure(answer.headers_mut());
        if request.method() == Method::HEAD {
            // The headers a GET would have, its length included; no body.
            if let ConsoleBody::Full(Some(body)) = answer.body() {
                let length = HeaderValue::from(body.len());
                answer.headers_mut().insert(CONTENT_LENGTH, length);
            }
            *answer.body_mut() = ConsoleBody::Full(None);
        }
        answer
    }

    fn route<B>(&self, request: &Request<B>) -> Answer {
        let settings = &self.hub.settings;
        if let Some((status, why)) = self.refuse_host(request) {
            return error(status, why);
        }
        let read = matches!(*request.method(), Method::GET | Method::HEAD);
        let path = request.uri().path();
        let authorized = self.authorized(request.headers());
        match path {
            "/" | "/console.js" | "/console.css" if read => asset(path),
            "/" | "/console.js" | "/console.css" => not_allowed("GET, HEAD"),
            "/threads" | "/threads/events" if !read => not_allowed("GET, HEAD"),
            "/threads" | "/threads/events" if settings.token.is_some() && !authorized => {
                unauthorized()
            }
            "/threads" if wants_text(request.uri().query()) => {
                let latest = self.hub.latest();
                whole(
                    StatusCode::OK,
                    "text/plain; charset=utf-8",
                    text::table(&latest.snapshot),
                )
            }
            "/threads" => whole(
                StatusCode::OK,
                "application/json",
                self.hub.latest_with_history().to_json(),
            ),
            "/threads/events" => {
                let mut answer = Response::new(ConsoleBody::Events(self.hub.stream()));
                let headers = answer.headers_mut();
                headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
                headers.insert(
                    HeaderName::from_static("x-accel-buffering"),
                    HeaderValue::from_static("no"),
                );
                answer
            }
            _ => match action(path) {
                Some(_) if request.method() != Method::POST => not_allowed("POST"),
                Some(_) if !(settings.actions && settings.token.is_some()) => closing(error(
                    StatusCode::FORBIDDEN,
                    "actions are off: the console was not given a token and actions",
                )),
                Some(_) if !authorized => closing(unauthorized()),
                Some((id, stop)) => closing(self.act(id, stop)),
                None => error(StatusCode::NOT_FOUND, "not found"),
            },
        }
    }

    /// Refuses a request that is not for this console: every name it gives, its `Host`
    /// header and the authority of its target (HTTP/2's `:authority`, or a request
    /// line in absolute form), must be one this console serves, and it must give one.
    fn refuse_host<B>(&self, request: &Request<B>) -> Option<(StatusCode, &'static str)> {
        let mut hosts = request.headers().get_all(HOST).iter();
        let header = hosts.next();
        if hosts.next().is_some() {
            return Some((StatusCode::BAD_REQUEST, "more than one Host header"));
        }
        let header = match header.map(HeaderValue::to_str) {
            Some(Err(_)) => return Some((StatusCode::BAD_REQUEST, "a Host header not ASCII")),
            Some(Ok(host)) => Some(host),
            None => None,
        };
        let authority = request.uri().authority();
        let authority = authority.map(hyper::http::uri::Authority::as_str);
        if header.is_none() && authority.is_none() {
            return Some((StatusCode::BAD_REQUEST, "no Host header"));
        }
        let served = header
            .into_iter()
            .chain(authority)
            .all(|host| self.serves(host));
        let refused = (
            StatusCode::MISDIRECTED_REQUEST,
            "this console does not serve that host",
        );
        (!served).then_some(refused)
    }

    /// Whether a request naming `host` is for this console. A page of another site
    /// whose name was pointed at this address (DNS rebinding) names that site: only an
    /// IP address or `localhost` with the bound port, or a name allowed with
    /// [`Console::allow_host`](crate::Console::allow_host), is served.
    fn serves(&self, host: &str) -> bool {
        let host = host.to_ascii_lowercase();
        let Some((name, port)) = split_host(&host) else {
            return false;
        };
        let settings = &self.hub.settings;
        if settings
            .hosts
            .iter()
            .any(|allowed| allows(allowed, name, port))
        {
            return true;
        }
        let literal = name == "localhost" || name.parse::<std::net::IpAddr>().is_ok();
        literal && (settings.port.is_none() || Some(port.unwrap_or(80)) == settings.port)
    }

    fn authorized(&self, headers: &HeaderMap) -> bool {
        let Some(token) = &self.hub.settings.token else {
            return false;
        };
        let given = headers
            .get(AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| {
                // The scheme is case-insensitive.
                let (scheme, token) = value.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then_some(token)
            });
        given.is_some_and(|given| same(given.trim().as_bytes(), token.as_bytes()))
    }

    fn act(&self, id: u64, stop: bool) -> Answer {
        let found = self
            .hub
            .registry
            .handles()
            .into_iter()
            .find(|handle| handle.id().as_u64() == id);
        let Some(handle) = found else {
            return error(StatusCode::NOT_FOUND, "no such thread");
        };
        let action = if stop {
            handle.stop();
            "stop"
        } else {
            handle.halt();
            "halt"
        };
        tracing::info!(
            thread = handle.name(),
            id,
            action,
            "the console asked a thread to {action}"
        );
        let body = serde_json::json!({ "id": id, "action": action }).to_string();
        whole(StatusCode::ACCEPTED, "application/json", body)
    }
}

/// The page, asking for its files and data under `prefix` instead of beside itself.
fn under(prefix: &str) -> String {
    let prefix = prefix.trim_end_matches('/');
    PAGE.replace(
        "href=\"console.css\"",
        &format!("href=\"{prefix}/console.css\""),
    )
    .replace(
        "src=\"console.js\"",
        &format!("src=\"{prefix}/console.js\""),
    )
    .replace("href=\"threads", &format!("href=\"{prefix}/threads"))
}

/// `/threads/<id>/stop` or `/halt`: the id, and whether it is a stop.
fn action(path: &str) -> Option<(u64, bool)> {
    let rest = path.strip_prefix("/threads/")?;
    let (id, verb) = rest.split_once('/')?;
    let id = id.parse().ok()?;
    match verb {
        "stop" => Some((id, true)),
        "halt" => Some((id, false)),
        _ => None,
    }
}

fn wants_text(query: Option<&str>) -> bool {
    query.is_some_and(|query| query.split('&').any(|pair| pair == "format=text"))
}

/// Compares in time that depends on the lengths alone.
fn same(given: &[u8], token: &[u8]) -> bool {
    given.len() == token.len()
        && given
            .iter()
            .zip(token)
            .fold(0, |diff, (a, b)| diff | (a ^ b))
            == 0
}

fn asset(path: &str) -> Answer {
    match path {
        "/console.js" => whole(StatusCode::OK, "text/javascript; charset=utf-8", SCRIPT),
        "/console.css" => whole(StatusCode::OK, "text/css; charset=utf-8", STYLE),
        _ => whole(StatusCode::OK, "text/html; charset=utf-8", PAGE),
    }
}

fn whole(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Answer {
    let mut answer = Response::new(ConsoleBody::Full(Some(body.into())));
    *answer.status_mut() = status;
    answer
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    answer
}

fn error(status: StatusCode, message: &str) -> Answer {
    whole(
        status,
        "application/json",
        serde_json::json!({ "error": message }).to_string(),
    )
}

fn unauthorized() -> Answer {
    let mut answer = error(StatusCode::UNAUTHORIZED, "a bearer token is needed");
    answer
        .headers_mut()
        .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    answer
}

fn not_allowed(allow: &'static str) -> Answer {
    let mut answer = error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
    answer
        .headers_mut()
        .insert(ALLOW, HeaderValue::from_static(allow));
    answer
}

/// The connection closes after the answer: the request's body is never read.
fn closing(mut answer: Answer) -> Answer {
    answer
        .headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("close"));
    answer
}

/// Headers on every answer: the policy, no sniffing, no framing, no caching, no
/// referrer. No CORS header is ever sent: other sites' pages cannot read the console.
fn secure(headers: &mut HeaderMap) {
    headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(POLICY));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

/// A `Host` value's name (an IPv6 address without its brackets) and port, if it names
/// one; `None` if it is malformed (brackets around anything but an IPv6 address, a
/// port of anything but digits).
pub(crate) fn split_host(host: &str) -> Option<(&str, Option<u16>)> {
    let (name, port) = if let Some(rest) = host.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        match after {
            "" => (inside, None),
            after => (inside, Some(after.strip_prefix(':')?)),
        }
    } else {
        match host.split_once(':') {
            Some((name, port)) => (name, Some(port)),
            None => (host, None),
        }
    };
    if name.is_empty() || (host.starts_with('[') && name.parse::<std::net::Ipv6Addr>().is_err()) {
        return None;
    }
    match port {
        None => Some((name, None)),
        // Digits only: no sign, as `u16::from_str` would take.
        Some(port) if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) => None,
        Some(port) => Some((name, Some(port.parse().ok()?))),
    }
}

/// Whether the allowed host `allowed` (`name` or `name:port`) covers `name` and `port`:
/// an allowed name without a port, on any port; with one, on that port, or on none
/// when it is a default one (80 or 443: a proxy in front).
fn allows(allowed: &str, name: &str, port: Option<u16>) -> bool {
    let Some((allowed_name, allowed_port)) = split_host(allowed) else {
        return false;
    };
    allowed_name == name
        && match (allowed_port, port) {
            (None, _) => true,
            (Some(allowed), Some(port)) => allowed == port,
            (Some(allowed), None) => allowed == 80 || allowed == 443,
        }
}
