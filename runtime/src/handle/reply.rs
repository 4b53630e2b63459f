//! Where the answer of a `call` goes: a one-shot slot shared by the caller, who waits on
//! it, and the job, which fills it, or, dropped unanswered (the thread ended first),
//! marks it so that the caller stops waiting.
//!
//! One small allocation, where a channel would take a 640-byte, cache-aligned one; and
//! the caller spins briefly before it sleeps, since the answer to a short call often
//! comes within that time. With the `async` feature the caller's end is also a future
//! (`call_async`), whose waker the slot keeps.

use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::task::Poll;
use std::time::{Duration, Instant};

use crate::sync::Backoff;

enum State<R> {
    Waiting,
    Answered(R),
    /// The job was dropped without answering.
    Dropped,
}

struct Slot<R> {
    state: Mutex<Inner<R>>,
    filled: Condvar,
}

struct Inner<R> {
    state: State<R>,
    /// The task awaiting the answer, if it is awaited.
    waker: Option<std::task::Waker>,
}

/// The job's end: answers once, or marks the slot when dropped unanswered.
pub(crate) struct Reply<R>(Arc<Slot<R>>);

/// The caller's end.
pub(crate) struct Answer<R>(Arc<Slot<R>>);

/// A new slot's two ends.
pub(crate) fn reply<R>() -> (Reply<R>, Answer<R>) {
    let slot = Arc::new(Slot {
        state: Mutex::new(Inner {
            state: State::Waiting,
            waker: None,
        }),
        filled: Condvar::new(),
    });
    (Reply(Arc::clone(&slot)), Answer(slot))
}

impl<R> Slot<R> {
    fn state(&self) -> MutexGuard<'_, Inner<R>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn fill(&self, filled: State<R>) {
        let mut inner = self.state();
        if matches!(inner.state, State::Waiting) {
            inner.state = filled;
            let waker = inner.waker.take();
            drop(inner);
            self.filled.notify_one();
            if let Some(waker) = waker {
                waker.wake();
            }
        }
    }
}

impl<R> Reply<R> {
    /// Answers the call. The caller may have given up; the answer is then dropped with
    /// the slot.
    pub(crate) fn send(self, answer: R) {
        self.0.fill(State::Answered(answer));
    }
}

impl<R> Drop for Reply<R> {
    fn drop(&mut self) {
        // After `send`, the slot is no longer waiting and this does nothing.
        self.0.fill(State::Dropped);
    }
}

/// The answer once it came (`Ready(None)` if the job was dropped unanswered).
fn take<R>(inner: &mut Inner<R>) -> Poll<Option<R>> {
    match std::mem::replace(&mut inner.state, State::Dropped) {
        State::Waiting => {
            inner.state = State::Waiting;
            Poll::Pending
        }
        State::Answered(answer) => Poll::Ready(Some(answer)),
        State::Dropped => Poll::Ready(None),
    }
}

impl<R> Answer<R> {
    /// Waits for the answer: `None` if the job was dropped unanswered.
    pub(crate) fn recv(self) -> Option<R> {
        let backoff = Backoff::new();
        while !backoff.is_completed() {
            if let Poll::Ready(answer) = take(&mut self.0.state()) {
                return answer;
            }
            backoff.snooze();
        }
        let mut state = self.0.state();
        loop {
            if let Poll::Ready(answer) = take(&mut state) {
                return answer;
            }
            state = self
                .0
                .filled
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

impl<R> Answer<R> {
    /// Waits for the answer until `deadline` (for ever if `None`): `Pending` if it had
    /// not come by then.
    pub(crate) fn recv_until(&self, deadline: Option<Instant>) -> Poll<Option<R>> {
        let mut state = self.0.state();
        loop {
            if let Poll::Ready(answer) = take(&mut state) {
                return Poll::Ready(answer);
            }
            let now = Instant::now();
            let left = match deadline {
                Some(deadline) if deadline <= now => return Poll::Pending,
                Some(deadline) => deadline - now,
                None => Duration::MAX,
            };
            state = self
                .0
                .filled
                .wait_timeout(state, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

/// Awaits the answer: `None` if the job was dropped unanswered.
#[cfg(feature = "async")]
impl<R> std::future::Future for Answer<R> {
    type Output = Option<R>;

    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<Option<R>> {
        let mut inner = self.0.state();
        let answer = take(&mut inner);
        if answer.is_pending() {
            match &mut inner.waker {
                Some(waker) => waker.clone_from(cx.waker()),
                None => inner.waker = Some(cx.waker().clone()),
            }
        }
        answer
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    #[test]
    fn an_answer_reaches_the_caller_and_a_dropped_reply_ends_the_wait() {
        let (reply, answer) = super::reply();
        let answering = std::thread::spawn(move || reply.send(7));
        assert_eq!(answer.recv(), Some(7));
        answering.join().unwrap();

        let (reply, answer) = super::reply::<u32>();
        let dropping = std::thread::spawn(move || drop(reply));
        assert_eq!(answer.recv(), None);
        dropping.join().unwrap();

        let (reply, answer) = super::reply();
        drop(answer);
        reply.send("nobody waits"); // the caller gave up: no panic, no block
    }
}
