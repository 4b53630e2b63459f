//! The console's page in a real browser: Debian's Chromium, headless, driven through
//! chromedriver by fantoccini. Each test starts its own browser and console, one test
//! at a time. Without Chromium and chromedriver each test prints one line saying how to
//! install them and passes, unless `THREADWARD_REQUIRE_BROWSER=1`, when it fails.
//!
//! Every wait is bounded; the bounds that are promises (a thread shows within 1 s, a
//! stuck one within its threshold and 1 s) are asserted as such.

mod browser_support;
mod shutdown_child;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use browser_support::{Browser, Child, BOUND};
use threadward::{
    background_thread, BackgroundThread, BoxError, ClosureThread, Context, Handle, Registry,
};
use threadward_console::{Console, Running};

/// The number of rows showing a thread whose label is exactly `name`.
fn row_named(name: &str) -> String {
    format!(
        "Array.from(document.querySelectorAll('tr.thread')).filter(r => r.querySelector('.label') && r.querySelector('.label').textContent === {}).length",
        serde_json::to_string(name).unwrap()
    )
}

fn console(registry: &Registry) -> Running {
    Console::bind("127.0.0.1:0")
        .registry(registry)
        .spawn()
        .unwrap()
}

/// A thread that sleeps until stopped.
fn sleeper(registry: &Registry, name: &'static str) -> Handle<ClosureThread> {
    threadward::thread(name)
        .spawn_in(registry, |ctx: &Context| {
            ctx.sleep(Duration::from_secs(600));
            Ok(())
        })
        .unwrap()
}

fn finish(console: &Running) {
    console.handle().stop();
    console.handle().join_timeout(BOUND).unwrap();
}

#[test]
fn a_spawned_thread_appears_within_a_second() {
    let Some(browser) = Browser::start() else {
        return;
    };
    let registry = Registry::new();
    let console = console(&registry);
    browser.open(&console.url());
    browser.wait_live();
    let spawned = Instant::now();
    let late = sleeper(&registry, "late-comer");
    browser.wait_for(&format!("{} === 1", row_named("late-comer")), BOUND);
    let took = spawned.elapsed();
    assert!(
        took <= Duration::from_secs(1),
        "the thread showed after {took:?}"
    );
    browser.screenshot("console-threads");
    late.stop();
    late.join().unwrap();
    finish(&console);
}

/// Passes one checkpoint, then spins without another until released.
#[background_thread]
struct Spinner {
    release: Arc<AtomicBool>,
}

impl BackgroundThread for Spinner {
    type Task = ();

    fn handle(&mut self, (): (), _ctx: &Context) -> Result<(), BoxError> {
        threadward::checkpoint(); // where the page must show it is
        while !self.release.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(1));
        }
        Ok(())
    }
}

#[test]
fn a_stuck_thread_is_highlighted_with_its_checkpoint_within_the_threshold_and_a_second() {
    let Some(browser) = Browser::start() else {
        return;
    };
    let registry = Registry::new();
    let threshold = Duration::from_secs(1);
    let console = Console::bind("127.0.0.1:0")
        .registry(&registry)
        .stuck_after(threshold)
        .spawn()
        .unwrap();
    browser.open(&console.url());
    browser.wait_live();
    let release = Arc::new(AtomicBool::new(false));
    let spinner = Spinner {
        release: Arc::clone(&release),
    }
    .spawn_in(&registry)
    .unwrap();
    let id = spinner.id().as_u64();
    let sent = Instant::now();
    spinner.send(()).unwrap();
    let stuck = format!("document.querySelector('tr.thread[data-id=\"{id}\"]')?.classList.contains('stuck') === true");
    browser.wait_for(&stuck, BOUND);
    let took = sent.elapsed();
    assert!(
        took <= threshold + Duration::from_secs(1),
        "marked stuck after {took:?}"
    );
    let shown = |what: &str| {
        let value = browser.eval(&format!(
            "document.querySelector('tr.thread[data-id=\"{id}\"] td.where .clip').{what}"
        ));
        value.as_str().unwrap_or_default().to_owned()
    };
    // The path's last two parts and the line on the page, the whole path on hover.
    let (place, whole) = (shown("textContent"), shown("title"));
    // Where the runtime saw it last: the checkpoint in `Spinner::handle`.
    let checkpoint = spinner
        .info()
        .last_checkpoint
        .expect("a checkpoint")
        .location;
    assert!(checkpoint.file().ends_with("browser.rs"));
    let expected = format!("{}:{}", checkpoint.file(), checkpoint.line());
    assert!(
        whole.contains(&expected),
        "shown: {whole:?}, expected {expected}"
    );
    let short = format!("tests/browser.rs:{}", checkpoint.line());
    assert!(place.contains(&short), "shown: {place:?}, expected {short}");
    assert!(place.starts_with("stuck at "), "shown: {place:?}");
    browser.screenshot("console-stuck");
    release.store(true, Ordering::SeqCst);
    browser.wait_for(&stuck.replace("=== true", "=== false"), BOUND);
    spinner.stop();
    spinner.join().unwrap();
    finish(&console);
}

/// Handles each task once its gate lets it.
#[background_thread(capacity = 64)]
struct Gated {
    gate: mpsc::Receiver<()>,
}

impl BackgroundThread for Gated {
    type Task = u32;

    fn handle(&mut self, _: u32, _ctx: &Context) -> Result<(), BoxError> {
        Ok(self.gate.recv()?)
    }
}

#[test]
fn the_queue_chart_rises_under_load_and_returns_to_empty() {
    let Some(browser) = Browser::start() else {
        return;
    };
    let registry = Registry::new();
    let console = console(&registry);
    let (open, gate) = mpsc::channel();
    let gated = Gated { gate }.spawn_in(&registry).unwrap();
    let id = gated.id().as_u64();
    browser.open(&console.url());
    let canvas = format!("document.querySelector('tr.thread[data-id=\"{id}\"] canvas.spark')");
    // How much of the chart is drawn: the sum of its pixels' opacity.
    let ink = format!(
        "(() => {{ const c = {canvas}; const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let s = 0; for (let i = 3; i < d.length; i += 4) s += d[i]; return s; }})()"
    );
    browser.wait_for(&format!("{canvas}?.dataset.last === '0'"), BOUND);
    let empty = browser.eval(&ink).as_f64().unwrap();
    for task in 0..41 {
        gated.send(task).unwrap();
    }
    // One task in `handle`, forty queued.
    browser.wait_for(&format!("{canvas}.dataset.last === '40'"), BOUND);
    let loaded = browser.eval(&ink).as_f64().unwrap();
    assert!(
        loaded > empty,
        "the chart did not change: {empty} → {loaded}"
    );
    browser.screenshot("console-load");
    for _ in 0..41 {
        open.send(()).unwrap();
    }
    browser.wait_for(&format!("{canvas}.dataset.last === '0'"), BOUND);
    gated.stop();
    gated.join().unwrap();
    finish(&console);
}

/// Fails its first task, with markup in the error.
#[background_thread]
struct Crasher;

impl BackgroundThread for Crasher {
    type Task = ();

    fn handle(&mut self, (): (), _ctx: &Context) -> Result<(), BoxError> {
        Err("<script>window.pwned = 2</script><img src=y onerror=\"window.pwned = 3\">".into())
    }
}

#[test]
fn an_ended_thread_shows_in_the_recent_exits_and_markup_runs_no_script() {
    let Some(browser) = Browser::start() else {
        return;
    };
    let registry = Registry::new();
    let console = console(&registry);
    browser.open(&console.url());
    browser.wait_live();
    let named = "<img src=x onerror=\"window.pwned = 1\">";
    let marked = sleeper(&registry, named);
    let crasher = Crasher.spawn_in(&registry).unwrap();
    crasher.send(()).unwrap();
    let id = crasher.id().as_u64();
    // Ended: its failure is the page's to show.
    let _ = crasher.join();
    let exit = "document.querySelector('#exits li[data-seq]')";
    browser.wait_for(
        &format!("{exit}?.textContent.includes('#{id}') === true"),
        BOUND,
    );
    let text = browser.eval(&format!("{exit}.textContent"));
    let text = text.as_str().unwrap_or_default();
    assert!(text.contains("failed"), "{text}");
    assert!(
        text.contains("<script>window.pwned = 2</script>"),
        "shown literally: {text}"
    );
    assert_eq!(browser.eval(&format!("{exit}.className")), "bad");
    browser.wait_for(&format!("{} === 1", row_named(named)), BOUND);
    // Nothing ran, and the markup made no element.
    assert_eq!(browser.eval("typeof window.pwned"), "undefined");
    assert_eq!(
        browser.eval("document.querySelectorAll('img, main script, #exits script').length"),
        0
    );
    marked.stop();
    marked.join().unwrap();
    finish(&console);
}

#[test]
fn the_page_reconnects_after_its_stream_drops() {
    let Some(browser) = Browser::start() else {
        return;
    };
    let registry = Registry::new();
    let first = console(&registry);
    let address = first.address();
    browser.open(&first.url());
    browser.wait_live();
    // The console goes away (its streams end), and comes back on the same address.
    finish(&first);
    browser.wait_for(
        "document.getElementById('status').textContent !== 'live'",
        BOUND,
    );
    let second = Console::bind(address.to_string())
        .registry(&registry)
        .spawn()
        .unwrap();
    let back = sleeper(&registry, "after-the-drop");
    browser.wait_for(&format!("{} === 1", row_named("after-the-drop")), BOUND);
    browser.wait_live();
    back.stop();
    back.join().unwrap();
    finish(&second);
}

#[test]
fn during_a_shutdown_the_ladder_is_shown_to_the_report() {
    let Some(browser) = Browser::start() else {
        return;
    };
    let mut child = Child::start("shutdown_child::scenario_shutdown");
    let url = child.line_after("console on ");
    browser.open(&url);
    browser.wait_live();
    browser.wait_for(&format!("{} === 1", row_named("stubborn")), BOUND);
    // A few seconds of the drainer's full queue in its chart first.
    std::thread::sleep(Duration::from_secs(3));
    child.signal("TERM");
    // Watch the page: every step of the ladder must show, then the report.
    let state_of = |name: &str| {
        format!(
            "Array.from(document.querySelectorAll('tr.thread')).filter(r => r.querySelector('.label')?.textContent === '{name}').map(r => r.querySelector('td.state').textContent).join()"
        )
    };
    let mut seen = Vec::<String>::new();
    let mut shot = false;
    let start = Instant::now();
    loop {
        assert!(
            start.elapsed() < BOUND * 2,
            "the ladder never ended; seen: {seen:#?}"
        );
        let drainer = browser
            .eval(&state_of("drainer"))
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let stubborn = browser
            .eval(&state_of("stubborn"))
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let step = browser.eval("document.getElementById('shutdown').hidden ? '' : document.getElementById('shutdown-step').textContent");
        let report = browser.eval("document.getElementById('report').textContent");
        for text in [
            drainer.as_str(),
            stubborn.as_str(),
            step.as_str().unwrap_or_default(),
        ] {
            if !text.is_empty() && !seen.iter().any(|s| s == text) {
                seen.push(text.to_owned());
            }
        }
        // A second into the drain, when its estimate has settled.
        let into_drain = drainer.starts_with("draining (8") || drainer.starts_with("draining (7");
        if !shot && into_drain && stubborn.starts_with("stuck") {
            browser.screenshot("console-shutdown");
            shot = true;
        }
        if report
            .as_str()
            .unwrap_or_default()
            .contains("shutdown on SIGTERM")
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let has = |prefix: &str| seen.iter().any(|s| s.starts_with(prefix));
    assert!(has("draining ("), "the drain with what is left: {seen:#?}");
    assert!(has("stuck"), "the stuck thread: {seen:#?}");
    assert!(has("stopping: "), "the stopping step: {seen:#?}");
    assert!(has("halting: "), "the halting step: {seen:#?}");
    assert!(has("ended"), "the end: {seen:#?}");
    let report = browser.eval("document.getElementById('report').textContent");
    let report = report.as_str().unwrap_or_default();
    assert!(
        report.contains("drainer") && report.contains("stubborn"),
        "{report}"
    );
    browser.screenshot("console-report");
    child.wait();
}
