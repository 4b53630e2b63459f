//! Restarts: when a failed thread is replaced by a fresh value (its policy), how often
//! that may happen (its intensity), and how long it waits first (its backoff).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// When a thread is restarted, as `#[background_thread(restart = "…")]` declares it.
///
/// | here | OTP | restarted after |
/// |---|---|---|
/// | `never` (the default) | `temporary` | nothing |
/// | `on-failure` | `transient` | a failure: an error or panic in `handle`, `tick` or a `call`/`cast` closure, or a failed `startup` of a restart |
/// | [`Always`](Self::Always), a supervisor's children only | `permanent` | any exit the supervisor did not ask for |
///
/// A thread restarts itself only after a failure: it exits normally only when it is
/// stopped, and a stop is final. OTP's `permanent` is for a
/// [`Supervisor`](crate::Supervisor)'s children ([`Child::restart`](crate::Child::restart)),
/// which the supervisor starts again after any exit it did not ask for. A worker that
/// should never end is `on-failure`.
///
/// A restart builds a fresh value through the type's factory (`factory = …`, or
/// `Default`), runs its `startup` and serves the same queue: tasks queued behind the
/// failure are handled by the new instance, and the task it failed on is not retried
/// (it is counted as handled, and the failure is shown by `ThreadInfo::last_failure`).
/// A stopping thread is still restarted, at once, to drain its queue (a `deadline` also
/// cuts a backoff short); a halted one is not. The fresh value starts as declared: with
/// the declared `every`, and without the `on_stop` hooks of the one it replaces. A
/// restart's `startup` is not bounded by `startup_timeout`, which bounds `spawn` only;
/// a factory that panics or a `startup` that fails counts as a failure of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RestartPolicy {
    /// Never restarted (OTP's `temporary`).
    #[default]
    Never,
    /// Restarted after a failure (OTP's `transient`).
    OnFailure,
    /// A supervisor's child started again after any exit the supervisor did not ask
    /// for: a failure, a deadline, a stop from elsewhere (OTP's `permanent`). Not a
    /// policy a thread can declare for itself.
    Always,
}

/// A thread's restart policy with its intensity and backoff: at most `max_restarts`
/// restarts within any `within`, each after a backoff that starts at `backoff` and
/// doubles with every restart in a row (up to 32 times `backoff`), each wait drawn
/// between half and all of it (jitter). Read it as
/// [`Declared::RESTART`](crate::Declared::RESTART).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use threadward::{background_thread, Declared, RestartPolicy};
///
/// #[background_thread(restart = "on-failure", max_restarts = 5, within = "1m", backoff = "200ms")]
/// #[derive(Default)]
/// struct Flaky;
/// # impl threadward::BackgroundThread for Flaky {
/// #     type Task = ();
/// #     fn handle(&mut self, _: (), _: &threadward::Context) -> Result<(), threadward::BoxError> { Ok(()) }
/// # }
///
/// assert_eq!(Flaky::RESTART.policy(), RestartPolicy::OnFailure);
/// assert_eq!(Flaky::RESTART.max_restarts(), 5);
/// assert_eq!(Flaky::RESTART.within(), Duration::from_secs(60));
/// assert_eq!(Flaky::RESTART.backoff(), Duration::from_millis(200));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Restart {
    policy: RestartPolicy,
    max_restarts: u32,
    within: Duration,
    backoff: Duration,
}

impl Restart {
    /// Never restarted.
    pub const NEVER: Self = Self {
        policy: RestartPolicy::Never,
        max_restarts: 0,
        within: Duration::ZERO,
        backoff: Duration::ZERO,
    };

    /// The defaults of `restart = "on-failure"`: at most 3 restarts within 5 s, the
    /// first after 100 ms.
    pub const ON_FAILURE: Self = Self {
        policy: RestartPolicy::OnFailure,
        max_restarts: 3,
        within: Duration::from_secs(5),
        backoff: Duration::from_millis(100),
    };

    /// The same, with at most `max_restarts` restarts within `within`.
    #[must_use]
    pub const fn with_intensity(self, max_restarts: u32, within: Duration) -> Self {
        Self {
            max_restarts,
            within,
            ..self
        }
    }

    /// The same, with `backoff` before the first restart in a row.
    #[must_use]
    pub const fn with_backoff(self, backoff: Duration) -> Self {
        Self { backoff, ..self }
    }

    /// When the thread is restarted.
    pub const fn policy(&self) -> RestartPolicy {
        self.policy
    }

    /// How many restarts may happen within [`within`](Self::within).
    pub const fn max_restarts(&self) -> u32 {
        self.max_restarts
    }

    /// The window of the intensity.
    pub const fn within(&self) -> Duration {
        self.within
    }

    /// The wait before the first restart in a row.
    pub const fn backoff(&self) -> Duration {
        self.backoff
    }
}

/// The restarts of one thread so far, to decide the next.
pub(crate) struct Restarts {
    restart: Restart,
    /// When the recent restarts happened, within the window.
    recent: VecDeque<Instant>,
    /// Restarts in a row: the backoff doubles with each.
    in_a_row: u32,
    /// When the current instance started, to tell a run of failures from a thread
    /// that ran well for a while.
    since: Instant,
    seed: u64,
}

impl Restarts {
    pub(crate) fn new(restart: Restart, seed: u64) -> Self {
        Self {
            restart,
            recent: VecDeque::new(),
            in_a_row: 0,
            since: Instant::now(),
            seed: seed | 1,
        }
    }

    /// After a failure at `now`: the backoff to wait before the restart, or `None` if
    /// the policy does not restart or the intensity is exceeded.
    pub(crate) fn after_failure(&mut self, now: Instant) -> Option<Duration> {
        if self.restart.policy == RestartPolicy::Never {
            return None;
        }
        let window = self.restart.within;
        while self
            .recent
            .front()
            .is_some_and(|at| now.saturating_duration_since(*at) >= window)
        {
            self.recent.pop_front();
        }
        if self.recent.len() >= usize::try_from(self.restart.max_restarts).unwrap_or(usize::MAX) {
            return None;
        }
        // An instance that ran a whole window without failing starts a new run.
        if now.saturating_duration_since(self.since) >= window {
            self.in_a_row = 0;
        }
        self.recent.push_back(now);
        let full = self
            .restart
            .backoff
            .saturating_mul(1 << self.in_a_row.min(5));
        self.in_a_row += 1;
        Some(self.jitter(full))
    }

    /// A new instance started now.
    pub(crate) fn started(&mut self, now: Instant) {
        self.since = now;
    }

    /// Between half and all of `full` (xorshift: no dependency, and restarts of many
    /// threads at once spread out).
    fn jitter(&mut self, full: Duration) -> Duration {
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        let half = full / 2;
        let nanos = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX);
        half + Duration::from_nanos(self.seed % nanos.saturating_add(1))
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::{Restart, Restarts};

    #[test]
    fn the_intensity_bounds_restarts_within_the_window_and_the_backoff_doubles() {
        let restart = Restart::ON_FAILURE
            .with_intensity(3, Duration::from_secs(10))
            .with_backoff(Duration::from_millis(100));
        let mut restarts = Restarts::new(restart, 42);
        let start = Instant::now();
        let waits: Vec<_> = (0..3)
            .map(|n| restarts.after_failure(start + Duration::from_millis(n)))
            .collect();
        for (wait, full) in waits.iter().zip([100, 200, 400]) {
            let wait = wait.expect("within the intensity");
            let full = Duration::from_millis(full);
            assert!(wait >= full / 2 && wait <= full, "{wait:?} for {full:?}");
        }
        // A fourth within 10 s exceeds it.
        assert_eq!(restarts.after_failure(start + Duration::from_secs(1)), None);
        // Once the first restarts left the window, restarts are allowed again.
        restarts.started(start + Duration::from_secs(2));
        assert!(restarts
            .after_failure(start + Duration::from_secs(11))
            .is_some());
    }

    #[test]
    fn the_backoff_is_capped_and_a_quiet_window_starts_it_over() {
        let restart = Restart::ON_FAILURE
            .with_intensity(100, Duration::from_secs(1))
            .with_backoff(Duration::from_millis(10));
        let mut restarts = Restarts::new(restart, 7);
        let start = Instant::now();
        let mut last = Duration::ZERO;
        for n in 0..10 {
            last = restarts
                .after_failure(start + Duration::from_micros(n))
                .unwrap();
        }
        assert!(last <= Duration::from_millis(320), "{last:?}");
        assert!(last >= Duration::from_millis(160), "{last:?}");
        // An instance that ran a whole window: back to the first backoff.
        restarts.started(start);
        let wait = restarts
            .after_failure(start + Duration::from_secs(5))
            .unwrap();
        assert!(wait <= Duration::from_millis(10), "{wait:?}");
    }

    #[test]
    fn never_is_never_restarted() {
        let mut restarts = Restarts::new(Restart::NEVER, 1);
        assert_eq!(restarts.after_failure(Instant::now()), None);
    }
}
