//! The bounded forms of [`Handle`]'s waits on the thread: `call_timeout` (the closure
//! taken back if it never ran) and `cast_timeout`.

use std::sync::{Arc, Mutex, PoisonError};
use std::task::Poll;
use std::time::{Duration, Instant};

use super::message::{CastJob, Message, TimedCallJob};
use super::reply::reply;
use super::typed::Handle;
use crate::context::Context;
use crate::error::{refused_in, CallTimeoutError, CastError};
use crate::queue::Refused;
use crate::thread::BackgroundThread;

impl<T: BackgroundThread> Handle<T> {
    /// Like [`call`](Self::call), waiting at most `timeout` in all (for room in a full
    /// queue, for the closure to start, and for its answer).
    ///
    /// # Errors
    ///
    /// [`CallTimeoutError::Timeout`] (closure handed back) if the closure had not
    /// started when the time ran out: it was taken back and never runs;
    /// [`CallTimeoutError::Late`] if it had started but not answered: it runs to its
    /// end, and its value is dropped. Otherwise as [`call`](Self::call), with the
    /// closure handed back when the thread ended before running it.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use threadward::{background_thread, BackgroundThread, BoxError, CallTimeoutError, Context};
    ///
    /// #[background_thread]
    /// struct Slow;
    ///
    /// impl BackgroundThread for Slow {
    ///     type Task = Duration;
    ///     fn handle(&mut self, pause: Duration, ctx: &Context) -> Result<(), BoxError> {
    ///         ctx.sleep(pause);
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let slow = Slow.spawn()?;
    /// slow.send(Duration::from_secs(60))?; // busy for a minute
    /// let ran = Arc::new(AtomicBool::new(false));
    /// let flag = Arc::clone(&ran);
    /// let asked = slow.call_timeout(Duration::from_millis(50), move |_slow, _ctx| {
    ///     flag.store(true, Ordering::Relaxed);
    /// });
    /// assert!(matches!(asked, Err(CallTimeoutError::Timeout(_)))); // the closure, back
    /// slow.stop(); // cuts the sleep short
    /// slow.join()?;
    /// assert!(!ran.load(Ordering::Relaxed)); // taken back, it never ran
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn call_timeout<F, R>(&self, timeout: Duration, f: F) -> Result<R, CallTimeoutError<F>>
    where
        F: FnOnce(&mut T, &Context) -> R + Send + 'static,
        R: Send + 'static,
    {
        if self.control().is_current() {
            return Err(CallTimeoutError::OwnThread(f));
        }
        let deadline = Instant::now().checked_add(timeout);
        let slot = Arc::new(Mutex::new(Some(f)));
        let (reply, answer) = reply();
        let job = TimedCallJob {
            f: Arc::clone(&slot),
            reply,
        };
        // Taken back, the closure never runs: the job finds its slot empty.
        let take_back = || slot.lock().unwrap_or_else(PoisonError::into_inner).take();
        match self.shared().queue.send_timeout(Message::job(job), timeout) {
            Ok(()) => {}
            Err(Refused::Closed(_)) => {
                let state = refused_in(self.state());
                return Err(take_back().map_or(CallTimeoutError::Ended(None), |f| {
                    CallTimeoutError::Closed(f, state)
                }));
            }
            Err(Refused::Full(_) | Refused::Timeout(_)) => {
                return Err(take_back().map_or(CallTimeoutError::Late, CallTimeoutError::Timeout));
            }
        }
        match answer.recv_until(deadline) {
            Poll::Ready(Some(answer)) => Ok(answer),
            Poll::Ready(None) => Err(CallTimeoutError::Ended(take_back())),
            Poll::Pending => match take_back() {
                Some(f) => Err(CallTimeoutError::Timeout(f)),
                // It started: its answer may have come meanwhile.
                None => match answer.recv_until(Some(Instant::now())) {
                    Poll::Ready(Some(answer)) => Ok(answer),
                    Poll::Ready(None) => Err(CallTimeoutError::Ended(None)),
                    Poll::Pending => Err(CallTimeoutError::Late),
                },
            },
        }
    }

    /// Like [`cast`](Self::cast), waiting at most `timeout` for room in a full bounded
    /// queue.
    ///
    /// # Errors
    ///
    /// [`CastError::Timeout`] if no room was had in time, and the errors of
    /// [`cast`](Self::cast); all hand the closure back.
    pub fn cast_timeout<F>(&self, timeout: Duration, f: F) -> Result<(), CastError<F>>
    where
        F: FnOnce(&mut T, &Context) + Send + 'static,
    {
        let shared = self.shared();
        if shared.control.is_current() {
            return self.cast(f);
        }
        match shared.queue.send_timeout(Message::job(CastJob(f)), timeout) {
            Ok(()) => Ok(()),
            Err(Refused::Full(m) | Refused::Timeout(m)) => {
                Err(CastError::Timeout(m.into_job::<CastJob<F>>().0))
            }
            Err(Refused::Closed(m)) => Err(CastError::Closed(
                m.into_job::<CastJob<F>>().0,
                refused_in(shared.control.state()),
            )),
        }
    }
}
