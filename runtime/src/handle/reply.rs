//! Where the answer of a `call` goes: a one-shot slot shared by the caller, who waits on
//! it, and the job, which fills it, or, dropped unanswered (the thread ended first),
//! marks it so that the caller stops waiting.
//!
//! One small allocation, where a channel would take a 640-byte, cache-aligned one; and
//! the caller spins briefly before it sleeps, since the answer to a short call often
//! comes within that time.

use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use crate::sync::Backoff;

enum State<R> {
    Waiting,
    Answered(R),
    /// The job was dropped without answering.
    Dropped,
}

struct Slot<R> {
    state: Mutex<State<R>>,
    filled: Condvar,
}

/// The job's end: answers once, or marks the slot when dropped unanswered.
pub(crate) struct Reply<R>(Arc<Slot<R>>);

/// The caller's end.
pub(crate) struct Answer<R>(Arc<Slot<R>>);

/// A new slot's two ends.
pub(crate) fn reply<R>() -> (Reply<R>, Answer<R>) {
    let slot = Arc::new(Slot {
        state: Mutex::new(State::Waiting),
        filled: Condvar::new(),
    });
    (Reply(Arc::clone(&slot)), Answer(slot))
}

impl<R> Slot<R> {
    fn state(&self) -> MutexGuard<'_, State<R>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn fill(&self, filled: State<R>) {
        let mut state = self.state();
        if matches!(*state, State::Waiting) {
            *state = filled;
            drop(state);
            self.filled.notify_one();
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

impl<R> Answer<R> {
    /// Waits for the answer: `None` if the job was dropped unanswered.
    pub(crate) fn recv(self) -> Option<R> {
        let take = |state: &mut State<R>| match std::mem::replace(state, State::Dropped) {
            State::Waiting => {
                *state = State::Waiting;
                None
            }
            State::Answered(answer) => Some(Some(answer)),
            State::Dropped => Some(None),
        };
        let backoff = Backoff::new();
        while !backoff.is_completed() {
            if let Some(answer) = take(&mut self.0.state()) {
                return answer;
            }
            backoff.snooze();
        }
        let mut state = self.0.state();
        loop {
            if let Some(answer) = take(&mut state) {
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
