//! The measures, the child process that takes one figure, and the table of ratios.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::measures::{Better, Measure, Target, MEASURES};
use crate::pin::{self, Pin};
use crate::stats::{median, percentile};
use crate::throughput::{Consumer, MESSAGES};
use crate::{footprint, latency, pool, redis, throughput, ticks};

/// Samples per child for the latencies.
const SAMPLES: usize = 200;

/// In the child: takes the figures of one contender of one measure.
pub(crate) fn measure_in_child(spec: &str) -> Vec<f64> {
    let (id, contender) = spec.split_once('/').expect("measure/contender");
    let ward = contender == "threadward";
    let micros = |d: Duration| d.as_secs_f64() * 1e6;
    let median_p99 = |samples: Vec<Duration>| {
        let samples: Vec<f64> = samples.into_iter().map(micros).collect();
        vec![median(&samples), percentile(&samples, 99.0)]
    };
    match id {
        _ if id.starts_with("throughput-") => {
            let consumer = match contender {
                "raw channel" => Consumer::Raw,
                "select! worker" => Consumer::Select,
                _ => Consumer::Threadward,
            };
            let bounded = id.contains("bounded-") && !id.contains("unbounded");
            let producers = if id.ends_with("-4") { 4 } else { 1 };
            // A warm-up run first: page faults and the allocator's first growth.
            throughput::run(consumer, bounded, producers, MESSAGES / 10);
            vec![throughput::run(consumer, bounded, producers, MESSAGES)]
        }
        "stop-idle" => median_p99(latency::stop(ward, SAMPLES)),
        "call-idle" => median_p99(latency::call(ward, false, SAMPLES)),
        "call-back-to-back" => {
            latency::call(ward, true, 1_000);
            latency::call(ward, true, 20_000)
                .into_iter()
                .map(micros)
                .collect()
        }
        "spawn-ready" => median_p99(latency::spawn(ward, SAMPLES)),
        "stop-1000" => vec![footprint::stop_many(ward, 1_000).as_secs_f64() * 1e3],
        "idle-cpu" => vec![footprint::idle_cpu(ward, 100, Duration::from_secs(2))],
        "resident" => vec![footprint::resident(ward, 200)],
        "tick-jitter" => median_p99(ticks::lateness(ward, 200)),
        "tick-idle" => {
            let (cpu, wakeups) = ticks::idle(ward, 1_000, Duration::from_secs(5));
            vec![cpu, wakeups]
        }
        "tick-throughput" => {
            let consumer = if contender == "1 ms tick" {
                Consumer::TickingThreadward
            } else {
                Consumer::Threadward
            };
            // Five times the messages of the other throughput measures: a 1 ms tick
            // needs a run of many periods to show its cost, and a longer run evens out
            // the host's noise.
            throughput::run(consumer, false, 1, MESSAGES / 10);
            let before = throughput::TICKS.load(std::sync::atomic::Ordering::Relaxed);
            let rate = throughput::run(consumer, false, 1, MESSAGES * 5);
            let ticked = throughput::TICKS.load(std::sync::atomic::Ordering::Relaxed) - before;
            // A run of a few hundred milliseconds ticks through it. (A short warm-up may
            // be over before its first tick: a stopping thread ticks no more.)
            assert!(
                !matches!(consumer, Consumer::TickingThreadward) || ticked > 0,
                "the ticking thread never ticked"
            );
            vec![rate]
        }
        "pool-scaling" => {
            let workers = match contender {
                "1 worker" => Some(1),
                "2 workers" => Some(2),
                _ => None,
            };
            pool::run(workers, pool::TASKS / 10);
            vec![pool::run(workers, pool::TASKS)]
        }
        "redis-prefetch-1" | "redis-prefetch-100" => {
            let prefetch = if id.ends_with("-100") { 100 } else { 1 };
            let tasks = if prefetch == 1 { 20_000 } else { 100_000 };
            redis::run(ward, prefetch, tasks / 10);
            vec![redis::run(ward, prefetch, tasks)]
        }
        _ => panic!("no measure {id:?}"),
    }
}

/// Runs one child: `contender` of `measure`, placed as `pin` says.
fn child(measure: &Measure, contender: &str, pin: Pin) -> Vec<f64> {
    let exe = std::env::current_exe().expect("this benchmark's path");
    let output = Command::new(exe)
        .args(["--contender", &format!("{}/{contender}", measure.id)])
        .env(pin::VARIABLE, pin.name())
        .output()
        .expect("run a contender");
    assert!(
        output.status.success(),
        "{}/{contender} ({pin}) failed: {}",
        measure.id,
        String::from_utf8_lossy(&output.stderr)
    );
    let figures: Vec<f64> = String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .map(|figure| figure.parse().expect("a number"))
        .collect();
    assert_eq!(
        figures.len(),
        measure.figures.len(),
        "{}/{contender}",
        measure.id
    );
    figures
}

/// Rounds per measure unless `THREADWARD_BENCH_ROUNDS` says: 20 for throughput, whose
/// worse 10 % is a target (of 10 rounds it would be the single slowest), 10 for the rest.
const THROUGHPUT_ROUNDS: usize = 20;
const ROUNDS: usize = 10;

/// The suite: every measure, every placement, its rounds interleaved.
pub(crate) fn run() {
    let set_rounds: Option<usize> = std::env::var("THREADWARD_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok());
    let only = std::env::var("THREADWARD_BENCH_ONLY").unwrap_or_default();
    let started = Instant::now();
    println!("{}", machine());
    match set_rounds {
        Some(rounds) => print!("{rounds} rounds"),
        None => print!("{THROUGHPUT_ROUNDS} rounds of throughput, {ROUNDS} of the rest"),
    }
    println!("; ratio = threadward / baseline per round: median, and the worse 10 % (p10 of a speed ratio, p90 of a time ratio)\n");
    println!(
        "| {:<52} | {:<9} | {:>24} | {:>24} | {:>6} | {:>6} | {:<22} | {:<3} |",
        "measure (unit)", "placement", "baseline", "contender", "ratio", "worse", "target", "met"
    );
    println!(
        "|{:-<54}|{:-<11}|{:->26}|{:->26}|{:->8}|{:->8}|{:-<24}|{:-<5}|",
        "", "", "", "", "", "", "", ""
    );
    for measure in MEASURES.iter().filter(|m| m.id.contains(&only)) {
        if measure.id.starts_with("redis-") && !redis::available() {
            assert!(
                std::env::var("THREADWARD_REQUIRE_REDIS").as_deref() != Ok("1"),
                "{}: redis-server is required (THREADWARD_REQUIRE_REDIS=1) but not installed",
                measure.id
            );
            println!(
                "| {:<52} | skipped: redis-server is not installed (apt-get install redis-server)",
                measure.title
            );
            continue;
        }
        let rounds =
            set_rounds
                .or(measure.rounds)
                .unwrap_or(if measure.id.starts_with("throughput") {
                    THROUGHPUT_ROUNDS
                } else {
                    ROUNDS
                });
        for &pin in measure.pins {
            let n = measure.contenders.len();
            // figures[contender][round][figure]
            let mut figures = vec![Vec::with_capacity(rounds); n];
            for round in 0..rounds {
                for k in 0..n {
                    let c = (round + k) % n;
                    figures[c].push(child(measure, measure.contenders[c], pin));
                }
                eprint!(".");
            }
            eprintln!();
            rows(measure, pin, &figures);
        }
    }
    println!(
        "\nthe whole suite took {:.0} s",
        started.elapsed().as_secs_f64()
    );
}

/// The table rows of one measure at one placement: each hand-rolled contender and
/// threadward against the baseline, and threadward against the second contender when
/// it has a target there.
fn rows(measure: &Measure, pin: Pin, figures: &[Vec<Vec<f64>>]) {
    let ward = measure.contenders.len() - 1;
    for (f, figure) in measure.figures.iter().enumerate() {
        let of = |c: usize| -> Vec<f64> { figures[c].iter().map(|round| round[f]).collect() };
        for c in 1..ward {
            row(measure, pin, figure, (c, 0), &of, None);
        }
        row(measure, pin, figure, (ward, 0), &of, measure.targets[f]);
        if let Some(target) = measure.against_second.filter(|_| ward > 1) {
            row(measure, pin, figure, (ward, 1), &of, Some(target));
        }
    }
}

/// One row: contender `subject` against contender `base`, round by round.
fn row(
    measure: &Measure,
    pin: Pin,
    figure: &str,
    (subject, base): (usize, usize),
    of: &dyn Fn(usize) -> Vec<f64>,
    target: Option<Target>,
) {
    let (values, base_values) = (of(subject), of(base));
    let ratios: Vec<f64> = values
        .iter()
        .zip(&base_values)
        .map(|(s, b)| s / b)
        .collect();
    let ratio = median(&ratios);
    let worse = match measure.better {
        Better::Higher => percentile(&ratios, 10.0),
        Better::Lower => percentile(&ratios, 90.0),
    };
    let value = median(&values);
    let (target_text, met) = match target {
        None => (String::new(), ""),
        Some(Target::AtLeast { median, tail }) => {
            let met = ratio >= median && tail.map_or(true, |t| worse >= t);
            let text = match tail {
                Some(t) => format!(">= {median:.2}x, p10 >= {t:.2}x"),
                None => format!(">= {median:.2}x"),
            };
            (text, if met { "yes" } else { "NO" })
        }
        Some(Target::AtMost { median }) => (
            format!("<= {median:.2}x"),
            if ratio <= median { "yes" } else { "NO" },
        ),
        Some(Target::Below(max)) => (
            format!("<= {max} {}", measure.unit),
            if value <= max { "yes" } else { "NO" },
        ),
    };
    println!(
        "| {:<52} | {:<9} | {:>24} | {:>24} | {:>5.2}x | {:>5.2}x | {:<22} | {:<3} |",
        format!("{}: {figure} ({})", measure.title, measure.unit),
        pin.name(),
        format!("{} {:.2}", measure.contenders[base], median(&base_values)),
        format!("{} {value:.2}", measure.contenders[subject]),
        ratio,
        worse,
        target_text,
        met
    );
}

/// The machine the figures come from.
fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|line| line.starts_with("model name"))
                .and_then(|line| line.split(':').nth(1))
                .map(|model| model.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZeroUsize::get);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!(
        "machine: {cpu}, {cores} cores available, Linux {}",
        kernel.trim()
    )
}
