//! The HTTP front as a managed thread: its `startup` builds a tokio runtime of its own
//! (one thread: this one) and binds; its one task serves until a stop, then drains, on
//! the hardened server of `threadward_console::server` (the console's own). Every
//! connection is a task on that runtime, so a slow client holds a task and a socket,
//! never the thread.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::sync::Arc;

use threadward::{background_thread, BackgroundThread, BoxError, Context, Handle};
use threadward_console::server::{listen, serve, Limits};
use tokio::net::TcpListener;
use tokio::runtime::Runtime;
use tokio::sync::watch;

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
        let limits = Limits::default()
            .timeout(self.config.timeout)
            .max_connections(self.config.max_connections)
            .drain(self.config.drain);
        let stop = front.stop.clone();
        runtime.block_on(serve(listener, limits, stop, move |request| {
            let front = Arc::clone(&front);
            async move { respond(&front, request).await }
        }));
        // Connections the drain left open are dropped (closed) with the runtime.
        Ok(())
    }
}
