//! This process's threads as Linux's `/proc` shows them, for the console's cost test
//! and its benchmark (`benches/cost.rs` includes this file).

#![allow(dead_code)] // each user takes a part

use std::time::Duration;

/// The calling thread's id, as `/proc/self/task` names it.
pub(crate) fn current_tid() -> std::io::Result<String> {
    let me = std::fs::read_link("/proc/thread-self")?;
    Ok(me
        .file_name()
        .and_then(|name| name.to_str())
        .unwrap_or_default()
        .to_owned())
}

/// How often the thread `tid` of this process was switched to so far (voluntary and
/// not); `None` if it cannot be read.
pub(crate) fn switches(tid: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/self/task/{tid}/status")).ok()?;
    Some(
        status
            .lines()
            .filter(|line| line.contains("ctxt_switches"))
            .filter_map(|line| line.split_whitespace().nth(1)?.parse::<u64>().ok())
            .sum(),
    )
}

/// CPU time of the whole process so far (every thread's, from the scheduler).
pub(crate) fn cpu() -> Duration {
    let mut total = 0u64;
    if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
        for task in tasks.flatten() {
            let stat = std::fs::read_to_string(task.path().join("schedstat")).unwrap_or_default();
            total += stat
                .split_whitespace()
                .next()
                .and_then(|ns| ns.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    Duration::from_nanos(total)
}
