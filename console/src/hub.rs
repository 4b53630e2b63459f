//! One broadcaster for every page: each update samples the registry once, writes the
//! event once, and hands the same bytes to every stream. A stream holds the latest
//! update only (a client that falls behind skips to the newest; its memory is that of
//! one update), and a stream's writes are timed out by the server, so a slow client
//! is dropped without delaying the others.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context as TaskContext, Poll};
use std::time::{Duration, Instant};

use hyper::body::{Body, Bytes, Frame};
use threadward_runtime::Registry;
use tokio::sync::watch;

use crate::snapshot::Snapshot;
use crate::tracker::Tracker;

/// The latest update, as every stream sends it.
#[derive(Debug)]
pub(crate) struct Update {
    pub(crate) snapshot: Snapshot,
    event: Bytes,
    /// The console stops: the streams end after this update.
    last: bool,
}

/// What the console's handlers share: the tracker, and the latest update.
#[derive(Debug)]
pub(crate) struct Hub {
    tracker: Mutex<Tracker>,
    updates: watch::Sender<Arc<Update>>,
    pinged: Mutex<Instant>,
    pub(crate) registry: Registry,
    pub(crate) settings: Settings,
}

/// What a console was configured with, as its handlers need it.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) token: Option<String>,
    pub(crate) actions: bool,
    /// `Host` values served (`host:port`, lowercase); empty: the loopback names.
    pub(crate) hosts: Vec<String>,
    /// The bound port, whose loopback names are served; `None` when mounted.
    pub(crate) port: Option<u16>,
    /// How often a stream carries a comment line besides its updates, for proxies
    /// that close connections they think idle.
    pub(crate) ping: Duration,
}

impl Hub {
    pub(crate) fn new(registry: &Registry, stuck_after: Duration, settings: Settings) -> Self {
        let mut tracker = Tracker::new(
            registry,
            stuck_after,
            settings.actions && settings.token.is_some(),
        );
        let first = Update::of(tracker.sample(), false);
        Self {
            tracker: Mutex::new(tracker),
            updates: watch::Sender::new(Arc::new(first)),
            pinged: Mutex::new(Instant::now()),
            registry: registry.clone(),
            settings,
        }
    }

    /// Samples the registry and hands the update to every stream.
    pub(crate) fn tick(&self) {
        self.publish(false);
    }

    /// Hands every stream a last update, after which it ends.
    pub(crate) fn close(&self) {
        self.publish(true);
    }

    fn publish(&self, last: bool) {
        // Held until the update is handed over: a tick that sampled before the close
        // cannot replace the last update with an older one.
        let mut tracker = self.tracker();
        // After the last update, nothing: its streams ended.
        if self.updates.borrow().last {
            return;
        }
        let snapshot = tracker.sample();
        if last {
            tracker.stop_watching();
        }
        let ping = {
            let mut pinged = self.pinged.lock().unwrap_or_else(PoisonError::into_inner);
            let due = pinged.elapsed() >= self.settings.ping;
            if due {
                *pinged = Instant::now();
            }
            due
        };
        let mut update = Update::of(snapshot, ping);
        update.last = last;
        self.updates.send_replace(Arc::new(update));
    }

    fn tracker(&self) -> std::sync::MutexGuard<'_, Tracker> {
        self.tracker.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The latest update.
    pub(crate) fn latest(&self) -> Arc<Update> {
        Arc::clone(&self.updates.borrow())
    }

    /// The latest update with each thread's history.
    pub(crate) fn latest_with_history(&self) -> Snapshot {
        let latest = self.latest();
        self.tracker().with_history(&latest.snapshot)
    }

    /// A stream of updates: the latest at once, with each thread's history (so that
    /// a page that reconnects has its charts back), then every update after it.
    pub(crate) fn stream(&self) -> Events {
        let updates = self.updates.subscribe();
        let latest = self.latest();
        let first = Update::of(self.tracker().with_history(&latest.snapshot), false).event;
        Events {
            first: Some(first),
            // A stream that begins after the close ends after its first event.
            updates: (!latest.last).then_some(updates),
            waiting: None,
        }
    }
}

impl Update {
    fn of(snapshot: Snapshot, ping: bool) -> Self {
        let json = snapshot.to_json();
        // JSON written compactly holds no line break: one `data` line.
        let event = format!(
            "{}id: {}\nevent: threads\ndata: {json}\n\n",
            if ping { ": ping\n\n" } else { "" },
            snapshot.update
        );
        Self {
            snapshot,
            event: Bytes::from(event),
            last: false,
        }
    }
}

type Waiting = Pin<Box<dyn Future<Output = (watch::Receiver<Arc<Update>>, bool)> + Send>>;

/// The body of `GET /threads/events`: server-sent events, one per update, until the
/// console stops.
pub struct Events {
    first: Option<Bytes>,
    updates: Option<watch::Receiver<Arc<Update>>>,
    waiting: Option<Waiting>,
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Events").finish_non_exhaustive()
    }
}

impl Body for Events {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        if let Some(first) = this.first.take() {
            return Poll::Ready(Some(Ok(Frame::data(first))));
        }
        if this.waiting.is_none() {
            let Some(mut updates) = this.updates.take() else {
                return Poll::Ready(None);
            };
            this.waiting = Some(Box::pin(async move {
                let changed = updates.changed().await.is_ok();
                (updates, changed)
            }));
        }
        let Some(waiting) = this.waiting.as_mut() else {
            return Poll::Ready(None);
        };
        let Poll::Ready((mut updates, changed)) = waiting.as_mut().poll(cx) else {
            return Poll::Pending;
        };
        this.waiting = None;
        if !changed {
            return Poll::Ready(None);
        }
        let (event, last) = {
            let update = updates.borrow_and_update();
            (update.event.clone(), update.last)
        };
        if !last {
            this.updates = Some(updates);
        }
        Poll::Ready(Some(Ok(Frame::data(event))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hub(registry: &Registry) -> Hub {
        let settings = Settings {
            token: None,
            actions: false,
            hosts: Vec::new(),
            port: None,
            ping: Duration::from_secs(15),
        };
        Hub::new(registry, Duration::from_secs(5), settings)
    }

    #[test]
    fn a_closed_hub_stops_listening_to_exits_and_publishes_nothing_more() {
        let registry = Registry::new();
        let hub = hub(&registry);
        hub.tick();
        assert!(hub.tracker().is_watching());
        hub.close();
        let last = hub.latest();
        assert!(last.last);
        // The registry forgets a monitor nobody reads, rather than queue its exits.
        assert!(!hub.tracker().is_watching());
        hub.tick();
        assert!(
            Arc::ptr_eq(&last, &hub.latest()),
            "an update after the last"
        );
    }

    #[test]
    fn ticks_racing_the_close_never_replace_the_last_update() {
        let registry = Registry::new();
        // Threads to sample, so that an update takes a moment to make.
        let threads: Vec<_> = (0..50)
            .map(|_| {
                threadward_runtime::thread("idle")
                    .spawn_in(&registry, |ctx| {
                        ctx.sleep(Duration::from_secs(60));
                        Ok(())
                    })
                    .expect("spawn")
            })
            .collect();
        for _ in 0..50 {
            let hub = Arc::new(hub(&registry));
            let go = Arc::new(std::sync::Barrier::new(4));
            let tickers: Vec<_> = (0..3)
                .map(|_| {
                    let (hub, go) = (Arc::clone(&hub), Arc::clone(&go));
                    std::thread::spawn(move || {
                        go.wait();
                        for _ in 0..20 {
                            hub.tick();
                        }
                    })
                })
                .collect();
            go.wait();
            hub.close();
            for ticker in tickers {
                ticker.join().expect("a ticker");
            }
            assert!(hub.latest().last, "a tick replaced the last update");
        }
        for thread in &threads {
            thread.stop();
        }
    }
}
