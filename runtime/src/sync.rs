//! The synchronisation primitives the close protocol is built from: std's, or loom's
//! when the crate is built with `--cfg loom` to model-check that protocol (see
//! `loom_models.rs`). `Arc` stays std's everywhere: loom's cannot hold a `dyn` value.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
#[cfg(loom)]
pub(crate) use loom::sync::{Mutex, MutexGuard};

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
#[cfg(not(loom))]
pub(crate) use std::sync::{Mutex, MutexGuard};
