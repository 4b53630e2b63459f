//! What the console serves: one versioned record of every thread, the recent exits and
//! the shutdown, as `GET /threads` gives it and every event of `GET /threads/events`
//! carries.

use serde::Serialize;
use threadward_runtime::{ExitReport, Outcome, Registry, ShutdownProgress, ThreadInfo};

/// The version of the record's schema. It changes only when a field changes meaning or
/// goes away; fields may be added within a version.
pub const SCHEMA: u32 = 1;

/// Every thread of a registry as the console sees it, at one moment.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct Snapshot {
    /// [`SCHEMA`].
    pub schema: u32,
    /// The number of the update (the event id of `GET /threads/events`); 0 for a
    /// snapshot made outside a console.
    pub update: u64,
    /// How long a thread may be busy on one task without passing a checkpoint before
    /// it counts as stuck, in milliseconds.
    pub stuck_after_ms: f64,
    /// Whether `POST /threads/<id>/stop` and `/halt` are served (with the token).
    pub actions: bool,
    /// The threads, in start order.
    pub threads: Vec<ThreadView>,
    /// The latest exits, the newest last (at most [`RECENT_EXITS`]).
    pub exits: Vec<ExitView>,
    /// The shutdown, once one has begun.
    pub shutdown: Option<ShutdownProgress>,
}

/// How many exits a console remembers.
pub const RECENT_EXITS: usize = 32;

/// One thread: its [`ThreadInfo`] and what the console makes of it over time.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct ThreadView {
    /// The thread as the registry gives it (flattened into the record).
    #[serde(flatten)]
    pub info: ThreadInfo,
    /// How long it has been on its current task, at least, in milliseconds (`None`
    /// while idle, or before the console saw a task begin). A task's start is seen
    /// by the update after it: the figure is short by at most one update interval.
    pub task_ms: Option<f64>,
    /// Tasks handled per second, lately.
    pub rate: f64,
    /// Busy on one task longer than the threshold without passing a checkpoint (for a
    /// task that blocks by design, `ThreadInfo::blocks_by_design`: that long after its
    /// stop). Its
    /// `last_checkpoint`, if any, says where it is.
    pub stuck: bool,
    /// Where it is in a stop: `"stopping"`, `"draining"` (tasks left), `"halted"`,
    /// `"stuck"`; `None` before a stop.
    pub ladder: Option<&'static str>,
    /// While draining: when its queue should be empty at its recent rate, in
    /// milliseconds from now.
    pub eta_ms: Option<f64>,
    /// Its queue depth once a second, the oldest first (two minutes at most): in the
    /// first event of a stream and in `GET /threads`, not in the updates after it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<Vec<usize>>,
}

/// A thread that ended, as the console remembers it.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct ExitView {
    /// The exit's number, counting from 1 in the order the console learned of them.
    pub seq: u64,
    /// The thread's name.
    pub name: &'static str,
    /// The thread's id.
    pub id: u64,
    /// The thread it was a child of.
    pub parent: Option<u64>,
    /// How it ended, in words (`stopped`, `failed: no disk`, …).
    pub outcome: String,
    /// Whether it ended the way it was asked to.
    pub clean: bool,
    /// Tasks handled.
    pub handled: u64,
    /// Accepted tasks it never handled, handed back.
    pub undelivered: usize,
    /// Times it was restarted.
    pub restarts: u32,
    /// How long it ran, in milliseconds.
    pub ran_for_ms: f64,
    /// The Unix time it ended, in milliseconds (as the console learned of it).
    pub ended_at_unix_ms: u64,
}

impl ExitView {
    pub(crate) fn of(seq: u64, exit: &ExitReport) -> Self {
        let outcome = match exit.outcome() {
            Outcome::Stopped => "stopped".to_owned(),
            other => other.to_string(),
        };
        Self {
            seq,
            name: exit.name(),
            id: exit.id().as_u64(),
            parent: exit.parent().map(threadward_runtime::ThreadId::as_u64),
            outcome,
            clean: exit.outcome().is_clean(),
            handled: exit.handled(),
            undelivered: exit.undelivered(),
            restarts: exit.restarts(),
            ran_for_ms: millis(exit.ran_for()),
            ended_at_unix_ms: unix_millis(),
        }
    }
}

impl Snapshot {
    /// The threads of `registry` now, without what only a console's updates see
    /// (rates, time on the current task, history, exits): the record `GET /threads`
    /// serves, for a service's own endpoint.
    ///
    /// ```
    /// let registry = threadward_runtime::Registry::new();
    /// let snapshot = threadward_console::Snapshot::now(&registry);
    /// assert_eq!(snapshot.schema, threadward_console::SCHEMA);
    /// assert!(snapshot.threads.is_empty());
    /// ```
    pub fn now(registry: &Registry) -> Self {
        Self {
            schema: SCHEMA,
            update: 0,
            stuck_after_ms: 0.0,
            actions: false,
            threads: registry
                .active()
                .into_iter()
                .map(|info| ThreadView {
                    info,
                    task_ms: None,
                    rate: 0.0,
                    stuck: false,
                    ladder: None,
                    eta_ms: None,
                    history: None,
                })
                .collect(),
            exits: Vec::new(),
            shutdown: registry.shutdown_progress(),
        }
    }

    /// The record as JSON.
    pub fn to_json(&self) -> String {
        // A record of strings, numbers and options: serialising it cannot fail.
        serde_json::to_string(self).unwrap_or_else(|_| String::from("{}"))
    }
}

pub(crate) fn millis(duration: std::time::Duration) -> f64 {
    (duration.as_secs_f64() * 1e6).round() / 1e3
}

fn unix_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
        })
}
