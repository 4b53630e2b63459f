//! The performance suite: threadward against hand-rolled `std::thread` + crossbeam code,
//! in the same run, reported as per-round ratios. Run with
//!
//! ```text
//! cargo bench
//! ```
//!
//! Every figure comes from its own child process (this binary, run again with
//! `--contender`), so that no contender inherits another's allocator state or warmed
//! caches; the contenders of a round run one after the other, in an order that rotates
//! from round to round. A round's ratio is threadward's figure over the hand-rolled
//! one's; the table gives the median of the rounds' ratios and their worse tail (the
//! 10th percentile of a speed ratio, the 90th of a time ratio). Throughput runs three
//! times: unpinned, with producers and consumer on separate cores, and all on one core.
//!
//! `THREADWARD_BENCH_ROUNDS` sets the number of rounds (default 20 for throughput, 10
//! for the rest);
//! `THREADWARD_BENCH_ONLY` runs only the measures whose name contains it.

mod footprint;
mod latency;
mod measures;
mod pin;
mod pool;
mod redis;
mod stats;
mod suite;
mod throughput;
mod ticks;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // `cargo test --benches` runs this with test-style arguments; there is nothing to
    // test here.
    if args.iter().any(|a| a == "--test" || a == "--list") {
        return;
    }
    if let Some(at) = args.iter().position(|a| a == "--contender") {
        let spec = args
            .get(at + 1)
            .expect("--contender takes a measure/contender");
        let figures = suite::measure_in_child(spec);
        let line: Vec<String> = figures.iter().map(ToString::to_string).collect();
        println!("{}", line.join(" "));
        return;
    }
    suite::run();
}
