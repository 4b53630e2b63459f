//! What the restart and supervision tests share: a bound on every wait, a bounded wait for a
//! condition, the `handle` of a thread that a `true` task fails, and a thread whose
//! `startup` fails.

#![allow(dead_code)] // each test binary uses a part

use std::time::{Duration, Instant};

use threadward::{background_thread, BackgroundThread, BoxError, Context};

pub(crate) const BOUND: Duration = Duration::from_secs(30);

/// Waits (bounded) until `done`.
pub(crate) fn wait_for(mut done: impl FnMut() -> bool, what: &str) {
    let waited = Instant::now();
    while !done() {
        assert!(waited.elapsed() < BOUND, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// The outcome of a task that says whether to fail.
pub(crate) fn fail_if(fail: bool) -> Result<(), BoxError> {
    if fail {
        Err("fail".into())
    } else {
        Ok(())
    }
}

/// A thread whose `startup` fails with "no config".
#[background_thread]
pub(crate) struct Refuses;

impl BackgroundThread for Refuses {
    type Task = ();
    fn startup(&mut self, _: &Context) -> Result<(), BoxError> {
        Err("no config".into())
    }
    fn handle(&mut self, (): (), _: &Context) -> Result<(), BoxError> {
        Ok(())
    }
}
