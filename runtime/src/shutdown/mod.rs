//! Graceful shutdown on signals, with an escalation ladder and a report.
//!
//! The signal handlers only record the signal and wake a thread (signal-hook's
//! iterator); the ladder (`ladder.rs`) runs on an ordinary thread:
//!
//! 1. the first signal (or [`ShutdownHandle::trigger`]) closes the registry to new
//!    threads and stops its threads, the last-started first, one after another (each
//!    awaited before the next is asked), and each drains its queue;
//! 2. a second signal, or `grace` elapsed, halts those still running;
//! 3. a third signal, or `halt_grace` elapsed, prints the report, naming the threads
//!    that are stuck (state, last checkpoint, tasks still queued), to stderr and exits
//!    the process with [`ShutdownReport::exit_code`].
//!
//! The threads that stop last ([`Context::stop_last`](crate::Context::stop_last)) are
//! asked once every other thread has ended and the report is written, on a short
//! ladder of their own (2 s, then 1 s halted), outside the report; the shutdown's
//! third signal (or trigger, counting what started it) still ends the process then.
//!
//! `on_stop` hooks run on helper threads, never on the ladder's, so a hook that blocks
//! cannot hold the ladder up. Once the shutdown is over (or its handle dropped), the
//! signals it listened to take their default action again: a Ctrl-C during the
//! program's own cleanup ends the process.

mod ladder;
mod report;

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crossbeam_channel as channel;
use signal_hook::consts::signal::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use signal_hook::SigId;

use crate::ids::ThreadId;
use crate::registry::{registry, Registry};

pub use report::ShutdownReport;

/// The signals `Shutdown` can listen to, re-exported from signal-hook.
pub mod signal {
    pub use signal_hook::consts::signal::{SIGHUP, SIGINT, SIGQUIT, SIGTERM};
}

/// One process-wide shutdown at a time.
static INSTALLED: AtomicBool = AtomicBool::new(false);

/// Per signal, the action that gives it its default action back once the shutdown that
/// listened to it is over; replaced when a later shutdown listens to the same signal.
static DEFAULTS: Mutex<Vec<(i32, SigId)>> = Mutex::new(Vec::new());

/// The error of [`Shutdown::install`] and [`Shutdown::wait`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InstallError {
    /// A `Shutdown` is already installed in this process.
    #[error("a threadward shutdown is already installed in this process")]
    AlreadyInstalled,
    /// The signal handlers could not be registered (for instance a forbidden signal
    /// such as `SIGKILL`).
    #[error("could not register the signal handlers: {0}")]
    Signals(std::io::Error),
    /// The thread that listens for signals could not be started.
    #[error("could not start the signal thread: {0}")]
    Thread(std::io::Error),
}

/// Stops every thread of a registry when the process is asked to stop, escalating to a
/// halt and then to an exit if threads do not stop in time.
///
/// # Examples
///
/// ```no_run
/// use std::time::Duration;
///
/// // ... spawn background threads ...
/// let report = threadward::Shutdown::on_signals()   // SIGINT, SIGTERM
///     .grace(Duration::from_secs(10))               // then halt
///     .halt_grace(Duration::from_secs(5))           // then exit, naming who is stuck
///     .wait()?;                                     // blocks until a signal
/// println!("{report}");
/// std::process::exit(report.exit_code());
/// # Ok::<(), threadward::InstallError>(())
/// ```
///
/// Without signals, for a shutdown the program starts itself:
///
/// ```
/// # use threadward::{background_thread, BackgroundThread, BoxError, Context, Registry, Shutdown};
/// # #[background_thread] #[derive(Default)] struct Worker;
/// # impl BackgroundThread for Worker {
/// #     type Task = ();
/// #     fn handle(&mut self, (): (), _: &Context) -> Result<(), BoxError> { Ok(()) }
/// # }
/// let registry = Registry::new();
/// Worker.spawn_in(&registry)?;
/// let shutdown = Shutdown::without_signals().registry(&registry).install()?;
/// shutdown.trigger();
/// let report = shutdown.wait();
/// assert_eq!(report.exit_code(), 0);
/// assert_eq!(report.threads()[0].name(), "worker");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
#[must_use = "a Shutdown does nothing until it is installed or waited on"]
pub struct Shutdown {
    signals: Vec<i32>,
    grace: Duration,
    halt_grace: Duration,
    registry: Registry,
    order: StopOrder,
}

/// In which order the first step of a [`Shutdown`] stops the threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum StopOrder {
    /// The last-started first, one after another: each thread is asked to stop only
    /// once the one started after it has ended, so a producer has ended before the
    /// consumer it feeds is asked to stop (OTP's supervisor shutdown order). All of it
    /// within the one `grace`.
    #[default]
    OneByOne,
    /// Every thread at once (still asked the last-started first): the fastest shutdown
    /// when the threads do not feed each other.
    AllAtOnce,
}

impl Shutdown {
    /// A shutdown on SIGINT and SIGTERM for the global registry, with a `grace` of 10 s
    /// and a `halt_grace` of 5 s.
    pub fn on_signals() -> Self {
        Self {
            signals: vec![SIGINT, SIGTERM],
            ..Self::without_signals()
        }
    }

    /// A shutdown started only by [`ShutdownHandle::trigger`]; the same ladder then runs
    /// on the timers.
    ///
    /// # Examples
    ///
    /// The builder's settings, and a shutdown started from code (a `/shutdown` route, a
    /// test):
    ///
    /// ```
    /// use std::time::Duration;
    /// use threadward::{Cause, Registry, Shutdown, StopOrder};
    ///
    /// let registry = Registry::new();
    /// threadward::thread("flusher").spawn_in(&registry, |ctx| {
    ///     ctx.sleep(Duration::from_secs(3600)); // cut short by the stop
    ///     Ok(())
    /// })?;
    /// let shutdown = Shutdown::without_signals()
    ///     .registry(&registry)
    ///     .grace(Duration::from_secs(5)) // to drain, before the halt
    ///     .halt_grace(Duration::from_secs(1)) // to end once halted, before giving up
    ///     .stop_order(StopOrder::AllAtOnce)
    ///     .install()?;
    /// shutdown.trigger();
    /// let report = shutdown.wait();
    /// assert_eq!(report.cause(), Cause::Triggered);
    /// assert!(report.is_clean());
    /// assert_eq!(report.exit_code(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn without_signals() -> Self {
        Self {
            signals: Vec::new(),
            grace: Duration::from_secs(10),
            halt_grace: Duration::from_secs(5),
            registry: registry().clone(),
            order: StopOrder::default(),
        }
    }

    /// Also listens to `signal` (for instance [`signal::SIGHUP`] or
    /// [`signal::SIGQUIT`]).
    pub fn signal(mut self, signal: i32) -> Self {
        if !self.signals.contains(&signal) {
            self.signals.push(signal);
        }
        self
    }

    /// How long threads get to stop (drain and run `shutdown`) before they are halted.
    pub fn grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// How long halted threads get to end before the process exits without them.
    pub fn halt_grace(mut self, halt_grace: Duration) -> Self {
        self.halt_grace = halt_grace;
        self
    }

    /// The registry whose threads are stopped (default: the global one).
    pub fn registry(mut self, registry: &Registry) -> Self {
        self.registry = registry.clone();
        self
    }

    /// In which order the first step stops the threads (default:
    /// [`StopOrder::OneByOne`], the last-started first).
    ///
    /// # Examples
    ///
    /// ```
    /// use threadward::{Shutdown, StopOrder};
    /// let shutdown = Shutdown::on_signals().stop_order(StopOrder::AllAtOnce);
    /// # drop(shutdown);
    /// ```
    pub fn stop_order(mut self, order: StopOrder) -> Self {
        self.order = order;
        self
    }

    /// Registers the signal handlers and returns at once; the program keeps running and
    /// calls [`ShutdownHandle::wait`] when it is ready to block.
    ///
    /// # Errors
    ///
    /// [`InstallError::AlreadyInstalled`] if a shutdown is installed already (installing
    /// twice would have two ladders race); [`InstallError::Signals`] or
    /// [`InstallError::Thread`] if the handlers could not be set up.
    pub fn install(self) -> Result<ShutdownHandle, InstallError> {
        if INSTALLED.swap(true, Ordering::SeqCst) {
            return Err(InstallError::AlreadyInstalled);
        }
        let installed = Installed {
            over: Arc::new(AtomicBool::new(false)),
        };
        let (events_tx, events) = channel::unbounded();
        let escalations = events_tx.clone();
        self.registry
            .on_escalation(move |name, id| escalations.send(Event::Escalated(name, id)).is_ok());
        let mut forwarder = None;
        if !self.signals.is_empty() {
            installed.take_over(&self.signals)?;
            let mut signals = Signals::new(&self.signals).map_err(InstallError::Signals)?;
            let close = signals.handle();
            let tx = events_tx.clone();
            let thread = std::thread::Builder::new()
                .name("threadward-signals".into())
                .spawn(move || {
                    for signal in signals.forever() {
                        if tx.send(Event::Signal(signal)).is_err() {
                            break;
                        }
                    }
                })
                .map_err(InstallError::Thread)?;
            forwarder = Some((close, thread));
        }
        Ok(ShutdownHandle {
            config: self,
            events_tx,
            events,
            forwarder,
            installed,
        })
    }

    /// Installs, then blocks until the first signal and runs the ladder. Returns the
    /// report unless the last step exits the process.
    ///
    /// # Errors
    ///
    /// As [`install`](Self::install).
    pub fn wait(self) -> Result<ShutdownReport, InstallError> {
        Ok(self.install()?.wait())
    }
}

/// The process-wide "installed" mark, and the switch that gives the signals their
/// default action back once the shutdown is over; both when the handle goes.
#[derive(Debug)]
struct Installed {
    over: Arc<AtomicBool>,
}

impl Installed {
    /// For each of `signals`, replaces the default action an earlier shutdown left with
    /// one switched by this shutdown's `over`. (The other signals keep theirs: once
    /// signal-hook handles a signal, only such an action gives it its default back.)
    fn take_over(&self, signals: &[i32]) -> Result<(), InstallError> {
        let mut defaults = DEFAULTS.lock().unwrap_or_else(PoisonError::into_inner);
        for &signal in signals {
            // The earlier action goes first: it may already be switched on, and this
            // shutdown is to handle the signal.
            if let Some(at) = defaults.iter().position(|(known, _)| *known == signal) {
                signal_hook::low_level::unregister(defaults.swap_remove(at).1);
            }
            let id =
                signal_hook::flag::register_conditional_default(signal, Arc::clone(&self.over))
                    .map_err(InstallError::Signals)?;
            defaults.push((signal, id));
        }
        Ok(())
    }

    /// From now on the signals take their default action (for SIGINT and SIGTERM: the
    /// process ends).
    fn end(&self) {
        self.over.store(true, Ordering::SeqCst);
    }
}

impl Drop for Installed {
    fn drop(&mut self) {
        self.end();
        INSTALLED.store(false, Ordering::SeqCst);
    }
}

#[derive(Debug, Clone, Copy)]
enum Event {
    Signal(i32),
    Trigger,
    /// A supervisor at the top of its tree gave up.
    Escalated(&'static str, ThreadId),
    /// The target at this index (in stop order) has ended.
    Ended(usize),
}

/// An installed [`Shutdown`]: trigger it from the program, or wait for it.
///
/// Dropping it (or [`wait`](Self::wait) returning) ends the shutdown's hold on the
/// signals: from then on they take their default action, so a Ctrl-C during the
/// program's own cleanup ends the process.
///
/// # Examples
///
/// A service's `main` waits for a signal; here the program triggers the shutdown
/// itself, as it would on a fatal error of its own.
///
/// ```
/// # use threadward::{background_thread, BackgroundThread, BoxError, Context, Registry, Shutdown};
/// # #[background_thread] struct Flusher;
/// # impl BackgroundThread for Flusher {
/// #     type Task = ();
/// #     fn handle(&mut self, (): (), _: &Context) -> Result<(), BoxError> { Ok(()) }
/// # }
/// let registry = Registry::new();
/// Flusher.spawn_in(&registry)?;
/// let shutdown = Shutdown::without_signals().registry(&registry).install()?;
/// std::thread::scope(|scope| {
///     // Another thread of the program decides it is time to go.
///     scope.spawn(|| shutdown.trigger()); // as a first Ctrl-C would
/// });
/// let report = shutdown.wait(); // every thread stopped, or the ladder's last step taken
/// assert!(report.is_clean());
/// assert_eq!(report.exit_code(), 0);
/// assert!(registry.is_empty());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct ShutdownHandle {
    config: Shutdown,
    events_tx: channel::Sender<Event>,
    events: channel::Receiver<Event>,
    forwarder: Option<(signal_hook::iterator::Handle, std::thread::JoinHandle<()>)>,
    installed: Installed,
}

impl ShutdownHandle {
    /// Starts the shutdown as a first signal would; a second call escalates like a
    /// second signal, a third like a third.
    pub fn trigger(&self) {
        let _ = self.events_tx.send(Event::Trigger);
    }
}

impl Drop for ShutdownHandle {
    fn drop(&mut self) {
        if let Some((close, thread)) = self.forwarder.take() {
            close.close();
            let _ = thread.join();
        }
    }
}

/// What started a shutdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Cause {
    /// A signal, by number.
    Signal(i32),
    /// [`ShutdownHandle::trigger`].
    Triggered,
    /// A supervisor at the top of its tree gave up (its restart intensity was
    /// exceeded) and escalated: see [`Escalation::Shutdown`](crate::Escalation::Shutdown).
    Escalated {
        /// The supervisor's name.
        supervisor: &'static str,
        /// The supervisor's id.
        id: ThreadId,
    },
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Signal(signal) => {
                let name = signal_hook::low_level::signal_name(*signal).unwrap_or("signal");
                write!(f, "{name} ({signal})")
            }
            Self::Triggered => f.write_str("trigger"),
            Self::Escalated { supervisor, id } => {
                write!(f, "escalation by supervisor `{supervisor}` ({id})")
            }
        }
    }
}
