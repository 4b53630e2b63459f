//! Who is told of every exit in a registry: callbacks and channels, each told once per
//! ended thread, on the ending thread, after its exit was published; and who takes the
//! escalations of supervisors that gave up.

use std::sync::{Arc, Mutex, PoisonError};

use crate::ids::ThreadId;
use crate::outcome::ExitReport;
use crate::panics::panic_message;

/// Told of an exit; `false` once it wants no more (its receiver was dropped).
type Watcher = Arc<dyn Fn(&ExitReport) -> bool + Send + Sync>;

/// Told of an escalation (the supervisor's name and id); `false` once it wants no
/// more.
type EscalationWatcher = Arc<dyn Fn(&'static str, ThreadId) -> bool + Send + Sync>;

/// The watchers of one registry.
#[derive(Default)]
pub(crate) struct Watchers {
    list: Mutex<Vec<Watcher>>,
    escalations: Mutex<Vec<EscalationWatcher>>,
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

    pub(crate) fn add_escalation(
        &self,
        watcher: impl Fn(&'static str, ThreadId) -> bool + Send + Sync + 'static,
    ) {
        self.escalations_lock().push(Arc::new(watcher));
    }

    /// Tells the escalation watchers, outside the lock; whether one took it.
    pub(crate) fn escalate(&self, name: &'static str, id: ThreadId) -> bool {
        let watchers = self.escalations_lock().clone();
        let mut taken = false;
        for watcher in watchers {
            if watcher(name, id) {
                taken = true;
            } else {
                self.escalations_lock()
                    .retain(|kept| !Arc::ptr_eq(kept, &watcher));
            }
        }
        taken
    }

    fn escalations_lock(&self) -> std::sync::MutexGuard<'_, Vec<EscalationWatcher>> {
        self.escalations
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Watcher>> {
        self.list.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
