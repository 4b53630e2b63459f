//! The [`Context`] handed to every lifecycle method and to closures run by `call`/`cast`.

use std::fmt;
use std::sync::Arc;

use crate::control::Control;
use crate::registry::{State, ThreadId};

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
}

impl Context {
    pub(crate) fn new(control: Arc<Control>) -> Self {
        Self { control }
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

    /// Whether a stop was requested: the queue no longer accepts tasks, and the thread
    /// ends once it has handled the ones it accepted. Long-running `handle` calls can
    /// check it to finish early.
    pub fn is_stopping(&self) -> bool {
        self.control.gate.is_closed()
    }

    /// Asks this thread to stop once it has handled the tasks already accepted, as
    /// `Handle::stop` does from outside.
    pub fn stop(&self) {
        // The thread is not blocked in the channel while it runs this, so closing the
        // gate is enough: no wake-up is needed.
        self.control.gate.close();
        self.control.mark_stopping();
    }
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("name", &self.control.name)
            .field("id", &self.control.id)
            .field("state", &self.control.state())
            .finish()
    }
}
