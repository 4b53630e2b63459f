//! Who is told of every exit in a registry: callbacks and channels, each told once per
//! ended thread, on the ending thread, after its exit was published.

use std::sync::{Arc, Mutex, PoisonError};

use crate::outcome::ExitReport;
use crate::panics::panic_message;

/// Told of an exit; `false` once it wants no more (its receiver was dropped).
type Watcher = Arc<dyn Fn(&ExitReport) -> bool + Send + Sync>;

/// The watchers of one registry.
#[derive(Default)]
pub(crate) struct Watchers {
    list: Mutex<Vec<Watcher>>,
}

impl Watchers {
    pub(crate) fn add(&self, watcher: impl Fn(&ExitReport) -> bool + Send + Sync + 'static) {
        self.lock().push(Arc::new(watcher));
    }

    /// Tells every watcher of `report`. They run outside the list's lock (a watcher may
    /// add another); a panicking one is logged and kept.
    pub(crate) fn tell(&self, report: &ExitReport) {
        let watchers = self.lock().clone();
        for watcher in watchers {
            let told = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| watcher(report)));
            match told {
                Ok(true) => {}
                Ok(false) => self.lock().retain(|kept| !Arc::ptr_eq(kept, &watcher)),
                Err(payload) => {
                    let message = panic_message(payload);
                    tracing::error!(thread = report.name(), %message, "exit watcher panicked");
                }
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Watcher>> {
        self.list.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
