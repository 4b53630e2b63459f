//! [`AnyHandle`]: a handle to a thread of any type, as the registry and the factory give
//! it.

use std::any::Any;
use std::fmt;
use std::sync::{mpsc, Arc};
use std::time::Duration;

use super::shared::{Managed, Shared};
use super::typed::Handle;
use crate::control::Control;
use crate::error::{JoinError, JoinTimeoutError};
use crate::ids::{State, ThreadId};
use crate::info::ThreadInfo;
use crate::outcome::ExitReport;
use crate::thread::BackgroundThread;

/// A handle to a thread of any type, as the registry and [`create`](crate::create) give
/// it. It can observe, stop and join the thread; [`downcast`](Self::downcast) gives the
/// typed [`Handle`] back for sending tasks.
///
/// # Examples
///
/// ```
/// # use threadward::{background_thread, BackgroundThread, BoxError, Context};
/// # #[background_thread(name = "pinger")] #[derive(Default)] struct Pinger;
/// # impl BackgroundThread for Pinger {
/// #     type Task = ();
/// #     fn handle(&mut self, _: (), _: &Context) -> Result<(), BoxError> { Ok(()) }
/// # }
/// let any = threadward::create("pinger")?;
/// assert_eq!(any.name(), "pinger");
/// let pinger = any.downcast::<Pinger>().expect("created as a Pinger");
/// pinger.send(())?;
/// pinger.stop();
/// assert_eq!(pinger.join()?.handled(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct AnyHandle {
    managed: Arc<dyn Managed>,
}

impl AnyHandle {
    pub(crate) fn new(managed: Arc<dyn Managed>) -> Self {
        Self { managed }
    }

    /// The typed handle, if the thread is a `T`; otherwise this handle, back.
    ///
    /// # Errors
    ///
    /// Returns `self` unchanged when the thread is not a `T`.
    ///
    /// # Examples
    ///
    /// ```
    /// use threadward::{background_thread, BackgroundThread, BoxError, Context, Registry};
    ///
    /// #[background_thread(name = "counter")]
    /// #[derive(Default)]
    /// struct Counter { n: u64 }
    ///
    /// impl BackgroundThread for Counter {
    ///     type Task = u64;
    ///     fn handle(&mut self, n: u64, _ctx: &Context) -> Result<(), BoxError> {
    ///         self.n += n;
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let registry = Registry::new();
    /// Counter::default().spawn_in(&registry)?;
    /// // Found by name, as the registry and the factory give it: typed again to send.
    /// let found = registry.find("counter").ok_or("not running")?;
    /// let counter = found.downcast::<Counter>().map_err(|_| "not a Counter")?;
    /// counter.send(2)?;
    /// assert_eq!(counter.call(|c, _| c.n)?, 2);
    /// registry.stop_all();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn downcast<T: BackgroundThread>(self) -> Result<Handle<T>, AnyHandle> {
        if !self.is::<T>() {
            return Err(self);
        }
        Arc::clone(&self.managed)
            .into_any()
            .downcast::<Shared<T>>()
            .map(Handle::new)
            .map_err(|_| self)
    }

    /// Whether the thread is a `T`.
    pub fn is<T: BackgroundThread>(&self) -> bool {
        let any: &dyn Any = &*Arc::clone(&self.managed).into_any();
        any.is::<Shared<T>>()
    }

    /// Asks the thread to stop, as [`Handle::stop`] does.
    pub fn stop(&self) {
        self.managed.control().request_stop();
    }

    /// Halts the thread, as [`Handle::halt`] does.
    pub fn halt(&self) {
        self.managed.control().request_halt();
    }

    /// Waits for the thread to end and returns how it ended. The undelivered tasks stay
    /// for a typed [`Handle::join`].
    ///
    /// # Errors
    ///
    /// [`JoinError::OwnThread`] when called from the thread itself.
    pub fn join(&self) -> Result<ExitReport, JoinError> {
        let control = self.managed.control();
        if control.is_current() {
            return Err(JoinError::OwnThread);
        }
        let report = control.wait_exit();
        control.mark_exit_taken();
        Ok(report)
    }

    /// Like [`join`](Self::join), waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// [`JoinTimeoutError::Timeout`] if the thread is still running after `timeout`;
    /// [`JoinTimeoutError::OwnThread`] when called from the thread itself.
    pub fn join_timeout(&self, timeout: Duration) -> Result<ExitReport, JoinTimeoutError> {
        let control = self.managed.control();
        if control.is_current() {
            return Err(JoinTimeoutError::OwnThread);
        }
        let report = control
            .wait_exit_timeout(timeout)
            .ok_or(JoinTimeoutError::Timeout)?;
        control.mark_exit_taken();
        Ok(report)
    }

    /// Where the thread is in its lifecycle.
    pub fn state(&self) -> State {
        self.managed.control().state()
    }

    /// Whether the thread has not ended yet.
    pub fn is_alive(&self) -> bool {
        self.state().is_alive()
    }

    /// The thread's name.
    pub fn name(&self) -> &'static str {
        self.managed.control().name
    }

    /// The thread's id.
    pub fn id(&self) -> ThreadId {
        self.managed.control().id
    }

    /// The Rust type of the thread.
    pub fn type_name(&self) -> &'static str {
        self.managed.control().type_name
    }

    /// A snapshot of the thread.
    pub fn info(&self) -> ThreadInfo {
        ThreadInfo::of(self.managed.control())
    }

    /// The shared state, for the shutdown ladder.
    pub(crate) fn control(&self) -> &Arc<Control> {
        self.managed.control()
    }
}

impl AnyHandle {
    /// Runs `f` with the thread's exit report once it has ended: once, on the ending
    /// thread (keep it short: joiners wait for it), or at once, here, if it already
    /// ended. No polling; [`monitor`](Self::monitor) gives the report as a channel.
    pub fn on_exit(&self, f: impl FnOnce(&ExitReport) + Send + 'static) {
        self.control().on_exit(Box::new(f));
    }

    /// A channel that receives the thread's exit report once it has ended (at once if
    /// it already has).
    pub fn monitor(&self) -> mpsc::Receiver<ExitReport> {
        let (sender, receiver) = mpsc::channel();
        self.on_exit(move |report| {
            let _ = sender.send(report.clone());
        });
        receiver
    }
}

impl fmt::Debug for AnyHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AnyHandle")
            .field("name", &self.name())
            .field("id", &self.id())
            .field("type", &self.type_name())
            .field("state", &self.state())
            .finish()
    }
}

impl<T: BackgroundThread> From<Handle<T>> for AnyHandle {
    fn from(handle: Handle<T>) -> Self {
        AnyHandle::new(handle.sender.shared)
    }
}

impl<T: BackgroundThread> Handle<T> {
    /// A type-erased handle to the same thread.
    pub fn to_any(&self) -> AnyHandle {
        AnyHandle::new(Arc::clone(&self.sender.shared) as Arc<dyn Managed>)
    }
}
