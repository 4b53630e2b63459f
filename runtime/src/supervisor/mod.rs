//! Supervisors: a managed thread that starts its children in order, restarts them by a
//! strategy within an intensity, stops them in reverse order, and gives up (failing,
//! so that its parent or the registry's shutdown learns of it) when they fail too often.

use std::convert::Infallible;
use std::fmt;
use std::time::{Duration, Instant};

use crate::context::Context;
use crate::error::{BoxError, SpawnError};
use crate::family::Family;
use crate::handle::{AnyHandle, Handle};
use crate::outcome::ExitReport;
use crate::registry::{registry, Registry};
use crate::restart::{Restart, RestartPolicy, Restarts};
use crate::spawn::spawn_in;
use crate::thread::{BackgroundThread, Declaration, Declared};
use crate::timing::Timing;

mod child;
mod policy;

pub use child::Child;
pub use policy::{Escalation, Strategy};

/// A supervisor: a managed thread that owns children, started in order.
///
/// When a child ends and its [`RestartPolicy`] says so, the supervisor restarts it (and
/// siblings, by its [`Strategy`]) after a backoff, as a new thread with a fresh value;
/// more restarts than its intensity allows within the window make it give up: it stops
/// the children left, the last-started first, each within its shutdown timeout (then
/// halted), and fails. A supervisor that is a child (of a supervisor, or of any thread
/// by [`Context::spawn_child`]) fails to its parent; the top of a tree escalates as its
/// [`Escalation`] says. Stopping a supervisor stops its children the same way, before it
/// ends. No child is restarted while the supervisor is stopping or its registry shuts
/// down.
///
/// The supervisor and its children are threads of the registry: [`ThreadInfo::parent`]
/// and [`ExitReport::parent`] give the tree, and so does the shutdown report. Its
/// intensity and backoff default as a thread's `restart`: at most 3 restarts within 5 s,
/// the first after 100 ms, doubling with each one in a row.
///
/// [`ThreadInfo::parent`]: crate::ThreadInfo::parent
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use threadward::{background_thread, BackgroundThread, BoxError, Child, Context, Strategy, Supervisor};
///
/// #[background_thread]
/// #[derive(Default)]
/// struct Fetcher;
/// impl BackgroundThread for Fetcher {
///     type Task = u32;
///     fn handle(&mut self, page: u32, _: &Context) -> Result<(), BoxError> {
///         if page == 13 {
///             return Err("unlucky page".into());
///         }
///         Ok(())
///     }
/// }
///
/// #[background_thread]
/// #[derive(Default)]
/// struct Parser;
/// impl BackgroundThread for Parser {
///     type Task = String;
///     fn handle(&mut self, _: String, _: &Context) -> Result<(), BoxError> { Ok(()) }
/// }
///
/// let tree = Supervisor::new("crawl")
///     .strategy(Strategy::RestForOne)
///     .intensity(5, Duration::from_secs(10))
///     .backoff(Duration::from_millis(1))
///     .child(Child::new(Fetcher::default))
///     .child(Child::new(Parser::default))
///     .spawn()?;
///
/// let fetcher = tree.call(|tree, _| tree.find("fetcher"))?.ok_or("no fetcher")?;
/// assert_eq!(fetcher.info().parent, Some(tree.id()));
/// fetcher.clone().downcast::<Fetcher>().map_err(|_| "not a fetcher")?.send(13)?;
/// let failed = fetcher.join_timeout(Duration::from_secs(10))?;
/// assert!(failed.outcome().is_failure());
///
/// // The supervisor starts a new fetcher, and a new parser after it.
/// let deadline = std::time::Instant::now() + Duration::from_secs(10);
/// while tree.call(|tree, _| tree.find("fetcher").map(|f| f.id()))? == Some(fetcher.id()) {
///     assert!(std::time::Instant::now() < deadline, "not restarted");
///     std::thread::sleep(Duration::from_millis(1));
/// }
/// tree.stop();
/// assert!(tree.join()?.outcome().is_clean());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Supervisor {
    /// Boxed: a `SpawnError` hands the supervisor back, and stays small.
    spec: Box<Spec>,
    /// The running generation of each child, by index; `None` once it ended.
    running: Vec<Option<AnyHandle>>,
    restarts: Option<Box<Restarts>>,
    /// Set when the intensity was exceeded: the supervisor fails and escalates.
    gave_up: bool,
}

/// What a supervisor is declared with.
#[derive(Clone)]
struct Spec {
    name: &'static str,
    strategy: Strategy,
    restart: Restart,
    escalation: Escalation,
    children: Vec<Child>,
}

impl Supervisor {
    /// A supervisor named `name`, one-for-one, without children yet.
    pub fn new(name: &'static str) -> Self {
        Self::of(Spec {
            name,
            strategy: Strategy::OneForOne,
            restart: Restart::ON_FAILURE,
            escalation: Escalation::Shutdown,
            children: Vec::new(),
        })
    }

    /// A supervisor as `spec` declares it, not started.
    fn of(spec: Spec) -> Self {
        Self {
            spec: Box::new(spec),
            running: Vec::new(),
            restarts: None,
            gave_up: false,
        }
    }

    /// The same, with `strategy`.
    #[must_use]
    pub fn strategy(mut self, strategy: Strategy) -> Self {
        self.spec.strategy = strategy;
        self
    }

    /// The same, giving up after more than `max_restarts` restarts within `within`
    /// (OTP's intensity and period). `max_restarts = 0` gives up at the first child to
    /// be restarted.
    #[must_use]
    pub fn intensity(mut self, max_restarts: u32, within: Duration) -> Self {
        self.spec.restart = self.spec.restart.with_intensity(max_restarts, within);
        self
    }

    /// The same, waiting `backoff` before the first restart in a row (doubling with
    /// each one in a row, up to 32 times, each drawn between half and all of it).
    #[must_use]
    pub fn backoff(mut self, backoff: Duration) -> Self {
        self.spec.restart = self.spec.restart.with_backoff(backoff);
        self
    }

    /// The same, escalating as `escalation` says when it is the top of its tree.
    #[must_use]
    pub fn escalation(mut self, escalation: Escalation) -> Self {
        self.spec.escalation = escalation;
        self
    }

    /// The same, with `child` after the children it has: started after them, stopped
    /// before them. A nested supervisor is a child too (`Child::from(supervisor)`).
    #[must_use]
    pub fn child(mut self, child: impl Into<Child>) -> Self {
        self.spec.children.push(child.into());
        self
    }

    /// The supervisor's name.
    pub fn name(&self) -> &'static str {
        self.spec.name
    }

    /// The running generation of every child that runs, in start order (for a
    /// supervisor that was spawned: ask it with `call`).
    pub fn running(&self) -> Vec<AnyHandle> {
        self.running.iter().flatten().cloned().collect()
    }

    /// The running generation of the first child named `name`, if it runs.
    ///
    /// # Examples
    ///
    /// ```
    /// # use threadward::{background_thread, BackgroundThread, BoxError, Child, Context, Supervisor};
    /// # #[background_thread(name = "fetcher")] #[derive(Default)] struct Fetcher;
    /// # impl BackgroundThread for Fetcher {
    /// #     type Task = String;
    /// #     fn handle(&mut self, _url: String, _: &Context) -> Result<(), BoxError> { Ok(()) }
    /// # }
    /// let tree = Supervisor::new("crawler").child(Child::new(Fetcher::default)).spawn()?;
    /// // The supervisor's state lives on its thread: ask it with `call`.
    /// let fetcher = tree.call(|s, _| s.find("fetcher"))?.ok_or("no fetcher")?;
    /// assert_eq!(fetcher.info().parent, Some(tree.id()));
    /// tree.stop();
    /// tree.join()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn find(&self, name: &str) -> Option<AnyHandle> {
        self.spec
            .children
            .iter()
            .zip(&self.running)
            .find(|(child, _)| child.name() == name)
            .and_then(|(_, running)| running.clone())
    }

    /// Spawns the supervisor in the process-wide registry; returns once every child has
    /// started, in order.
    ///
    /// # Errors
    ///
    /// As a thread's `spawn`, with the supervisor handed back. A child that fails to
    /// start fails the supervisor's `startup` (the children started before it are
    /// stopped, the last-started first).
    pub fn spawn(self) -> Result<Handle<Self>, SpawnError<Self>> {
        spawn_in(self, registry())
    }

    /// [`spawn`](Self::spawn) into `registry`; the children run there too.
    ///
    /// # Errors
    ///
    /// As [`spawn`](Self::spawn).
    pub fn spawn_in(self, registry: &Registry) -> Result<Handle<Self>, SpawnError<Self>> {
        spawn_in(self, registry)
    }

    /// How long the supervisor needs to stop: as long as stopping each child may take,
    /// and a second more.
    fn stop_limit(&self) -> Duration {
        self.spec
            .children
            .iter()
            .map(|child| child.stop_limit().saturating_mul(2))
            .fold(Duration::from_secs(1), Duration::saturating_add)
    }

    /// Whether the child at `index`, which ended as `report` says, is to be restarted.
    fn wants_restart(&self, index: usize, report: &ExitReport) -> bool {
        match self.spec.children[index].restart_policy() {
            RestartPolicy::Never => false,
            RestartPolicy::OnFailure => report.outcome().is_failure(),
            RestartPolicy::Always => true,
        }
    }

    /// The children a restart of the one at `index` restarts.
    fn affected(&self, index: usize) -> std::ops::Range<usize> {
        match self.spec.strategy {
            Strategy::OneForOne => index..index + 1,
            Strategy::OneForAll => 0..self.spec.children.len(),
            Strategy::RestForOne => index..self.spec.children.len(),
        }
    }

    /// Restarts the child at `index` (which ended with `failure`) and its siblings by
    /// the strategy; again if a start fails, while the intensity allows.
    fn restart_from(
        &mut self,
        mut index: usize,
        mut failure: String,
        ctx: &Context,
    ) -> Result<(), BoxError> {
        let restart = self.spec.restart;
        let seed = ctx.id().as_u64();
        loop {
            if stopping(ctx) {
                return Ok(());
            }
            let restarts = self
                .restarts
                .get_or_insert_with(|| Box::new(Restarts::new(restart, seed)));
            let Some(backoff) = restarts.after_failure(Instant::now()) else {
                self.gave_up = true;
                let (max, within) = (restart.max_restarts(), restart.within());
                tracing::error!(supervisor = self.spec.name, id = ctx.id().as_u64(), %failure, "restarts exceeded {max} within {within:?}: giving up");
                return Err(format!(
                    "gave up: restarts exceeded {max} within {within:?}; the last failure: {failure}"
                )
                .into());
            };
            let name = self.spec.children[index].name();
            tracing::warn!(supervisor = self.spec.name, id = ctx.id().as_u64(), child = name, %failure, ?backoff, strategy = ?self.spec.strategy, "restarting");
            if !ctx.sleep(backoff) || stopping(ctx) {
                return Ok(());
            }
            if let Some(restarts) = self.restarts.as_mut() {
                restarts.started(Instant::now());
            }
            let affected = self.affected(index);
            let mut restarting = vec![false; self.spec.children.len()];
            restarting[index] = true;
            for at in affected.clone().rev() {
                if let Some(sibling) = self.running[at].take() {
                    // Its exit, when told, matches no running child and is ignored.
                    ctx.control().stop_child(sibling.id());
                    restarting[at] =
                        self.spec.children[at].restart_policy() != RestartPolicy::Never;
                }
            }
            // A stop that came while the siblings stopped: nothing is started again.
            if stopping(ctx) {
                return Ok(());
            }
            match self.start(affected.filter(|at| restarting[*at]), ctx) {
                Ok(()) => return Ok(()),
                Err((at, message)) => (index, failure) = (at, message),
            }
        }
    }

    /// Starts the children at `indices`, in order: the index and error of the first
    /// that fails to start.
    fn start(
        &mut self,
        indices: impl Iterator<Item = usize>,
        ctx: &Context,
    ) -> Result<(), (usize, String)> {
        for at in indices {
            let child = &self.spec.children[at];
            match child.start(ctx) {
                Ok(handle) => self.running[at] = Some(handle),
                Err(message) => {
                    tracing::error!(supervisor = self.spec.name, id = ctx.id().as_u64(), child = child.name(), %message, "child did not start");
                    return Err((
                        at,
                        format!("child `{}` did not start: {message}", child.name()),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Whether restarts are to wait: the supervisor is stopping, or its registry shuts down
/// (which stops the children itself).
fn stopping(ctx: &Context) -> bool {
    ctx.is_stopping() || Family::of_context(ctx).is_some_and(|f| f.registry.is_shutting_down())
}

// Kept out of rustc's "other types implement" notes on a user's missing impl.
#[diagnostic::do_not_recommend]
impl Declared for Supervisor {
    const NAME: &'static str = "supervisor";
    const CAPACITY: Option<usize> = None;

    fn __declaration(&self) -> Declaration {
        Declaration {
            name: self.spec.name,
            // Unbounded: a child's exit is never held up by a full queue.
            capacity: None,
            timing: Timing::NONE.with_shutdown_timeout(self.stop_limit()),
            singleton: false,
            run_at_once: false,
            restart: Restart::NEVER,
            workers: 1,
            stop_last: false,
        }
    }
}

#[diagnostic::do_not_recommend]
impl BackgroundThread for Supervisor {
    type Task = Infallible;

    fn startup(&mut self, ctx: &Context) -> Result<(), BoxError> {
        self.running = vec![None; self.spec.children.len()];
        self.start(0..self.spec.children.len(), ctx)
            .map_err(|(_, message)| message.into())
    }

    fn handle(&mut self, task: Infallible, _: &Context) -> Result<(), BoxError> {
        match task {}
    }

    fn child_exited(&mut self, report: &ExitReport, ctx: &Context) -> Result<(), BoxError> {
        let Some(index) = self
            .running
            .iter()
            .position(|running| running.as_ref().is_some_and(|r| r.id() == report.id()))
        else {
            return Ok(()); // a generation this supervisor stopped itself
        };
        self.running[index] = None;
        if stopping(ctx) || !self.wants_restart(index, report) {
            return Ok(());
        }
        let failure = format!(
            "child `{}` ({}) {}",
            report.name(),
            report.id(),
            report.outcome()
        );
        self.restart_from(index, failure, ctx)
    }

    fn shutdown(&mut self, ctx: &Context) {
        // The children have stopped by now (the run loop stops them first).
        let top = ctx.control().parent().is_none();
        if self.gave_up && top && self.spec.escalation == Escalation::Shutdown {
            let registry =
                Family::of_context(ctx).map_or_else(|| registry().clone(), |f| f.registry.clone());
            registry.escalate(self.spec.name, ctx.id());
        }
    }
}

impl Clone for Supervisor {
    /// The same supervisor, not started: its name, strategy, intensity, escalation and
    /// children.
    fn clone(&self) -> Self {
        Self::of((*self.spec).clone())
    }
}

impl From<Supervisor> for Child {
    /// A nested supervisor as a child: every generation is a copy of it, not started,
    /// and it is given as long to stop as its own children may take.
    fn from(supervisor: Supervisor) -> Self {
        let (name, limit) = (supervisor.spec.name, supervisor.stop_limit());
        Child::started_by(name, limit, move |ctx, shutdown_timeout| {
            crate::children::spawn_child(ctx, supervisor.clone(), shutdown_timeout, None)
                .map(AnyHandle::from)
                .map_err(|error| crate::panics::describe(&error.failure))
        })
    }
}

impl fmt::Debug for Supervisor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Supervisor")
            .field("name", &self.spec.name)
            .field("strategy", &self.spec.strategy)
            .field("restart", &self.spec.restart)
            .field("escalation", &self.spec.escalation)
            .field("children", &self.spec.children)
            .finish_non_exhaustive()
    }
}
