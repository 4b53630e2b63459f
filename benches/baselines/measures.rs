//! The measures of the suite: what each compares, in which unit, and its target.

use crate::pin::Pin;

/// Whether a larger figure is better (a rate) or worse (a time, a cost).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Better {
    Higher,
    Lower,
}

/// What a ratio (threadward over the baseline, median of rounds) should be.
#[derive(Clone, Copy)]
pub(crate) enum Target {
    /// A speed ratio: at least `median`, and at least `tail` in the worst 10 % of rounds.
    AtLeast { median: f64, tail: Option<f64> },
    /// A time or cost ratio: at most `median`.
    AtMost { median: f64 },
    /// Threadward's own figure (not a ratio): at most this.
    Below(f64),
}

pub(crate) struct Measure {
    /// Names the measure in `--contender` and `THREADWARD_BENCH_ONLY`.
    pub(crate) id: &'static str,
    pub(crate) title: &'static str,
    /// The contenders: the first is the baseline, the last is threadward.
    pub(crate) contenders: &'static [&'static str],
    /// What the figures a child prints are, in order.
    pub(crate) figures: &'static [&'static str],
    pub(crate) unit: &'static str,
    pub(crate) better: Better,
    pub(crate) pins: &'static [Pin],
    /// The target of each figure's ratio.
    pub(crate) targets: &'static [Option<Target>],
    /// The target of threadward against the second contender (`select!`), if any.
    pub(crate) against_second: Option<Target>,
    /// Rounds unless `THREADWARD_BENCH_ROUNDS` says, when not the suite's default (a
    /// measure that takes long).
    pub(crate) rounds: Option<usize>,
}

const THROUGHPUT: &[&str] = &["raw channel", "select! worker", "threadward"];
const HAND: &[&str] = &["hand-rolled", "threadward"];
const SPLIT: &[Pin] = &Pin::ALL;
const UNPINNED: &[Pin] = &[Pin::Unpinned];

pub(crate) const MEASURES: &[Measure] = &[
    Measure {
        id: "throughput-unbounded-1",
        title: "throughput, unbounded, 1 producer",
        contenders: THROUGHPUT,
        figures: &["rate"],
        unit: "M msg/s",
        better: Better::Higher,
        pins: SPLIT,
        targets: &[Some(Target::AtLeast {
            median: 1.0,
            tail: Some(0.85),
        })],
        against_second: Some(Target::AtLeast {
            median: 1.8,
            tail: None,
        }),
        rounds: None,
    },
    Measure {
        id: "throughput-bounded-1",
        title: "throughput, bounded(1024), 1 producer",
        contenders: THROUGHPUT,
        figures: &["rate"],
        unit: "M msg/s",
        better: Better::Higher,
        pins: SPLIT,
        targets: &[Some(Target::AtLeast {
            median: 0.9,
            tail: None,
        })],
        against_second: None,
        rounds: None,
    },
    Measure {
        id: "throughput-unbounded-4",
        title: "throughput, unbounded, 4 producers",
        contenders: THROUGHPUT,
        figures: &["rate"],
        unit: "M msg/s",
        better: Better::Higher,
        pins: UNPINNED,
        targets: &[Some(Target::AtLeast {
            median: 1.0,
            tail: None,
        })],
        against_second: None,
        rounds: None,
    },
    Measure {
        id: "throughput-bounded-4",
        title: "throughput, bounded(1024), 4 producers",
        contenders: THROUGHPUT,
        figures: &["rate"],
        unit: "M msg/s",
        better: Better::Higher,
        pins: UNPINNED,
        targets: &[Some(Target::AtLeast {
            median: 0.9,
            tail: None,
        })],
        against_second: None,
        rounds: None,
    },
    Measure {
        id: "stop-idle",
        title: "stop an idle thread, request -> joined",
        contenders: HAND,
        figures: &["median", "p99"],
        unit: "us",
        better: Better::Lower,
        pins: UNPINNED,
        targets: &[Some(Target::AtMost { median: 1.2 }), None],
        against_second: None,
        rounds: None,
    },
    Measure {
        id: "call-idle",
        title: "call round trip, idle thread",
        contenders: HAND,
        figures: &["median", "p99"],
        unit: "us",
        better: Better::Lower,
        pins: UNPINNED,
        targets: &[Some(Target::AtMost { median: 1.3 }), None],
        against_second: None,
        rounds: None,
    },
    Measure {
        id: "call-back-to-back",
        title: "call round trip, back to back",
        contenders: HAND,
        figures: &["mean"],
        unit: "us",
        better: Better::Lower,
        pins: UNPINNED,
        targets: &[Some(Target::AtMost { median: 1.3 })],
        against_second: None,
        rounds: None,
    },
    Measure {
        id: "spawn-ready",
        title: "spawn -> ready",
        contenders: HAND,
        figures: &["median", "p99"],
        unit: "us",
        better: Better::Lower,
        pins: UNPINNED,
        targets: &[Some(Target::AtMost { median: 1.3 }), None],
        against_second: None,
        rounds: None,
    },
    Measure {
        id: "stop-1000",
        title: "stop and join 1,000 idle threads",
        contenders: HAND,
        figures: &["time"],
        unit: "ms",
        better: Better::Lower,
        pins: UNPINNED,
        targets: &[Some(Target::AtMost { median: 1.3 })],
        against_second: None,
        rounds: None,
    },
    Measure {
        id: "idle-cpu",
        title: "CPU of 100 idle threads over 2 s",
        contenders: HAND,
        figures: &["per thread"],
        unit: "us/s",
        better: Better::Lower,
        pins: UNPINNED,
        // 1 ms of CPU per thread per second.
        targets: &[Some(Target::Below(1000.0))],
        against_second: None,
        rounds: None,
    },
    Measure {
        id: "resident",
        title: "resident memory per idle thread (200)",
        contenders: HAND,
        figures: &["per thread"],
        unit: "KiB",
        better: Better::Lower,
        pins: UNPINNED,
        targets: &[Some(Target::AtMost { median: 1.1 })],
        against_second: None,
        rounds: None,
    },
    Measure {
        id: "tick-jitter",
        title: "tick lateness, every 5 ms (actual - scheduled)",
        contenders: HAND,
        figures: &["p50", "p99"],
        unit: "us",
        better: Better::Lower,
        pins: UNPINNED,
        targets: &[None, Some(Target::AtMost { median: 1.2 })],
        against_second: None,
        rounds: None,
    },
    Measure {
        id: "tick-idle",
        title: "1,000 threads ticking at 1 Hz for 5 s",
        contenders: HAND,
        figures: &["CPU per thread", "wake-ups per thread"],
        unit: "us/s, 1/s",
        better: Better::Lower,
        pins: UNPINNED,
        targets: &[
            Some(Target::AtMost { median: 1.2 }),
            Some(Target::AtMost { median: 1.2 }),
        ],
        against_second: None,
        rounds: Some(4),
    },
    Measure {
        id: "tick-throughput",
        title: "throughput with a 1 ms tick (10M msgs)",
        contenders: &["no tick", "1 ms tick"],
        figures: &["rate"],
        unit: "M msg/s",
        better: Better::Higher,
        pins: UNPINNED,
        targets: &[Some(Target::AtLeast {
            median: 0.9,
            tail: None,
        })],
        against_second: None,
        rounds: None,
    },
    Measure {
        id: "redis-prefetch-1",
        title: "Redis stream, no-op handle, 1 entry at a time",
        contenders: HAND,
        figures: &["rate"],
        unit: "k tasks/s",
        better: Better::Higher,
        pins: UNPINNED,
        targets: &[Some(Target::AtLeast {
            median: 0.9,
            tail: None,
        })],
        against_second: None,
        rounds: None,
    },
    Measure {
        id: "redis-prefetch-100",
        title: "Redis stream, no-op handle, 100 entries at a time",
        contenders: HAND,
        figures: &["rate"],
        unit: "k tasks/s",
        better: Better::Higher,
        pins: UNPINNED,
        targets: &[Some(Target::AtLeast {
            median: 0.9,
            tail: None,
        })],
        against_second: None,
        rounds: None,
    },
    Measure {
        id: "pool-scaling",
        title: "CPU-bound tasks, pool of 2 against pool of 1",
        contenders: &["1 worker", "2 hand-rolled threads", "2 workers"],
        figures: &["rate"],
        unit: "k tasks/s",
        better: Better::Higher,
        pins: UNPINNED,
        targets: &[Some(Target::AtLeast {
            median: 1.8,
            tail: None,
        })],
        against_second: None,
        rounds: None,
    },
];
