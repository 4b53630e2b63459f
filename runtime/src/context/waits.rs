//! The interruptible waits of a [`Context`]: a sleep and a receive that a stop cuts
//! short and a halt unwinds out of.

use std::panic::Location;
use std::time::{Duration, Instant};

use crossbeam_channel as channel;

use super::Context;
use crate::timing::after;

impl Context {
    /// Sleeps for `duration`, unless a stop or halt is requested: returns `true` if it
    /// slept the whole time, `false` if a stop cut it short (at once, not at the next
    /// tick) or the thread's `deadline` came first (which stops it). Like a checkpoint,
    /// it unwinds if the thread was halted.
    ///
    /// # Panics
    ///
    /// Unwinds with [`Halted`](crate::Halted) when the thread was halted before or during the sleep.
    ///
    /// # Examples
    ///
    /// ```
    /// # use threadward::{background_thread, BackgroundThread, BoxError, Context};
    /// # use std::time::{Duration, Instant};
    /// #[background_thread]
    /// #[derive(Default)]
    /// struct Poller;
    ///
    /// impl BackgroundThread for Poller {
    ///     type Task = ();
    ///     fn handle(&mut self, (): (), ctx: &Context) -> Result<(), BoxError> {
    ///         while ctx.sleep(Duration::from_secs(60)) {
    ///             // poll the device once a minute
    ///         }
    ///         Ok(()) // a stop woke the sleep: finish
    ///     }
    /// }
    ///
    /// let poller = Poller.spawn()?;
    /// poller.send(())?;
    /// let asked = Instant::now();
    /// poller.stop();
    /// poller.join()?;
    /// assert!(asked.elapsed() < Duration::from_secs(10));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[track_caller]
    pub fn sleep(&self, duration: Duration) -> bool {
        let location = Location::caller();
        self.control.halt.pass(location);
        let until = after(Instant::now(), duration);
        let slept = loop {
            if self.is_stopping() {
                break false;
            }
            let now = Instant::now();
            if now >= until {
                break true;
            }
            let wake = self.control.deadline().map_or(until, |end| end.min(until));
            if self.control.interrupt().recv_timeout(wake - now).is_ok() {
                break false;
            }
        };
        self.control.halt.pass(location);
        slept
    }

    /// Receives from `receiver`, unless a stop or halt is requested first: `None` when a
    /// stop (or the thread's `deadline`) cut the wait short or the channel is
    /// disconnected. Like a checkpoint, it unwinds if the thread was halted.
    ///
    /// The channel is a [crossbeam-channel](https://docs.rs/crossbeam-channel) 0.5 one
    /// (`crossbeam_channel::Receiver`), which the wait selects on together with the
    /// stop; a `std::sync::mpsc` receiver cannot be waited on this way.
    ///
    /// # Panics
    ///
    /// Unwinds with [`Halted`](crate::Halted) when the thread was halted before or during the wait.
    ///
    /// # Examples
    ///
    /// A thread that forwards events from a channel of its own until it is stopped: a
    /// stop ends the wait at once, with no polling.
    ///
    /// ```
    /// use threadward::{background_thread, BackgroundThread, BoxError, Context, Outcome};
    ///
    /// #[background_thread]
    /// struct Forwarder {
    ///     events: crossbeam_channel::Receiver<u32>,
    ///     forwarded: u64,
    /// }
    ///
    /// impl BackgroundThread for Forwarder {
    ///     type Task = ();
    ///     fn handle(&mut self, (): (), ctx: &Context) -> Result<(), BoxError> {
    ///         while let Some(_event) = ctx.recv(&self.events) {
    ///             self.forwarded += 1; // forward it
    ///         }
    ///         Ok(()) // stopped (or every sender gone)
    ///     }
    /// }
    ///
    /// let (events, received) = crossbeam_channel::unbounded();
    /// let forwarder = Forwarder { events: received, forwarded: 0 }.spawn()?;
    /// forwarder.send(())?; // start forwarding
    /// events.send(7)?;
    /// forwarder.stop(); // the wait in `recv` ends now
    /// assert!(matches!(forwarder.join()?.outcome(), Outcome::Stopped));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[track_caller]
    pub fn recv<T>(&self, receiver: &channel::Receiver<T>) -> Option<T> {
        let location = Location::caller();
        self.control.halt.pass(location);
        if self.is_stopping() {
            return receiver.try_recv().ok();
        }
        let message = loop {
            let Some(end) = self.control.deadline() else {
                break channel::select! {
                    recv(receiver) -> message => message.ok(),
                    recv(self.control.interrupt()) -> _ => None,
                };
            };
            if self.deadline_passed() {
                break receiver.try_recv().ok();
            }
            channel::select! {
                recv(receiver) -> message => break message.ok(),
                recv(self.control.interrupt()) -> _ => break None,
                default(end.saturating_duration_since(Instant::now())) => {}
            }
        };
        self.control.halt.pass(location);
        message
    }
}
