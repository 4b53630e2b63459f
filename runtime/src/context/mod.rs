//! The [`Context`] handed to every lifecycle method and to closures run by `call`/`cast`.

use std::any::Any;
use std::fmt;
use std::panic::Location;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::control::Control;
use crate::error::SetEveryError;
use crate::halt::Halted;
use crate::ids::{State, ThreadId};
use crate::timing::period;

mod waits;

/// What a running thread knows about itself.
///
/// Every lifecycle method of [`BackgroundThread`](crate::BackgroundThread) gets one.
///
/// # Examples
///
/// ```
/// use threadward::{background_thread, BackgroundThread, BoxError, Context};
///
/// #[background_thread(name = "countdown")]
/// struct Countdown;
///
/// impl BackgroundThread for Countdown {
///     type Task = u32;
///     fn handle(&mut self, left: u32, ctx: &Context) -> Result<(), BoxError> {
///         assert_eq!(ctx.name(), "countdown");
///         if left == 0 {
///             ctx.stop(); // the thread asks itself to stop
///         }
///         Ok(())
///     }
/// }
///
/// let countdown = Countdown.spawn()?;
/// countdown.send(0)?;
/// let exit = countdown.join()?;
/// assert!(exit.outcome().is_clean());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Context {
    control: Arc<Control>,
    /// The registry the thread runs in and the way to its own queue, for
    /// `spawn_child` (a `family::Family`; typed there, above this module).
    family: Option<Arc<dyn Any + Send + Sync>>,
}

impl Context {
    pub(crate) fn new(control: Arc<Control>) -> Self {
        Self {
            control,
            family: None,
        }
    }

    /// The same, with the family `spawn_child` works with.
    pub(crate) fn with_family(self, family: Arc<dyn Any + Send + Sync>) -> Self {
        Self {
            family: Some(family),
            ..self
        }
    }

    pub(crate) fn family(&self) -> Option<&(dyn Any + Send + Sync)> {
        self.family.as_deref()
    }

    pub(crate) fn control(&self) -> &Control {
        &self.control
    }

    pub(crate) fn control_arc(&self) -> &Arc<Control> {
        &self.control
    }

    /// The thread's name.
    pub fn name(&self) -> &'static str {
        self.control.name
    }

    /// The thread's id.
    pub fn id(&self) -> ThreadId {
        self.control.id
    }

    /// Where the thread is in its lifecycle.
    pub fn state(&self) -> State {
        self.control.state()
    }

    /// The period of the thread's ticks, as declared with `every` or last set with
    /// [`set_every`](Self::set_every); `None` for a thread without ticks.
    pub fn every(&self) -> Option<Duration> {
        period(self.control.every_nanos())
    }

    /// Changes the period of the thread's ticks: once the thread sees the change, the
    /// next tick is due one `every` later, and the rest follow at the new period
    /// (setting the period it already has changes nothing). A thread can back off when
    /// there is nothing to do, and speed up again. Called on the thread itself (in
    /// `handle` or `tick`), it is seen at once; from another thread (through a clone of
    /// the context), when the thread next wakes for a task or a tick. Periods longer
    /// than about 584 years are cut to that.
    ///
    /// # Errors
    ///
    /// [`SetEveryError::NotTicking`] for a thread declared without `every`,
    /// [`SetEveryError::Zero`] for a zero period; both hand the period back.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use threadward::{background_thread, BackgroundThread, BoxError, Context, Ticking};
    ///
    /// #[background_thread(every = "10ms")]
    /// #[derive(Default)]
    /// struct Poller { idle_ticks: u32 }
    ///
    /// impl BackgroundThread for Poller {
    ///     type Task = ();
    ///     fn handle(&mut self, (): (), ctx: &Context) -> Result<(), BoxError> {
    ///         self.idle_ticks = 0;
    ///         ctx.set_every(Duration::from_millis(10))?; // work came: poll often again
    ///         Ok(())
    ///     }
    /// }
    ///
    /// impl Ticking for Poller {
    ///     fn tick(&mut self, ctx: &Context) -> Result<(), BoxError> {
    ///         self.idle_ticks += 1;
    ///         if self.idle_ticks == 3 {
    ///             ctx.set_every(Duration::from_secs(1))?; // nothing to do: back off
    ///         }
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let poller = Poller::default().spawn()?;
    /// assert_eq!(poller.call(|_, ctx| ctx.every())?, Some(Duration::from_millis(10)));
    /// poller.stop();
    /// poller.join()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_every(&self, every: Duration) -> Result<(), SetEveryError> {
        if self.control.every_nanos() == 0 {
            return Err(SetEveryError::NotTicking(every));
        }
        if every.is_zero() {
            return Err(SetEveryError::Zero(every));
        }
        self.control.set_every(every);
        Ok(())
    }

    /// Whether the queue no longer accepts tasks: a stop or halt was requested (the
    /// thread ends once it has handled the tasks it accepted), its `deadline` passed
    /// (which stops it now, if nothing else did), or the thread is ending after a
    /// failure. Long-running `handle` calls can check it to finish early.
    pub fn is_stopping(&self) -> bool {
        self.control.is_closed() || self.deadline_passed()
    }

    /// Whether the thread has a deadline and it passed (which stops the thread).
    fn deadline_passed(&self) -> bool {
        self.control.deadline().is_some() && self.control.check_deadline(Instant::now())
    }

    /// Asks this thread to stop once it has handled the tasks already accepted, as
    /// `Handle::stop` does from outside. A `Context` is `Clone + Send + Sync`, so this
    /// also works from another thread that was given a clone: the thread wakes if it was
    /// waiting for work. The `on_stop` hooks run here, on the caller.
    pub fn stop(&self) {
        self.control.request_stop();
    }

    /// Whether the thread was halted.
    pub fn is_halted(&self) -> bool {
        self.control.halt.is_halted()
    }

    /// A checkpoint: if the thread was halted, unwinds out of `handle` (running
    /// destructors, printing nothing) and the thread ends as halted. Records the
    /// caller's location for the shutdown report. See [`checkpoint`](crate::checkpoint)
    /// for the free function that needs no `Context`.
    ///
    /// # Panics
    ///
    /// Unwinds with a [`Halted`] payload when the thread was halted (not a panic: no
    /// hook runs, nothing is printed).
    ///
    /// # Examples
    ///
    /// ```
    /// use threadward::{background_thread, BackgroundThread, BoxError, Context, Outcome};
    ///
    /// #[background_thread]
    /// #[derive(Default)]
    /// struct Cruncher;
    ///
    /// impl BackgroundThread for Cruncher {
    ///     type Task = u64;
    ///     fn handle(&mut self, rounds: u64, ctx: &Context) -> Result<(), BoxError> {
    ///         for _ in 0..rounds {
    ///             ctx.checkpoint();
    ///             std::thread::sleep(std::time::Duration::from_millis(1));
    ///         }
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let cruncher = Cruncher.spawn()?;
    /// cruncher.send(u64::MAX)?; // would run for ever
    /// cruncher.send(1)?;        // queued behind it
    /// cruncher.halt();
    /// let exit = cruncher.join()?;
    /// assert!(matches!(exit.outcome(), Outcome::Halted));
    /// // The queued task is returned, not dropped (and so is the long one, if the halt
    /// // came before it started).
    /// assert_eq!(exit.undelivered().last(), Some(&1));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[track_caller]
    #[inline]
    pub fn checkpoint(&self) {
        self.control.halt.pass(Location::caller());
    }

    /// Like [`checkpoint`](Self::checkpoint), returning `Err(Halted)` instead of
    /// unwinding: for `?`-style code and for builds with `panic = "abort"`.
    ///
    /// # Errors
    ///
    /// [`Halted`] when the thread was halted.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use threadward::{background_thread, BackgroundThread, BoxError, Context, Outcome};
    ///
    /// #[background_thread]
    /// struct Indexer {
    ///     rounds: u64,
    /// }
    ///
    /// impl BackgroundThread for Indexer {
    ///     type Task = ();
    ///     fn handle(&mut self, (): (), ctx: &Context) -> Result<(), BoxError> {
    ///         loop {
    ///             // A halt makes this `Err(Halted)`, and `?` ends the task with it.
    ///             ctx.try_checkpoint()?;
    ///             self.rounds += 1;
    ///             std::thread::sleep(Duration::from_millis(1));
    ///         }
    ///     }
    /// }
    ///
    /// let indexer = Indexer { rounds: 0 }.spawn()?;
    /// indexer.send(())?;
    /// while indexer.info().last_checkpoint.is_none() {
    ///     std::thread::sleep(Duration::from_millis(1));
    /// }
    /// indexer.halt();
    /// assert!(matches!(indexer.join()?.outcome(), Outcome::Halted));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[track_caller]
    #[inline]
    pub fn try_checkpoint(&self) -> Result<(), Halted> {
        self.control.halt.try_pass(Location::caller())
    }

    /// Registers `hook` to run once, when a stop or halt is first requested, on the
    /// thread that requests it (or at once, here, if one was already requested; a
    /// [`Shutdown`](crate::Shutdown) runs them on a helper thread of its own). It is
    /// how a thread parked in blocking I/O is woken: close the socket, connect to the
    /// listener, cancel the request. The thread is woken from waiting for work before
    /// the hooks run, so a hook that blocks does not keep it from ending.
    ///
    /// A hook registered past `startup` (in `handle`, a tick or a call) also says that
    /// this task blocks by design until a stop: observers see it in
    /// [`ThreadInfo::blocks_by_design`](crate::ThreadInfo::blocks_by_design), and a
    /// console does not show it stuck, however long it runs.
    ///
    /// # Examples
    ///
    /// A thread serving a `TcpListener`, whose `accept` would otherwise keep a stop
    /// waiting for ever:
    ///
    /// ```
    /// use std::net::{TcpListener, TcpStream};
    /// use threadward::{background_thread, BackgroundThread, BoxError, Context};
    ///
    /// #[background_thread]
    /// #[derive(Default)]
    /// struct Server;
    ///
    /// impl BackgroundThread for Server {
    ///     type Task = TcpListener;
    ///     fn handle(&mut self, listener: TcpListener, ctx: &Context) -> Result<(), BoxError> {
    ///         let address = listener.local_addr()?;
    ///         // On stop, connect once to our own listener, so that `accept` returns.
    ///         ctx.on_stop(move || drop(TcpStream::connect(address)));
    ///         for stream in listener.incoming() {
    ///             if ctx.is_stopping() {
    ///                 break;
    ///             }
    ///             let _client = stream?; // serve it
    ///         }
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let server = Server.spawn()?;
    /// server.send(TcpListener::bind("127.0.0.1:0")?)?;
    /// server.stop(); // before or during `accept`: either way it ends
    /// assert!(server.join()?.outcome().is_clean());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn on_stop(&self, hook: impl FnOnce() + Send + 'static) {
        self.control.mark_hooked();
        self.control.on_stop(Box::new(hook));
    }

    /// Asks a [`Shutdown`](crate::Shutdown) to stop this thread only once every other
    /// thread of its registry has ended and the report is written: for a thread that
    /// watches the others (a console showing the shutdown as it happens). Call it from
    /// `startup`, so that it holds before anyone can begin a shutdown (a closure thread:
    /// [`ThreadBuilder::stop_last`](crate::ThreadBuilder::stop_last)). A stop or halt
    /// from elsewhere (a handle, `stop_all`) is not delayed. Called on a pool's worker,
    /// it holds for the whole pool: a pool stops as one.
    ///
    /// Such a thread is not in the shutdown's report, nor in its exit code: it is
    /// asked to stop once the report is written, and has 2 s to end (at most the
    /// `grace`), then 1 s once halted (at most the `halt_grace`); a thread still
    /// running then is left behind, with a warning, and `wait` returns. So give such a
    /// thread no work that must not be lost: what it leaves undone is in no report.
    pub fn stop_last(&self) {
        self.control.set_stop_last();
    }
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("name", &self.control.name)
            .field("id", &self.control.id)
            .field("state", &self.control.state())
            .finish_non_exhaustive()
    }
}
