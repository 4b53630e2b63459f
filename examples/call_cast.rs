//! Calling into a background thread: `call` runs a closure on the thread and returns its
//! value (request–reply), `cast` runs one without waiting (fire and forget). Both wait
//! their turn in the thread's queue, so they see every task sent before them.
//!
//! ```text
//! cargo run --example call_cast
//! ```

use std::collections::BTreeMap;

use threadward::{background_thread, BackgroundThread, BoxError, Context};

/// Counts page views per path, on its own thread.
#[background_thread(name = "page-stats")]
#[derive(Default)]
struct PageStats {
    views: BTreeMap<String, u64>,
}

impl BackgroundThread for PageStats {
    type Task = String;

    fn handle(&mut self, path: String, _ctx: &Context) -> Result<(), BoxError> {
        *self.views.entry(path).or_default() += 1;
        Ok(())
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let stats = PageStats::default().spawn()?;
    for path in ["/", "/about", "/", "/blog", "/"] {
        stats.send(path.to_owned())?;
    }

    // Request–reply: the closure runs on the stats thread after the five views above.
    let top = stats.call(|stats, _ctx| {
        stats
            .views
            .iter()
            .max_by_key(|(_, views)| **views)
            .map(|(path, views)| (path.clone(), *views))
    })?;
    println!("most viewed: {top:?}");
    assert_eq!(top, Some(("/".to_owned(), 3)));

    // Fire and forget: reset the counters; the next call sees the reset.
    stats.cast(|stats, ctx| {
        println!(
            "resetting {} paths on thread `{}`",
            stats.views.len(),
            ctx.name()
        );
        stats.views.clear();
    })?;
    stats.send("/after-reset".to_owned())?;
    let paths = stats.call(|stats, _ctx| stats.views.keys().cloned().collect::<Vec<_>>())?;
    println!("paths after the reset: {paths:?}");
    assert_eq!(paths, ["/after-reset"]);

    stats.stop();
    let exit = stats.join()?;
    println!("{}", exit.report());
    Ok(())
}
