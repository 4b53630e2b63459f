//! The hardened HTTP/1 server the console runs on, and that a service's own front can
//! use too: hyper on the current tokio runtime, bounded in connections, in time per
//! request head and per write, and draining on a stop.
//!
//! ```no_run
//! use std::convert::Infallible;
//! use http_body_util::Full;
//! use hyper::body::Bytes;
//! use hyper::Response;
//! use threadward_console::server::{listen, serve, Limits};
//!
//! # fn main() -> std::io::Result<()> {
//! let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
//! runtime.block_on(async {
//!     let listener = listen("127.0.0.1:0".parse().unwrap())?;
//!     let (stopping, stop) = tokio::sync::watch::channel(false);
//!     # stopping.send_replace(true);
//!     serve(listener, Limits::default(), stop, |_request| async {
//!         Response::new(Full::new(Bytes::from_static(b"hello")))
//!     })
//!     .await;
//!     Ok(())
//! })
//! # }
//! ```

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::{Duration, Instant};

use hyper::body::{Body, Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};

/// What a server allows its clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// How long a client may take to send a request's head or to take each part of an
    /// answer; also how long an idle keep-alive connection stays open. 10 s.
    pub timeout: Duration,
    /// How many connections are served at once. 1024.
    pub max_connections: usize,
    /// How long the connections still open are given once the server stops. 5 s.
    pub drain: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            max_connections: 1024,
            drain: Duration::from_secs(5),
        }
    }
}

impl Limits {
    /// These limits with another `timeout`.
    #[must_use]
    pub fn timeout(self, timeout: Duration) -> Self {
        Self { timeout, ..self }
    }

    /// These limits with another `max_connections`.
    #[must_use]
    pub fn max_connections(self, max_connections: usize) -> Self {
        Self {
            max_connections,
            ..self
        }
    }

    /// These limits with another `drain`.
    #[must_use]
    pub fn drain(self, drain: Duration) -> Self {
        Self { drain, ..self }
    }
}

/// Listens on `address` with a backlog that holds a burst of a thousand connections (the default of
/// 128 makes the 129th client of a burst wait a second for its SYN to be sent again).
///
/// # Errors
///
/// What the system says when the socket cannot be made, bound or listened on.
pub fn listen(address: SocketAddr) -> io::Result<TcpListener> {
    let socket = match address {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    socket.bind(address)?;
    socket.listen(1024)
}

/// Serves HTTP/1 on `listener` until `stop` turns `true`, then drains: no new
/// connections, the requests already read are answered, idle keep-alive connections
/// close, and after `limits.drain` whatever is still open (an event stream) is closed.
///
/// Every connection is a task on the current tokio runtime. The limits hold against
/// hostile clients: at most `limits.max_connections` at once (beyond them a client is
/// told 503 and closed), `limits.timeout` to send a request's head (also how long an
/// idle keep-alive connection stays open), and the same to take each part of an answer
/// (a client that stops reading is dropped and holds nothing). Running out of file
/// descriptors is logged, rate-limited, and accepting resumes as connections close.
pub async fn serve<F, Fut, B>(
    listener: TcpListener,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
    respond: F,
) where
    F: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response<B>> + Send + 'static,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let graceful = GracefulShutdown::new();
    let permits = Arc::new(Semaphore::new(
        limits.max_connections.clamp(1, Semaphore::MAX_PERMITS),
    ));
    let mut http = http1::Builder::new();
    // Counts from when a request's head is awaited: a slow head, or an idle
    // keep-alive connection, is closed after it.
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.timeout);
    // Beyond the bound, a few connections at a time are told 503 properly (their
    // request read, so that closing does not reset the answer away); the rest closed.
    let refusals = Arc::new(Semaphore::new(64));
    let mut starved = Starved::default();
    loop {
        let accepted = tokio::select! {
            _ = stop.wait_for(|stopping| *stopping) => break,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _peer)) => stream,
            Err(error) if out_of_resources(&error) => {
                starved.failed(&error);
                // The pending connection stays in the backlog; try again shortly.
                tokio::select! {
                    _ = stop.wait_for(|stopping| *stopping) => break,
                    () = tokio::time::sleep(Duration::from_millis(50)) => continue,
                }
            }
            Err(error) => {
                tracing::debug!(%error, "a connection failed as it was accepted");
                continue;
            }
        };
        starved.accepted();
        let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
            if let Ok(refusal) = Arc::clone(&refusals).try_acquire_owned() {
                tokio::spawn(refuse_busy(stream, refusal));
            }
            continue;
        };
        let _ = stream.set_nodelay(true);
        let io = TokioIo::new(WriteTimeout::new(stream, limits.timeout));
        let respond = respond.clone();
        let service = service_fn(move |request| {
            let answer = respond(request);
            async move { Ok::<_, Infallible>(answer.await) }
        });
        let connection = graceful.watch(http.serve_connection(io, service));
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "a connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    tracing::info!(
        open = graceful.count(),
        "stopped accepting; draining connections"
    );
    if tokio::time::timeout(limits.drain, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(grace = ?limits.drain, "closing the connections still open after the drain");
    }
}

/// Errors of `accept` that say the process is out of something (descriptors, memory),
/// not that one connection failed.
fn out_of_resources(error: &io::Error) -> bool {
    // EMFILE, ENFILE, ENOBUFS, ENOMEM on Linux.
    matches!(error.raw_os_error(), Some(24 | 23 | 105 | 12))
}

/// Answers a connection beyond the bound with 503 and closes it: writes the answer,
/// ends its side, and reads what the client sent (for at most a second) so that the
/// close does not reset the answer away.
async fn refuse_busy(mut stream: TcpStream, refusal: OwnedSemaphorePermit) {
    const BODY: &str = r#"{"error":"too many connections"}"#;
    let busy = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
         retry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{BODY}",
        BODY.len()
    );
    let answered = async {
        stream.write_all(busy.as_bytes()).await?;
        stream.shutdown().await?;
        let mut sink = [0; 1024];
        while stream.read(&mut sink).await? != 0 {}
        Ok::<(), io::Error>(())
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), answered).await;
    tracing::debug!("refused a connection over the bound");
    drop(refusal);
}

/// Whether `accept` is failing for want of resources, with its log lines rate-limited:
/// a client must not be able to fill the log by opening connections.
#[derive(Default)]
struct Starved {
    now: bool,
    warned: Option<Instant>,
    recovered: Option<Instant>,
}

impl Starved {
    const QUIET: Duration = Duration::from_secs(10);

    fn failed(&mut self, error: &io::Error) {
        self.now = true;
        if self.warned.is_none_or(|at| at.elapsed() >= Self::QUIET) {
            tracing::warn!(%error, "cannot accept connections; retrying as others close");
            self.warned = Some(Instant::now());
        }
    }

    fn accepted(&mut self) {
        if std::mem::take(&mut self.now)
            && self.recovered.is_none_or(|at| at.elapsed() >= Self::QUIET)
        {
            tracing::info!("accepting connections again");
            self.recovered = Some(Instant::now());
        }
    }
}

/// A stream whose writes fail once they have made no progress for `limit`: a client
/// that stops taking its answers releases its connection.
struct WriteTimeout {
    stream: TcpStream,
    limit: Duration,
    stalled: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl WriteTimeout {
    fn new(stream: TcpStream, limit: Duration) -> Self {
        Self {
            stream,
            limit,
            stalled: None,
        }
    }

    /// `poll` of a write: progress resets the clock, a stall past the limit fails.
    fn timed<T>(
        &mut self,
        cx: &mut TaskContext<'_>,
        poll: impl FnOnce(Pin<&mut TcpStream>, &mut TaskContext<'_>) -> Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        match poll(Pin::new(&mut self.stream), cx) {
            Poll::Ready(done) => {
                self.stalled = None;
                Poll::Ready(done)
            }
            Poll::Pending => {
                let limit = self.limit;
                let stalled = self
                    .stalled
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
                match stalled.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the client took no answer within the timeout",
                    ))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }
}

impl AsyncRead for WriteTimeout {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for WriteTimeout {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut()
            .timed(cx, |stream, cx| stream.poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.get_mut()
            .timed(cx, |stream, cx| stream.poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        self.get_mut().timed(cx, AsyncWrite::poll_flush)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}
