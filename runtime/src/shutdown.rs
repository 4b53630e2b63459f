//! Graceful shutdown on signals, with an escalation ladder and a report.
//!
//! The signal handlers only record the signal and wake a thread (signal-hook's
//! iterator); the ladder runs on an ordinary thread:
//!
//! 1. the first signal (or [`ShutdownHandle::trigger`]) stops every thread of the
//!    registry, the last-started first, and each drains its queue;
//! 2. a second signal, or `grace` elapsed, halts those still running;
//! 3. a third signal, or `halt_grace` elapsed, prints which threads are stuck (state and
//!    last checkpoint) to stderr and exits the process with [`ShutdownReport::exit_code`].

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crossbeam_channel as channel;
use signal_hook::consts::signal::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use crate::exit::{ExitReport, Outcome};
use crate::handle::AnyHandle;
use crate::registry::{registry, Registry, ThreadInfo};

/// The signals `Shutdown` can listen to, re-exported from signal-hook.
pub mod signal {
    pub use signal_hook::consts::signal::{SIGHUP, SIGINT, SIGQUIT, SIGTERM};
}

/// One process-wide shutdown at a time.
static INSTALLED: AtomicBool = AtomicBool::new(false);

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
    pub fn without_signals() -> Self {
        Self {
            signals: Vec::new(),
            grace: Duration::from_secs(10),
            halt_grace: Duration::from_secs(5),
            registry: registry().clone(),
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
        let installed = Installed;
        let (events_tx, events) = channel::unbounded();
        let mut forwarder = None;
        if !self.signals.is_empty() {
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
            _installed: installed,
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

/// Clears the process-wide "installed" mark when the handle goes.
#[derive(Debug)]
struct Installed;

impl Drop for Installed {
    fn drop(&mut self) {
        INSTALLED.store(false, Ordering::SeqCst);
    }
}

#[derive(Debug, Clone, Copy)]
enum Event {
    Signal(i32),
    Trigger,
    /// Every thread that was asked to stop has ended.
    AllEnded,
}

/// An installed [`Shutdown`]: trigger it from the program, or wait for it.
///
/// Dropping it unregisters the signal handlers.
#[derive(Debug)]
pub struct ShutdownHandle {
    config: Shutdown,
    events_tx: channel::Sender<Event>,
    events: channel::Receiver<Event>,
    forwarder: Option<(signal_hook::iterator::Handle, std::thread::JoinHandle<()>)>,
    _installed: Installed,
}

impl ShutdownHandle {
    /// Starts the shutdown as a first signal would; a second call escalates like a
    /// second signal.
    pub fn trigger(&self) {
        let _ = self.events_tx.send(Event::Trigger);
    }

    /// Blocks until the shutdown starts, runs the ladder and returns the report — or,
    /// at the last step, prints the report to stderr and exits the process with
    /// [`ShutdownReport::exit_code`].
    pub fn wait(self) -> ShutdownReport {
        let cause = match self.events.recv() {
            Ok(Event::Signal(signal)) => Cause::Signal(signal),
            _ => Cause::Triggered,
        };
        let started = Instant::now();
        tracing::info!(%cause, "shutdown started");

        // The last-started first: a server feeding a queue stops before the queue's
        // consumer, which can then drain what it was given.
        let mut targets = self.config.registry.handles();
        targets.reverse();
        for target in &targets {
            target.stop();
        }
        let reports = Arc::new(Mutex::new(Vec::with_capacity(targets.len())));
        let collector = {
            let targets = targets.clone();
            let reports = Arc::clone(&reports);
            let done = self.events_tx.clone();
            std::thread::Builder::new()
                .name("threadward-shutdown".into())
                .spawn(move || {
                    for target in &targets {
                        if let Ok(report) = target.join() {
                            reports
                                .lock()
                                .unwrap_or_else(PoisonError::into_inner)
                                .push(report);
                        }
                    }
                    let _ = done.send(Event::AllEnded);
                })
        };
        if collector.is_err() {
            // Without a collector nobody reports the end: wait out the ladder instead.
            tracing::error!("could not start the shutdown collector thread");
        }

        let mut step = Step::Stopping;
        let mut last_signal = match cause {
            Cause::Signal(signal) => Some(signal),
            Cause::Triggered => None,
        };
        let mut deadline = Instant::now() + self.config.grace;
        loop {
            let event = match self.events.recv_deadline(deadline) {
                Ok(Event::AllEnded) => break,
                Ok(Event::Signal(signal)) => Some(signal),
                Ok(Event::Trigger) | Err(_) => None,
            };
            last_signal = event.or(last_signal);
            match step {
                Step::Stopping => {
                    tracing::warn!("shutdown: halting the threads still running");
                    for target in &targets {
                        target.halt();
                    }
                    step = Step::Halting;
                    deadline = Instant::now() + self.config.halt_grace;
                }
                Step::Halting => {
                    let report = Self::report(cause, last_signal, started, &reports, &targets);
                    eprintln!("{report}");
                    std::process::exit(report.exit_code());
                }
            }
        }
        Self::report(cause, last_signal, started, &reports, &targets)
    }

    fn report(
        cause: Cause,
        last_signal: Option<i32>,
        started: Instant,
        reports: &Mutex<Vec<ExitReport>>,
        targets: &[AnyHandle],
    ) -> ShutdownReport {
        let threads = reports
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let stuck = targets
            .iter()
            .filter(|target| !threads.iter().any(|report| report.id() == target.id()))
            .map(AnyHandle::info)
            .collect();
        ShutdownReport {
            cause,
            exit_signal: last_signal,
            took: started.elapsed(),
            threads,
            stuck,
        }
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Stopping,
    Halting,
}

/// What started a shutdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Cause {
    /// A signal, by number.
    Signal(i32),
    /// [`ShutdownHandle::trigger`].
    Triggered,
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Signal(signal) => {
                let name = signal_hook::low_level::signal_name(*signal).unwrap_or("signal");
                write!(f, "{name} ({signal})")
            }
            Self::Triggered => f.write_str("trigger"),
        }
    }
}

/// How a shutdown went: per thread, in the order they were asked to stop (the
/// last-started first), how it ended, and the threads that did not end.
#[derive(Debug, Clone)]
pub struct ShutdownReport {
    cause: Cause,
    exit_signal: Option<i32>,
    took: Duration,
    threads: Vec<ExitReport>,
    stuck: Vec<ThreadInfo>,
}

impl ShutdownReport {
    /// What started the shutdown.
    pub fn cause(&self) -> Cause {
        self.cause
    }

    /// How long the shutdown took.
    pub fn took(&self) -> Duration {
        self.took
    }

    /// The threads that ended, in the order they were asked to stop.
    pub fn threads(&self) -> &[ExitReport] {
        &self.threads
    }

    /// The threads that had not ended when the report was made, with their state and
    /// last checkpoint.
    pub fn stuck(&self) -> &[ThreadInfo] {
        &self.stuck
    }

    /// Whether every thread stopped and handled everything it accepted.
    pub fn is_clean(&self) -> bool {
        self.stuck.is_empty() && self.threads.iter().all(|t| t.outcome().is_clean())
    }

    /// The process exit code this shutdown calls for: `0` when every thread stopped
    /// cleanly; otherwise `128 +` the number of the last signal received (the shell's
    /// convention: 130 for SIGINT, 143 for SIGTERM), or `1` when no signal was involved.
    pub fn exit_code(&self) -> i32 {
        match (self.is_clean(), self.exit_signal) {
            (true, _) => 0,
            (false, Some(signal)) => 128 + signal,
            (false, None) => 1,
        }
    }
}

impl fmt::Display for ShutdownReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "shutdown on {} took {:.3?}: {} ended, {} stuck",
            self.cause,
            self.took,
            self.threads.len(),
            self.stuck.len()
        )?;
        writeln!(
            f,
            "  {:<24} {:>6}  {:<10} {:>9} {:>9} {:>10}",
            "thread", "id", "outcome", "handled", "returned", "stop took"
        )?;
        for thread in &self.threads {
            let outcome = match thread.outcome() {
                Outcome::Stopped => "stopped".to_owned(),
                Outcome::Halted => "halted".to_owned(),
                Outcome::Panicked { .. } => "panicked".to_owned(),
                _ => "failed".to_owned(),
            };
            let took = thread
                .stop_took()
                .map_or_else(|| "-".to_owned(), |took| format!("{took:.1?}"));
            writeln!(
                f,
                "  {:<24} {:>6}  {:<10} {:>9} {:>9} {:>10}",
                thread.name(),
                thread.id().to_string(),
                outcome,
                thread.handled(),
                thread.undelivered(),
                took
            )?;
            if !matches!(thread.outcome(), Outcome::Stopped | Outcome::Halted) {
                writeln!(f, "    {}", thread.outcome())?;
            }
        }
        for stuck in &self.stuck {
            write!(f, "  STUCK {} {} ({})", stuck.name, stuck.id, stuck.state)?;
            match &stuck.last_checkpoint {
                Some(checkpoint) => writeln!(f, ", last checkpoint {checkpoint}")?,
                None => writeln!(f, ", never passed a checkpoint")?,
            }
        }
        Ok(())
    }
}
