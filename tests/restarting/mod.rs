//! What the restart tests share: a bound on every wait, a bounded wait for a
//! condition, and the `handle` of a thread that a `true` task fails.

#![allow(dead_code)] // each test binary uses a part

use std::time::{Duration, Instant};

use threadward::BoxError;

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
