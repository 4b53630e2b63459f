//! Time in a thread's lifecycle: the period of its ticks (`every`), what it does about
//! ticks it missed, and the schedule the run loop keeps with them.

use std::time::{Duration, Instant};

/// The time a thread is declared with: whether (and how often) its
/// [`tick`](crate::Ticking::tick) runs, how long after `spawn` it starts, and how long
/// it may run at most. Written by
/// `#[background_thread(every = "…", missed = "…", delay = "…", deadline = "…")]`; read
/// it as [`Declared::TIMING`](crate::Declared::TIMING).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use threadward::{background_thread, Declared, MissedTicks};
///
/// #[background_thread(every = "1m30s", missed = "burst", delay = "1s", deadline = "2h")]
/// struct Flusher;
/// # impl threadward::BackgroundThread for Flusher {
/// #     type Task = ();
/// #     fn handle(&mut self, _: (), _: &threadward::Context) -> Result<(), threadward::BoxError> { Ok(()) }
/// # }
/// # impl threadward::Ticking for Flusher {
/// #     fn tick(&mut self, _: &threadward::Context) -> Result<(), threadward::BoxError> { Ok(()) }
/// # }
///
/// assert_eq!(Flusher::TIMING.every(), Some(Duration::from_secs(90)));
/// assert_eq!(Flusher::TIMING.missed(), MissedTicks::Burst);
/// assert_eq!(Flusher::TIMING.delay(), Some(Duration::from_secs(1)));
/// assert_eq!(Flusher::TIMING.deadline(), Some(Duration::from_secs(7200)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    every: Option<Duration>,
    missed: MissedTicks,
    deadline: Option<Duration>,
    delay: Option<Duration>,
    startup_timeout: Option<Duration>,
    shutdown_timeout: Duration,
}

/// How long a child is given to stop, by default, before its parent halts it.
const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

impl Timing {
    /// No ticks.
    pub const NONE: Self = Self {
        every: None,
        missed: MissedTicks::Skip,
        deadline: None,
        delay: None,
        startup_timeout: None,
        shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
    };

    /// Ticks every `period`, handling missed ones as `missed` says.
    pub const fn ticking(period: Duration, missed: MissedTicks) -> Self {
        Self {
            every: Some(period),
            missed,
            deadline: None,
            delay: None,
            startup_timeout: None,
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
        }
    }

    /// The same, and started (`startup` run) only after `delay`; `spawn` returns at
    /// once.
    #[must_use]
    pub const fn with_delay(self, delay: Duration) -> Self {
        Self {
            delay: Some(delay),
            ..self
        }
    }

    /// The same, ticking every `period` (keeping the `missed` policy).
    pub(crate) const fn with_every(self, period: Duration) -> Self {
        Self {
            every: Some(period),
            ..self
        }
    }

    /// The same, with `missed` as the policy for missed ticks.
    pub(crate) const fn with_missed(self, missed: MissedTicks) -> Self {
        Self { missed, ..self }
    }

    /// How long after `spawn` the thread runs `startup`.
    pub const fn delay(&self) -> Option<Duration> {
        self.delay
    }

    /// The same, and stopped (gracefully) once it has run for `deadline`.
    #[must_use]
    pub const fn with_deadline(self, deadline: Duration) -> Self {
        Self {
            deadline: Some(deadline),
            ..self
        }
    }

    /// How long the thread may run, from its `spawn`, before it is stopped.
    pub const fn deadline(&self) -> Option<Duration> {
        self.deadline
    }

    /// The same, and `spawn` waits at most `limit` for `startup`: a startup still
    /// running then is halted (at its next checkpoint or interruptible wait) and `spawn`
    /// fails with [`SpawnFailure::StartupTimedOut`](crate::SpawnFailure::StartupTimedOut).
    #[must_use]
    pub const fn with_startup_timeout(self, limit: Duration) -> Self {
        Self {
            startup_timeout: Some(limit),
            ..self
        }
    }

    /// How long `spawn` waits for `startup` before it halts it.
    pub const fn startup_timeout(&self) -> Option<Duration> {
        self.startup_timeout
    }

    /// The same, and as a child (of a supervisor, or tied to its parent by
    /// [`Context::spawn_child`](crate::Context::spawn_child)) the thread is given
    /// `limit` to stop when its parent stops it; then it is halted, and given as long
    /// again before it is left behind.
    #[must_use]
    pub const fn with_shutdown_timeout(self, limit: Duration) -> Self {
        Self {
            shutdown_timeout: limit,
            ..self
        }
    }

    /// How long the thread, as a child, is given to stop before its parent halts it
    /// (5 s unless declared).
    pub const fn shutdown_timeout(&self) -> Duration {
        self.shutdown_timeout
    }

    /// The period of the ticks, if the thread ticks.
    pub const fn every(&self) -> Option<Duration> {
        self.every
    }

    /// What the thread does about ticks it missed.
    pub const fn missed(&self) -> MissedTicks {
        self.missed
    }
}

/// What a thread does when a tick comes due while it is busy, as tokio's
/// `MissedTickBehavior` does; set with `missed = "…"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MissedTicks {
    /// One tick for all that were missed, then back on the original schedule: with
    /// `every = "100ms"`, a thread busy from 0 to 350 ms ticks at 350, then 400, 500…
    #[default]
    Skip,
    /// Every missed tick, back to back, until the thread has caught up: at 350, 350,
    /// 350, then 400, 500…
    Burst,
    /// One tick, and the schedule restarts from it: at 350, then 450, 550…
    Delay,
}

/// When the next tick is due.
#[derive(Debug)]
pub(crate) struct Schedule {
    period: Duration,
    missed: MissedTicks,
    next: Instant,
}

impl Schedule {
    /// The first tick is due one `period` after `start`.
    pub(crate) fn new(period: Duration, missed: MissedTicks, start: Instant) -> Self {
        Self {
            period,
            missed,
            next: after(start, period),
        }
    }

    #[inline]
    pub(crate) fn next(&self) -> Instant {
        self.next
    }

    #[inline]
    pub(crate) fn period(&self) -> Duration {
        self.period
    }

    /// Whether a tick is due at `now`; if so, the schedule moves on as if it ran now.
    pub(crate) fn take_due(&mut self, now: Instant) -> bool {
        if now < self.next {
            return false;
        }
        self.next = match self.missed {
            MissedTicks::Burst => after(self.next, self.period),
            MissedTicks::Delay => after(now, self.period),
            MissedTicks::Skip => {
                // The whole periods missed, and one more: the first due time after now.
                let period = self.period.as_nanos().max(1);
                let late = now.duration_since(self.next).as_nanos();
                let ahead = (late / period + 1) * period;
                after(
                    self.next,
                    Duration::from_nanos(u64::try_from(ahead).unwrap_or(u64::MAX)),
                )
            }
        };
        true
    }

    /// A new period, from `now`: the next tick is due one new period from now.
    pub(crate) fn set_period(&mut self, period: Duration, now: Instant) {
        self.period = period;
        self.next = after(now, period);
    }
}

/// The tick period a `Control` holds in nanoseconds: `None` for 0, no ticks.
pub(crate) fn period(nanos: u64) -> Option<Duration> {
    (nanos != 0).then(|| Duration::from_nanos(nanos))
}

/// `at + duration`, or, when that is past what an `Instant` can hold, as far as it
/// holds (a period of `Duration::MAX` means "not in this program's life").
pub(crate) fn after(at: Instant, duration: Duration) -> Instant {
    at.checked_add(duration)
        .or_else(|| at.checked_add(Duration::from_secs(u64::from(u32::MAX))))
        .unwrap_or(at)
}

/// How often a busy thread reads the clock to see whether a tick is due: about 16
/// times a period, adapting to how long its messages take, and at least every 64
/// messages. A thread handling millions of small tasks a second reads it once every 64
/// (a clock read costs about as much as such a task), one handling slow tasks after
/// each; when small tasks give way to slow ones, the clock is read again within 64 of
/// them.
#[derive(Debug)]
pub(crate) struct Pace {
    since: u32,
    every: u32,
    last: Instant,
}

impl Pace {
    const MOST: u32 = 64;

    pub(crate) fn new(now: Instant) -> Self {
        Self {
            since: 0,
            every: 1,
            last: now,
        }
    }

    /// Counts one message handled; whether the clock is to be read now.
    #[inline]
    pub(crate) fn due(&mut self) -> bool {
        self.since += 1;
        self.since >= self.every
    }

    /// The clock was read (`now`): how many messages to handle before the next read.
    pub(crate) fn checked(&mut self, now: Instant, period: Duration) {
        if self.since > 0 {
            let nanos = |d: Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
            let per_message = nanos(now.duration_since(self.last)) / u64::from(self.since);
            let fit = (nanos(period) / 16) / per_message.max(1);
            self.every = u32::try_from(fit).unwrap_or(u32::MAX).clamp(1, Self::MOST);
        }
        self.since = 0;
        self.last = now;
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::{MissedTicks, Pace, Schedule};

    const MS: Duration = Duration::from_millis(1);

    /// The ticks a thread busy from 0 to `busy` ms takes at `busy` ms, and when the next
    /// is due after them (in ms).
    fn after_busy(missed: MissedTicks, busy: u32) -> (u32, u32) {
        let start = Instant::now();
        let mut schedule = Schedule::new(100 * MS, missed, start);
        let now = start + busy * MS;
        let mut ticks = 0;
        while schedule.take_due(now) {
            ticks += 1;
        }
        let next = schedule.next().duration_since(start).as_millis();
        (ticks, u32::try_from(next).unwrap())
    }

    #[test]
    fn missed_ticks_follow_the_policy() {
        assert_eq!(after_busy(MissedTicks::Skip, 350), (1, 400));
        assert_eq!(after_busy(MissedTicks::Burst, 350), (3, 400));
        assert_eq!(after_busy(MissedTicks::Delay, 350), (1, 450));
        // On time: one tick, the next a period later, whatever the policy.
        for missed in [MissedTicks::Skip, MissedTicks::Burst, MissedTicks::Delay] {
            assert_eq!(after_busy(missed, 100), (1, 200));
            assert_eq!(after_busy(missed, 99), (0, 100));
        }
    }

    #[test]
    fn skip_is_one_tick_however_tiny_the_period() {
        let start = Instant::now();
        for (period, late) in [
            (Duration::from_nanos(1), Duration::from_secs(10)),
            (Duration::from_micros(1), Duration::from_secs(3 * 3600)),
        ] {
            let mut schedule = Schedule::new(period, MissedTicks::Skip, start);
            let now = start + period + late;
            let mut ticks = 0;
            while schedule.take_due(now) {
                ticks += 1;
            }
            assert_eq!(ticks, 1, "{period:?} late by {late:?}");
            assert!(schedule.next() > now);
        }
    }

    #[test]
    fn periods_too_long_for_the_clock_do_not_panic() {
        let start = Instant::now();
        let mut schedule = Schedule::new(Duration::MAX, MissedTicks::Burst, start);
        assert!(schedule.next() > start + Duration::from_secs(3600 * 24 * 365));
        assert!(!schedule.take_due(start + MS));
        schedule.set_period(Duration::MAX, start);
        assert!(schedule.next() > start);
    }

    #[test]
    fn a_new_period_counts_from_now() {
        let start = Instant::now();
        let mut schedule = Schedule::new(100 * MS, MissedTicks::Skip, start);
        schedule.set_period(1000 * MS, start + 50 * MS);
        assert_eq!(schedule.next(), start + 1050 * MS);
        assert!(!schedule.take_due(start + 1049 * MS));
        assert!(schedule.take_due(start + 1050 * MS));
    }

    #[test]
    fn the_clock_is_read_about_sixteen_times_a_period() {
        let start = Instant::now();
        let mut pace = Pace::new(start);
        // Fast messages: 100 ns each, with a 1 ms period: 625 would fit, 64 at most.
        for _ in 0..10 {
            assert!(pace.due());
        }
        pace.checked(start + Duration::from_micros(1), MS);
        assert_eq!(pace.every, 64);
        // 20 us each: 3 fit in a sixteenth of a millisecond.
        for _ in 0..64 {
            pace.due();
        }
        pace.checked(
            start + Duration::from_micros(1) + 64 * Duration::from_micros(20),
            MS,
        );
        assert_eq!(pace.every, 3);
        // Slow messages: 1 ms each: a read after every one.
        let mut pace = Pace::new(start);
        assert!(pace.due());
        pace.checked(start + MS, MS);
        assert_eq!(pace.every, 1);
    }
}
