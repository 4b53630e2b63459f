//! Turning a caught panic, or a value's `Display`, into a message without letting a
//! second panic escape.

use std::any::Any;
use std::panic::{self, AssertUnwindSafe};

/// The message of a panic payload. The payload is dropped here; should its own `Drop`
/// panic, it is leaked instead, since a second unwind must not escape the run loop or a
/// stop request.
pub(crate) fn panic_message(payload: Box<dyn Any + Send>) -> String {
    let message = if let Some(message) = payload.downcast_ref::<&'static str>() {
        (*message).to_owned()
    } else if let Some(message) = payload.downcast_ref::<String>() {
        message.clone()
    } else {
        "Box<dyn Any>".to_owned()
    };
    if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(move || drop(payload))) {
        std::mem::forget(payload);
    }
    message
}

/// `value` in words; should its `Display` panic, a note saying so instead (a user's
/// error must not unwind out of the run loop while it is being reported).
pub(crate) fn describe(value: &dyn std::fmt::Display) -> String {
    panic::catch_unwind(AssertUnwindSafe(|| value.to_string()))
        .unwrap_or_else(|payload| format!("(its `Display` panicked: {})", panic_message(payload)))
}
