//! [`Sender<T>`]: sends tasks to a thread, and nothing else.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::message::Message;
use super::shared::Shared;
use crate::error::{refused_in, SendError, SendTimeoutError, TrySendError};
use crate::queue::Refused;
use crate::thread::BackgroundThread;

/// Sends tasks to a thread, and nothing else: what to give a producer that must not
/// stop or join the thread. Cheap to clone.
///
/// # Examples
///
/// ```
/// # use threadward::{background_thread, BackgroundThread, BoxError, Context};
/// # #[background_thread] #[derive(Default)] struct Log { lines: usize }
/// # impl BackgroundThread for Log {
/// #     type Task = String;
/// #     fn handle(&mut self, _: String, _: &Context) -> Result<(), BoxError> { self.lines += 1; Ok(()) }
/// # }
/// let log = Log::default().spawn()?;
/// let sender = log.sender();
/// std::thread::spawn(move || sender.send("from a producer".to_string())).join().unwrap()?;
/// log.stop();
/// assert_eq!(log.join()?.handled(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Sender<T: BackgroundThread> {
    pub(super) shared: Arc<Shared<T>>,
}

impl<T: BackgroundThread> Sender<T> {
    /// Queues a task, blocking while a bounded queue is full.
    ///
    /// # Errors
    ///
    /// Fails, handing the task back, once the thread is stopping or has ended.
    #[inline]
    pub fn send(&self, task: T::Task) -> Result<(), SendError<T::Task>> {
        self.shared
            .queue
            .send(Message::Task(task))
            .map_err(|message| {
                self.shared.control.count_refused();
                SendError::new(message.into_task(), self.shared.control.state())
            })
    }

    /// Queues a task if the queue has room now.
    ///
    /// # Errors
    ///
    /// [`TrySendError::Full`] if a bounded queue is full, [`TrySendError::Closed`] once
    /// the thread is stopping or has ended; both hand the task back.
    pub fn try_send(&self, task: T::Task) -> Result<(), TrySendError<T::Task>> {
        self.shared
            .queue
            .try_send(Message::Task(task))
            .inspect_err(|_| self.shared.control.count_refused())
            .map_err(|refused| match refused {
                Refused::Full(m) => TrySendError::Full(m.into_task()),
                Refused::Timeout(m) | Refused::Closed(m) => {
                    TrySendError::Closed(m.into_task(), refused_in(self.shared.control.state()))
                }
            })
    }

    /// Queues a task, waiting at most `timeout` for room in a bounded queue.
    ///
    /// # Errors
    ///
    /// [`SendTimeoutError::Timeout`] if no room was had before `timeout` ran out (the
    /// queue stayed full, or other senders took the room that was made),
    /// [`SendTimeoutError::Closed`] once the thread is stopping or has ended; both hand
    /// the task back.
    pub fn send_timeout(
        &self,
        task: T::Task,
        timeout: Duration,
    ) -> Result<(), SendTimeoutError<T::Task>> {
        self.shared
            .queue
            .send_timeout(Message::Task(task), timeout)
            .inspect_err(|_| self.shared.control.count_refused())
            .map_err(|refused| match refused {
                Refused::Full(m) | Refused::Timeout(m) => SendTimeoutError::Timeout(m.into_task()),
                Refused::Closed(m) => {
                    SendTimeoutError::Closed(m.into_task(), refused_in(self.shared.control.state()))
                }
            })
    }

    /// Whether the thread no longer accepts tasks.
    pub fn is_closed(&self) -> bool {
        self.shared.control.is_closed()
    }
}

impl<T: BackgroundThread> Clone for Sender<T> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<T: BackgroundThread> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("name", &self.shared.control.name)
            .field("id", &self.shared.control.id)
            .finish_non_exhaustive()
    }
}
