//! Watching a registry: callbacks and channels told of every exit, and the
//! escalations of supervisors that gave up, which an installed shutdown takes.

use std::sync::mpsc;

use crate::ids::ThreadId;
use crate::outcome::ExitReport;
use crate::progress::ShutdownProgress;
use crate::registry::Registry;

impl Registry {
    /// How far the shutdown of this registry has got, once one has begun: its step,
    /// how long the step has left, how many threads have not ended, and, once they all
    /// have, the report. `None` before a [`Shutdown`](crate::Shutdown) began.
    pub fn shutdown_progress(&self) -> Option<ShutdownProgress> {
        self.progress().read()
    }

    /// Runs `f` with the exit report of every thread of this registry that ends from
    /// now on: once per thread, on the ending thread, once its exit is published. Keep
    /// it short (the thread's joiners wait for its OS thread, which runs `f`), or use
    /// [`monitor`](Self::monitor), which gives the reports as a channel.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    /// use threadward::Registry;
    ///
    /// let registry = Registry::new();
    /// let unclean = Arc::new(AtomicUsize::new(0));
    /// let counted = Arc::clone(&unclean);
    /// registry.on_exit(move |exit| {
    ///     counted.fetch_add(usize::from(!exit.outcome().is_clean()), Ordering::SeqCst);
    /// });
    /// let failing = threadward::thread("failing").spawn_in(&registry, |_ctx| Err("no disk".into()))?;
    /// failing.join()?; // the callback ran before the join returned
    /// assert_eq!(unclean.load(Ordering::SeqCst), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn on_exit(&self, f: impl Fn(&ExitReport) + Send + Sync + 'static) {
        self.watchers().add(move |report| {
            f(report);
            true
        });
    }

    /// A channel that receives the exit report of every thread of this registry that
    /// ends from now on, once per thread, as soon as its exit is published. Dropping the
    /// receiver ends the subscription (at the next exit).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use threadward::Registry;
    ///
    /// let registry = Registry::new();
    /// let exits = registry.monitor();
    /// let once = threadward::thread("once").spawn_in(&registry, |_ctx| Ok(()))?;
    /// let exit = exits.recv_timeout(Duration::from_secs(10))?;
    /// assert_eq!((exit.name(), exit.id()), ("once", once.id()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn monitor(&self) -> mpsc::Receiver<ExitReport> {
        let (sender, receiver) = mpsc::channel();
        self.watchers()
            .add(move |report| sender.send(report.clone()).is_ok());
        receiver
    }

    /// Tells the watchers that a thread ended; its exit is published.
    pub(crate) fn tell_exit(&self, report: &ExitReport) {
        self.watchers().tell(report);
    }

    /// Escalates the failure of the supervisor `name` (`id`), the top of its tree,
    /// which gave up: an installed [`Shutdown`](crate::Shutdown) of this registry
    /// starts, as on a signal; without one, every thread of the registry is asked to
    /// stop. Whether a shutdown took it.
    pub(crate) fn escalate(&self, name: &'static str, id: ThreadId) -> bool {
        if self.watchers().escalate(name, id) {
            return true;
        }
        tracing::error!(
            supervisor = name,
            id = id.as_u64(),
            "escalated with no shutdown installed: stopping every thread"
        );
        self.stop_all();
        false
    }

    /// Calls `f` with the supervisor of every escalation, until it returns `false`.
    #[cfg_attr(not(unix), allow(dead_code))]
    pub(crate) fn on_escalation(
        &self,
        f: impl Fn(&'static str, ThreadId) -> bool + Send + Sync + 'static,
    ) {
        self.watchers().add_escalation(f);
    }
}
