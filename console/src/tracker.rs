//! The console's memory between updates: when each thread's current task began, its
//! recent rate, its queue depth over the last minutes, and the exits it was told of.
//! Everything is read from the registry (atomics and short locks): sampling never
//! wakes a thread.

use std::collections::{HashMap, VecDeque};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use threadward_runtime::{ExitReport, Registry, ThreadInfo};

use crate::snapshot::{millis, ExitView, Snapshot, ThreadView, RECENT_EXITS, SCHEMA};

/// How many depth samples a thread keeps: one a second, two minutes.
const HISTORY: usize = 120;

/// The rate is measured over this much of the latest updates.
const RATE_WINDOW: Duration = Duration::from_secs(1);

/// What the console remembers of one thread.
#[derive(Debug)]
struct Track {
    handled: u64,
    ticks_and_calls: u64,
    /// A restart begins new work too (a fresh value's `startup`).
    restarts: u32,
    idle: bool,
    /// When the current task began, as far as the updates saw; `None` while idle.
    since: Option<Instant>,
    rate: f64,
    /// When the recent updates saw how many tasks handled, the oldest first.
    counts: VecDeque<(Instant, u64)>,
    seen: Instant,
    history: VecDeque<usize>,
    next_sample: Instant,
}

/// The console's state across updates.
#[derive(Debug)]
pub(crate) struct Tracker {
    registry: Registry,
    /// The exits the registry tells of; `None` once the console stopped (the registry
    /// then forgets it, rather than queue exits nobody reads).
    exits_in: Option<mpsc::Receiver<ExitReport>>,
    threads: HashMap<u64, Track>,
    exits: VecDeque<ExitView>,
    seq: u64,
    update: u64,
    stuck_after: Duration,
    actions: bool,
}

impl Tracker {
    pub(crate) fn new(registry: &Registry, stuck_after: Duration, actions: bool) -> Self {
        Self {
            exits_in: Some(registry.monitor()),
            registry: registry.clone(),
            threads: HashMap::new(),
            exits: VecDeque::new(),
            seq: 0,
            update: 0,
            stuck_after,
            actions,
        }
    }

    /// Reads the registry and makes the next update.
    pub(crate) fn sample(&mut self) -> Snapshot {
        let now = Instant::now();
        self.update += 1;
        while let Some(Ok(exit)) = self.exits_in.as_ref().map(mpsc::Receiver::try_recv) {
            self.seq += 1;
            if self.exits.len() == RECENT_EXITS {
                self.exits.pop_front();
            }
            self.exits.push_back(ExitView::of(self.seq, &exit));
        }
        let infos = self.registry.active();
        let mut alive = HashMap::with_capacity(infos.len());
        let threads = infos
            .into_iter()
            .map(|info| {
                let id = info.id.as_u64();
                let track = match self.threads.remove(&id) {
                    Some(mut track) => {
                        track.update(&info, now);
                        track
                    }
                    None => Track::first(&info, now),
                };
                let view = track.view(info, now, self.stuck_after);
                alive.insert(id, track);
                view
            })
            .collect();
        // The threads that ended are forgotten: their exits tell the rest.
        self.threads = alive;
        Snapshot {
            schema: SCHEMA,
            update: self.update,
            stuck_after_ms: millis(self.stuck_after),
            actions: self.actions,
            threads,
            exits: self.exits.iter().cloned().collect(),
            shutdown: self.registry.shutdown_progress(),
        }
    }

    /// Stops reading the registry's exits (the console stopped).
    pub(crate) fn stop_watching(&mut self) {
        self.exits_in = None;
    }

    #[cfg(test)]
    pub(crate) fn is_watching(&self) -> bool {
        self.exits_in.is_some()
    }

    /// `snapshot` with the history of each thread's queue depth: for the first event
    /// of a stream, and for `GET /threads`.
    pub(crate) fn with_history(&self, snapshot: &Snapshot) -> Snapshot {
        let mut full = snapshot.clone();
        for thread in &mut full.threads {
            let track = self.threads.get(&thread.info.id.as_u64());
            thread.history =
                Some(track.map_or_else(Vec::new, |t| t.history.iter().copied().collect()));
        }
        full
    }
}

impl Track {
    fn first(info: &ThreadInfo, now: Instant) -> Self {
        let mut history = VecDeque::with_capacity(HISTORY);
        history.push_back(info.queue_depth);
        Self {
            handled: info.handled,
            ticks_and_calls: info.ticks_and_calls,
            restarts: info.restarts,
            idle: info.idle,
            // Busy when first seen: the task began before the console knew, so its time
            // counts from now (never overstated).
            since: (!info.idle).then_some(now),
            rate: 0.0,
            counts: VecDeque::from([(now, info.handled)]),
            seen: now,
            history,
            next_sample: now + Duration::from_secs(1),
        }
    }

    fn update(&mut self, info: &ThreadInfo, now: Instant) {
        let elapsed = now.saturating_duration_since(self.seen);
        // How many pieces of work (tasks, ticks, calls) began since the last update.
        let begun = info
            .handled
            .wrapping_add(info.ticks_and_calls)
            .wrapping_sub(self.handled.wrapping_add(self.ticks_and_calls));
        if info.idle {
            self.since = None;
        } else if begun > 0
            || info.restarts != self.restarts
            || self.idle
            || self.since.is_none()
            || info.last_woken.is_some_and(|ago| ago < elapsed)
        {
            // It began this task (or tick, or call) since the last update. If it woke
            // since and began this one piece of work, it began it then; else it began
            // at most an update ago, and counts from now (never overstated).
            let woke = info
                .last_woken
                .filter(|ago| *ago <= elapsed && begun <= 1)
                .and_then(|ago| now.checked_sub(ago));
            self.since = Some(woke.unwrap_or(now));
        }
        // The rate over the last second or so: the counts of the updates within it,
        // and the newest one before it.
        self.counts.push_back((now, info.handled));
        while self.counts.len() > 2 && self.counts[1].0 + RATE_WINDOW <= now {
            self.counts.pop_front();
        }
        if let (Some(&(from, first)), Some(&(to, last))) = (self.counts.front(), self.counts.back())
        {
            let span = to.saturating_duration_since(from);
            if !span.is_zero() {
                #[allow(clippy::cast_precision_loss)] // rates, not counts
                let rate = last.saturating_sub(first) as f64 / span.as_secs_f64();
                self.rate = rate;
            }
        }
        self.handled = info.handled;
        self.ticks_and_calls = info.ticks_and_calls;
        self.restarts = info.restarts;
        self.idle = info.idle;
        self.seen = now;
        if now >= self.next_sample {
            if self.history.len() == HISTORY {
                self.history.pop_front();
            }
            self.history.push_back(info.queue_depth);
            self.next_sample += Duration::from_secs(1);
            if self.next_sample < now {
                self.next_sample = now + Duration::from_secs(1);
            }
        }
    }

    fn view(&self, info: ThreadInfo, now: Instant, stuck_after: Duration) -> ThreadView {
        let pool = info.workers > 0;
        let task = self
            .since
            .filter(|_| !pool && info.state.is_alive())
            .map(|since| now.saturating_duration_since(since));
        let stale = info
            .last_checkpoint
            .as_ref()
            .is_none_or(|checkpoint| checkpoint.ago >= stuck_after);
        // A thread that blocks by design is held to its stop, not to its task.
        let busy_for = if info.blocks_by_design {
            info.stop_requested.filter(|_| task.is_some())
        } else {
            task
        };
        let stuck = stale && busy_for.is_some_and(|busy| busy >= stuck_after);
        let (ladder, eta_ms) = if info.stop_requested.is_none() || !info.state.is_alive() {
            (None, None)
        } else if stuck {
            (Some("stuck"), None)
        } else if info.halt_requested {
            (Some("halted"), None)
        } else if info.queue_depth > 0 {
            #[allow(clippy::cast_precision_loss)] // a depth well below 2^52
            let eta = (self.rate > 0.0).then(|| info.queue_depth as f64 / self.rate * 1e3);
            (Some("draining"), eta)
        } else {
            (Some("stopping"), None)
        };
        ThreadView {
            task_ms: task.map(millis),
            rate: (self.rate * 100.0).round() / 100.0,
            stuck,
            ladder,
            eta_ms,
            history: None,
            info,
        }
    }
}
