//! The worker: delivers notifications, one at a time, on its own managed thread.

use std::collections::VecDeque;
use std::time::Duration;

/// How many recent deliveries the notifier remembers (`GET /recent`).
pub(crate) const RECENT: usize = 10;

use threadward::{background_thread, BackgroundThread, BoxError, Context};

/// One notification to deliver (as JSON on the Redis stream, with `--redis`).
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct Notification {
    pub(crate) id: u64,
    pub(crate) recipient: String,
    pub(crate) text: String,
}

/// Delivers notifications, one at a time, on its own thread. The queue is small on
/// purpose: when delivery falls behind, clients get 503 and `Retry-After` (backpressure)
/// instead of an ever-growing backlog.
#[background_thread(name = "notification", capacity = 64, factory = Notifier::from_env)]
pub(crate) struct Notifier {
    delivered: u64,
    /// The ids of the latest deliveries, oldest first.
    pub(crate) recent: VecDeque<u64>,
    /// How long one delivery takes (`NOTIFIER_DELIVERY_MS`, default 1 ms).
    delivery: Duration,
}

impl Notifier {
    /// The factory: created by name, configured from the environment (`main` has
    /// already refused an invalid `NOTIFIER_DELIVERY_MS`).
    pub(crate) fn from_env() -> Self {
        let millis = std::env::var("NOTIFIER_DELIVERY_MS")
            .ok()
            .and_then(|ms| ms.parse().ok())
            .unwrap_or(1);
        Self {
            delivered: 0,
            recent: VecDeque::with_capacity(RECENT),
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
        if self.recent.len() == RECENT {
            self.recent.pop_front();
        }
        self.recent.push_back(notification.id);
        // The recipient is the client's text: logged escaped (`?`), never raw.
        tracing::info!(
            id = notification.id,
            recipient = ?notification.recipient,
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
