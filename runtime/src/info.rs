//! [`ThreadInfo`]: a snapshot of one thread, for observers.

use std::time::{Duration, SystemTime};

use crate::control::Control;
use crate::halt::LastCheckpoint;
use crate::ids::{State, ThreadId};
use crate::source::SourceInfo;

/// A snapshot of one thread, as [`Registry::active`](crate::Registry::active) and `Handle::info` give it.
///
/// With the `serde` feature it serialises as a flat record, times as numbers whose
/// unit is in their name: `started_at_unix_ms` (milliseconds since the Unix epoch),
/// `last_woken_ms_ago` (milliseconds ago, fractional), `last_checkpoint` as
/// `{"file", "line", "ms_ago"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
#[allow(clippy::struct_excessive_bools)] // independent facts, one record for observers
pub struct ThreadInfo {
    /// The thread's name (also its OS thread name).
    pub name: &'static str,
    /// The thread's id.
    pub id: ThreadId,
    /// The Rust type of the thread.
    pub type_name: &'static str,
    /// Where it is in its lifecycle.
    pub state: State,
    /// How many tasks `handle` was called with, so far (see
    /// [`ExitReport::handled`](crate::ExitReport::handled)).
    pub handled: u64,
    /// How many ticks, calls and casts it began, so far. With `handled`, an observer
    /// sees each new piece of work begin: a thread whose count moved is not stuck on
    /// the same one.
    pub ticks_and_calls: u64,
    /// How many accepted tasks and calls wait in its queue (0 for a pool's worker: the
    /// queue is the pool's, counted there).
    pub queue_depth: usize,
    /// How many tasks and calls its queue holds at most (`capacity`), if it is bounded.
    pub capacity: Option<usize>,
    /// How many tasks sends refused, so far: the queue full (`try_send`), no room in
    /// time (`send_timeout`), or the thread stopping or ended.
    pub refused: u64,
    /// Whether it sleeps now, waiting for work or waiting out a restart's backoff
    /// (every worker, for a pool). A thread that is not idle is busy: in `handle`, a
    /// call, a tick, `startup` or `shutdown`.
    pub idle: bool,
    /// When it was spawned.
    #[cfg_attr(
        feature = "serde",
        serde(
            rename = "started_at_unix_ms",
            serialize_with = "serde_impls::unix_millis"
        )
    )]
    pub started_at: SystemTime,
    /// How long ago it last woke from waiting for work (idle → busy), if it ever did.
    /// A thread busy with task after task keeps the time of its last wake-up (the
    /// tasks count in `handled`, the ticks and calls in `ticks_and_calls`).
    #[cfg_attr(
        feature = "serde",
        serde(rename = "last_woken_ms_ago", serialize_with = "serde_impls::millis")
    )]
    pub last_woken: Option<Duration>,
    /// How long ago a stop (or a halt) was first requested, if one was.
    #[cfg_attr(
        feature = "serde",
        serde(
            rename = "stop_requested_ms_ago",
            serialize_with = "serde_impls::millis"
        )
    )]
    pub stop_requested: Option<Duration>,
    /// Whether it was halted: its checkpoints unwind.
    pub halt_requested: bool,
    /// Whether it has `on_stop` hooks that a stop will run
    /// ([`Context::on_stop`](crate::Context::on_stop)).
    pub on_stop: bool,
    /// Whether the task (or tick, or call) it is in registered an `on_stop` hook: it
    /// blocks by design (a server hosted inside one `handle`) until a stop runs the
    /// hook, so it is not stuck however long it runs. Hooks registered in `startup` do
    /// not count. Always `false` for a pool: its workers say it.
    pub blocks_by_design: bool,
    /// Where and how long ago it last passed a checkpoint, if ever.
    pub last_checkpoint: Option<LastCheckpoint>,
    /// How many times a failed instance was replaced by a fresh value (`restart`).
    pub restarts: u32,
    /// What ended the last instance that was replaced, if any.
    pub last_failure: Option<String>,
    /// The thread it is a child of (a supervisor's child, or one tied to its parent by
    /// [`Context::spawn_child`](crate::Context::spawn_child)), if any. A pool's
    /// workers have the pool as their parent.
    pub parent: Option<ThreadId>,
    /// For a [`Pool`](crate::Pool): how many workers serve it (the counts above sum
    /// theirs). 0 for a thread.
    pub workers: usize,
    /// For a thread fed from a source (see `spawn_with`): the source as it is now.
    pub source: Option<SourceInfo>,
}

impl ThreadInfo {
    pub(crate) fn of(control: &Control) -> Self {
        Self {
            name: control.name,
            id: control.id,
            type_name: control.type_name,
            state: control.state(),
            handled: control.handled(),
            ticks_and_calls: control.ticks_and_calls(),
            queue_depth: control.queue_depth(),
            capacity: control.capacity(),
            refused: control.refused(),
            idle: control.is_idle(),
            started_at: control.started_at,
            last_woken: control.last_woken_ago(),
            stop_requested: control.stop_requested_ago(),
            halt_requested: control.is_halt_requested(),
            on_stop: control.has_stop_hooks(),
            blocks_by_design: control.blocks_by_design(),
            last_checkpoint: control.halt.last_checkpoint(),
            restarts: control.restarts(),
            last_failure: control.last_failure(),
            parent: control.parent(),
            workers: control.workers().len(),
            source: control.source_info(),
        }
    }
}

#[cfg(feature = "serde")]
pub(crate) use serde_impls::{millis as serde_millis_opt, serde_millis};

#[cfg(feature = "serde")]
mod serde_impls {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use serde::ser::SerializeStruct;
    use serde::{Serialize, Serializer};

    use crate::halt::LastCheckpoint;

    #[allow(clippy::trivially_copy_pass_by_ref)] // serde's `serialize_with` signature
    pub(crate) fn unix_millis<S: Serializer>(at: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        let millis = at
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis();
        s.serialize_u64(u64::try_from(millis).unwrap_or(u64::MAX))
    }

    #[allow(clippy::ref_option)] // serde's `serialize_with` signature
    pub(crate) fn millis<S: Serializer>(ago: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        ago.map(micros_as_millis).serialize(s)
    }

    /// A duration as milliseconds with microsecond precision.
    pub(crate) fn serde_millis<S: Serializer>(
        duration: &Duration,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_f64(micros_as_millis(*duration))
    }

    /// Milliseconds with microsecond precision (`9.715`, not `9.715537999999999`).
    fn micros_as_millis(duration: Duration) -> f64 {
        // Exact below 2^52 µs (142 years).
        #[allow(clippy::cast_precision_loss)]
        let micros = duration.as_micros() as f64;
        micros / 1e3
    }

    impl Serialize for LastCheckpoint {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let mut record = s.serialize_struct("LastCheckpoint", 3)?;
            record.serialize_field("file", self.location.file())?;
            record.serialize_field("line", &self.location.line())?;
            record.serialize_field("ms_ago", &micros_as_millis(self.ago))?;
            record.end()
        }
    }
}
