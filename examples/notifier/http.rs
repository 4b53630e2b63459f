//! The HTTP front as a managed thread: its `startup` builds a tokio runtime of its own
//! (one thread: this one) and binds; its one task serves until a stop, then drains.
//! Every connection is a task on that runtime, so a slow client holds a task and a
//! socket, never the thread.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::{Duration, Instant};

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use threadward::{background_thread, BackgroundThread, BoxError, Context, Handle};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::runtime::Runtime;
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};

use crate::notifier::Notifier;
use crate::routes::{respond, Front};
use crate::Config;

/// Serves HTTP on its own managed thread. A stop (Ctrl-C, SIGTERM, or a handle) flips
/// the `stopping` watch from the stopping side; the serve loop sees it at once.
#[background_thread(name = "http")]
pub(crate) struct HttpServer {
    config: Config,
    notifier: Handle<Notifier>,
    /// Built by `startup`, taken by the one task.
    bound: Option<(Runtime, TcpListener, watch::Receiver<bool>)>,
    address: Option<SocketAddr>,
}

impl HttpServer {
    pub(crate) fn new(config: Config, notifier: Handle<Notifier>) -> Self {
        Self {
            config,
            notifier,
            bound: None,
            address: None,
        }
    }

    /// Where it listens, once `startup` bound.
    pub(crate) fn address(&self) -> Result<SocketAddr, &'static str> {
        self.address.ok_or("the server is not bound")
    }
}

impl BackgroundThread for HttpServer {
    /// One task: serve until stopped.
    type Task = ();

    fn startup(&mut self, ctx: &Context) -> Result<(), BoxError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, self.config.port));
        let listener = runtime
            .block_on(async { listen(address) })
            .map_err(|error| format!("could not listen on {address}: {error}"))?;
        self.address = Some(listener.local_addr()?);
        let (stopping, stop) = watch::channel(false);
        ctx.on_stop(move || {
            stopping.send_replace(true);
        });
        self.bound = Some((runtime, listener, stop));
        Ok(())
    }

    fn handle(&mut self, (): (), _ctx: &Context) -> Result<(), BoxError> {
        let (runtime, listener, stop) = self.bound.take().ok_or("the server already ran")?;
        let producer = match &self.config.redis {
            Some(url) => Some(Arc::new(
                threadward_redis::Producer::connect(url)?
                    .key(crate::STREAM)
                    .group(crate::GROUP),
            )),
            None => None,
        };
        let front = Arc::new(Front {
            notifier: self.notifier.clone(),
            producer,
            next_id: AtomicU64::new(0),
            accepted: AtomicU64::new(0),
            waiting: AtomicUsize::new(0),
            stop,
            timeout: self.config.timeout,
            queue_wait: self.config.queue_wait,
        });
        runtime.block_on(serve(listener, front, &self.config));
        // Connections the drain left open are dropped (closed) with the runtime.
        Ok(())
    }
}

/// A listener whose backlog holds a burst of a thousand connections (the default of
/// 128 makes the 129th client of a burst wait a second for its SYN to be sent again).
fn listen(address: SocketAddr) -> io::Result<TcpListener> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(address)?;
    socket.listen(1024)
}

/// Accepts until stopped, then drains: no new connections, the requests already read
/// are answered, idle keep-alive connections close, and after `config.drain` whatever
/// is still open is closed.
async fn serve(listener: TcpListener, front: Arc<Front>, config: &Config) {
    let mut stop = front.stop.clone();
    let graceful = GracefulShutdown::new();
    let permits = Arc::new(Semaphore::new(config.max_connections));
    let mut http = http1::Builder::new();
    // Counts from when a request's head is awaited: a slow head, or an idle
    // keep-alive connection, is closed after it.
    http.timer(TokioTimer::new())
        .header_read_timeout(config.timeout);
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
        let io = TokioIo::new(WriteTimeout::new(stream, config.timeout));
        let service_front = Arc::clone(&front);
        let service = service_fn(move |request| {
            let front = Arc::clone(&service_front);
            async move { Ok::<_, Infallible>(respond(&front, request).await) }
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
    if tokio::time::timeout(config.drain, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(grace = ?config.drain, "closing the connections still open after the drain");
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
        if self.warned.map_or(true, |at| at.elapsed() >= Self::QUIET) {
            tracing::warn!(%error, "cannot accept connections; retrying as others close");
            self.warned = Some(Instant::now());
        }
    }

    fn accepted(&mut self) {
        if std::mem::take(&mut self.now)
            && self
                .recovered
                .map_or(true, |at| at.elapsed() >= Self::QUIET)
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
