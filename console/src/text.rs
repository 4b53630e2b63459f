//! `GET /threads?format=text`: the threads as a table for a terminal (`watch curl`),
//! the busiest first. Names and messages are printed with control characters escaped,
//! so that no thread name can move a terminal's cursor or change its colours.

use std::fmt::Write;

use crate::snapshot::{Snapshot, ThreadView};

/// The table for `snapshot`.
pub(crate) fn table(snapshot: &Snapshot) -> String {
    let mut out = String::new();
    let busy = snapshot.threads.iter().filter(|t| !t.info.idle).count();
    let stuck = snapshot.threads.iter().filter(|t| t.stuck).count();
    let _ = writeln!(
        out,
        "threadward console · update {} · {} threads, {busy} busy, {stuck} stuck",
        snapshot.update,
        snapshot.threads.len()
    );
    if let Some(shutdown) = &snapshot.shutdown {
        let _ = writeln!(
            out,
            "shutdown ({}): {:?}, {} left, {:.1} s in",
            clean(&shutdown.cause),
            shutdown.step,
            shutdown.remaining,
            shutdown.elapsed.as_secs_f64()
        );
    }
    let _ = writeln!(
        out,
        "{:>5} {:<24} {:<9} {:<4} {:>11} {:>9} {:>9} {:>7} {:>9}  WHERE",
        "ID", "NAME", "STATE", "BUSY", "QUEUE", "RATE/s", "HANDLED", "REFUSED", "TASK"
    );
    let mut threads: Vec<&ThreadView> = snapshot.threads.iter().collect();
    // Stuck first, then busy, the longest on its task first; then in start order.
    threads.sort_by(|a, b| {
        b.stuck
            .cmp(&a.stuck)
            .then(a.info.idle.cmp(&b.info.idle))
            .then(
                b.task_ms
                    .unwrap_or(0.0)
                    .total_cmp(&a.task_ms.unwrap_or(0.0)),
            )
            .then(a.info.id.as_u64().cmp(&b.info.id.as_u64()))
    });
    for thread in threads {
        let info = &thread.info;
        let queue = match info.capacity {
            Some(capacity) => format!("{}/{capacity}", info.queue_depth),
            None => info.queue_depth.to_string(),
        };
        let state = thread
            .ladder
            .map_or_else(|| info.state.to_string(), str::to_owned);
        let task = thread
            .task_ms
            .map_or_else(|| "-".to_owned(), |ms| format!("{:.1}s", ms / 1e3));
        let place = info
            .last_checkpoint
            .as_ref()
            .map_or_else(String::new, |checkpoint| {
                format!(
                    "{}:{} ({:.1}s ago)",
                    checkpoint.location.file(),
                    checkpoint.location.line(),
                    checkpoint.ago.as_secs_f64()
                )
            });
        let mark = if thread.stuck { "STUCK " } else { "" };
        let _ = writeln!(
            out,
            "{:>5} {:<24} {:<9} {:<4} {:>11} {:>9.1} {:>9} {:>7} {:>9}  {mark}{}",
            info.id.as_u64(),
            clip(&clean(info.name), 24),
            state,
            if info.idle { "" } else { "busy" },
            queue,
            thread.rate,
            info.handled,
            info.refused,
            task,
            clean(&place),
        );
    }
    if !snapshot.exits.is_empty() {
        let _ = writeln!(out, "\nrecent exits (newest last):");
        for exit in &snapshot.exits {
            let _ = writeln!(
                out,
                "{:>5} {:<24} {} · handled {}, undelivered {}",
                exit.id,
                clip(&clean(exit.name), 24),
                clean(&exit.outcome),
                exit.handled,
                exit.undelivered
            );
        }
    }
    if let Some(report) = snapshot.shutdown.as_ref().and_then(|s| s.report.as_ref()) {
        let _ = writeln!(out, "\n{}", clean_lines(report));
    }
    out
}

/// `text` with control characters escaped (`\u{1b}` for an escape), and the invisible
/// ones that reorder or hide text (bidirectional overrides and isolates, zero-width
/// characters), which could make a line say what it does not.
fn clean(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            let hidden = matches!(
                c,
                '\u{061c}'
                    | '\u{200b}'..='\u{200f}'
                    | '\u{202a}'..='\u{202e}'
                    | '\u{2060}'..='\u{2069}'
                    | '\u{feff}'
            );
            let escaped: Vec<char> = if c.is_control() || hidden {
                c.escape_default().collect()
            } else {
                vec![c]
            };
            escaped
        })
        .collect()
}

/// As `clean`, keeping line breaks.
fn clean_lines(text: &str) -> String {
    text.lines().map(clean).collect::<Vec<_>>().join("\n")
}

/// At most `width` characters.
fn clip(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_owned();
    }
    let mut clipped: String = text.chars().take(width - 1).collect();
    clipped.push('…');
    clipped
}
