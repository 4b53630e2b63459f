//! The seam for sources: a thread fed by `spawn_with` from a source (here one in
//! memory, as a broker's would be) handles its tasks like sent ones, tells each
//! receipt how `handle` returned, and its stop, halt and end reach the source.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use threadward::{
    background_thread, BackgroundThread, BoxError, Child, Context, Feed, OpenSource, Outcome,
    Receipt, Registry, Source, SourceCounts, SourceInfo, SourceReport, SpawnFailure, Supervisor,
};

/// Bound on every wait of these tests.
const BOUND: Duration = Duration::from_secs(10);

/// What the memory source saw.
#[derive(Default)]
struct Seen {
    acked: AtomicUsize,
    failed: Mutex<Vec<String>>,
    released: AtomicUsize,
    stopped: AtomicBool,
    halted: AtomicBool,
    closed: AtomicUsize,
    /// Handed the feed by `open`, to deliver more later.
    feed: Mutex<Option<Feed<Job>>>,
}

/// A source in memory: delivers its tasks at once, from a thread of its own.
struct Memory {
    tasks: Vec<Job>,
    seen: Arc<Seen>,
    /// The receipts' answer to an error: keep the thread running, or fail it.
    keep_running: bool,
    /// Refuse to open, with this error.
    refuse: Option<&'static str>,
}

/// A task: what `handle` does with it.
#[derive(Debug)]
enum Job {
    Work,
    Fail,
    Panic,
    /// Blocks until halted (or the bound), telling the test it started.
    Block(mpsc::Sender<()>),
}

struct Tracked {
    seen: Arc<Seen>,
    keep_running: bool,
    told: bool,
}

impl Receipt for Tracked {
    fn handled(mut self: Box<Self>, result: Result<(), BoxError>) -> Result<(), BoxError> {
        self.told = true;
        match result {
            Ok(()) => {
                self.seen.acked.fetch_add(1, Ordering::SeqCst);
                Ok(())
            }
            Err(error) => {
                self.seen.failed.lock().unwrap().push(error.to_string());
                if self.keep_running {
                    Ok(())
                } else {
                    Err(error)
                }
            }
        }
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        if !self.told {
            self.seen.released.fetch_add(1, Ordering::SeqCst);
        }
    }
}

fn receipt(seen: &Arc<Seen>, keep_running: bool) -> Box<dyn Receipt> {
    Box::new(Tracked {
        seen: Arc::clone(seen),
        keep_running,
        told: false,
    })
}

impl Source<Job> for Memory {
    fn open(self: Box<Self>, feed: Feed<Job>) -> Result<Box<dyn OpenSource>, BoxError> {
        if let Some(error) = self.refuse {
            return Err(error.into());
        }
        let Memory {
            tasks,
            seen,
            keep_running,
            ..
        } = *self;
        *seen.feed.lock().unwrap() = Some(feed.clone());
        let delivering = Arc::clone(&seen);
        std::thread::spawn(move || {
            for task in tasks {
                let receipt = receipt(&delivering, keep_running);
                if feed.deliver(task, receipt).is_err() {
                    break;
                }
            }
        });
        Ok(Box::new(Opened { seen }))
    }
}

struct Opened {
    seen: Arc<Seen>,
}

impl OpenSource for Opened {
    fn stop(&self) {
        self.seen.stopped.store(true, Ordering::SeqCst);
        // Nothing more to deliver: the thread may end.
        if let Some(feed) = self.seen.feed.lock().unwrap().as_ref() {
            feed.close();
        }
    }
    fn halt(&self) {
        self.seen.halted.store(true, Ordering::SeqCst);
    }
    fn info(&self) -> SourceInfo {
        let mut info = SourceInfo::default();
        info.kind = "memory";
        info.stream = "jobs".into();
        info.counts.acked = self.seen.acked.load(Ordering::SeqCst) as u64;
        info
    }
    fn close(&self) -> SourceReport {
        self.seen.closed.fetch_add(1, Ordering::SeqCst);
        // The feed goes: a source keeps no thread alive past its end.
        self.seen.feed.lock().unwrap().take();
        let mut report = SourceReport::default();
        report.counts.acked = self.seen.acked.load(Ordering::SeqCst) as u64;
        report.counts.released = self.seen.released.load(Ordering::SeqCst) as u64;
        report
    }
}

fn memory(tasks: Vec<Job>, keep_running: bool) -> (Memory, Arc<Seen>) {
    let seen = Arc::new(Seen::default());
    let source = Memory {
        tasks,
        seen: Arc::clone(&seen),
        keep_running,
        refuse: None,
    };
    (source, seen)
}

#[background_thread(restart = "on-failure", backoff = "1ms")]
#[derive(Default)]
struct Worker {
    worked: u32,
}

impl BackgroundThread for Worker {
    type Task = Job;
    fn handle(&mut self, job: Job, ctx: &Context) -> Result<(), BoxError> {
        match job {
            Job::Work => self.worked += 1,
            Job::Fail => return Err("asked to fail".into()),
            Job::Panic => panic!("asked to panic"),
            Job::Block(started) => {
                started.send(())?;
                ctx.sleep(BOUND);
            }
        }
        Ok(())
    }
}

/// Waits (bounded) until `done` holds.
fn wait_until(what: &str, done: impl Fn() -> bool) {
    let started = std::time::Instant::now();
    while !done() {
        assert!(started.elapsed() < BOUND, "waited too long for {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn tasks_from_a_source_are_handled_and_their_receipts_told() {
    let registry = Registry::new();
    let tasks = (0..100).map(|_| Job::Work).collect();
    let (source, seen) = memory(tasks, true);
    let worker = Worker::default().spawn_with_in(source, &registry).unwrap();
    wait_until("100 acks", || seen.acked.load(Ordering::SeqCst) == 100);
    assert_eq!(worker.call(|w, _| w.worked).unwrap(), 100);
    // A handle from the registry sees the source.
    let found = registry.get(worker.id()).unwrap();
    let info = found.info().source.expect("a source");
    assert_eq!((info.kind, info.stream.as_str()), ("memory", "jobs"));
    assert_eq!(info.counts.acked, 100);
    // Sent tasks still work beside it.
    worker.send(Job::Work).unwrap();
    assert!(!seen.stopped.load(Ordering::SeqCst));
    worker.stop();
    assert!(
        seen.stopped.load(Ordering::SeqCst),
        "the stop reached the source at once"
    );
    let exit = worker.join().unwrap();
    assert_eq!(exit.handled(), 101);
    let report = exit.report().source().expect("the source's report");
    assert_eq!(report.counts.acked, 100);
    assert!(report.is_clean());
    assert_eq!(seen.closed.load(Ordering::SeqCst), 1);
    assert!(exit
        .report()
        .to_string()
        .contains("from its source: acked 100"));
}

#[test]
fn an_error_goes_to_the_receipt_which_keeps_the_thread_running_or_fails_it() {
    let registry = Registry::new();
    let (source, seen) = memory(vec![Job::Fail, Job::Work], true);
    let worker = Worker::default().spawn_with_in(source, &registry).unwrap();
    wait_until("the work after the error", || {
        seen.acked.load(Ordering::SeqCst) == 1
    });
    assert_eq!(*seen.failed.lock().unwrap(), ["asked to fail"]);
    assert_eq!(worker.info().restarts, 0, "the receipt kept it running");
    worker.stop();
    worker.join().unwrap();

    // A receipt that hands the error back fails the instance: the restart policy
    // applies, and the fresh value handles the rest.
    let (source, seen) = memory(vec![Job::Fail, Job::Work], false);
    let worker = Worker::default().spawn_with_in(source, &registry).unwrap();
    wait_until("the work after the restart", || {
        seen.acked.load(Ordering::SeqCst) == 1
    });
    assert_eq!(worker.info().restarts, 1);
    worker.stop();
    worker.join().unwrap();
}

#[test]
fn a_panic_in_handle_drops_the_receipt_untold() {
    let registry = Registry::new();
    let (source, seen) = memory(vec![Job::Panic, Job::Work], true);
    let worker = Worker::default().spawn_with_in(source, &registry).unwrap();
    wait_until("the work after the panic", || {
        seen.acked.load(Ordering::SeqCst) == 1
    });
    assert_eq!(seen.released.load(Ordering::SeqCst), 1);
    assert_eq!(worker.info().restarts, 1);
    worker.stop();
    let exit = worker.join().unwrap();
    let report = exit.report().source().unwrap();
    assert_eq!(report.counts.released, 1);
    assert!(!report.is_clean());
}

#[test]
fn a_halt_reaches_the_source_and_releases_what_was_not_handled() {
    let registry = Registry::new();
    let (started, has_started) = mpsc::channel();
    let tasks = vec![Job::Block(started), Job::Work, Job::Work, Job::Work];
    let (source, seen) = memory(tasks, true);
    let worker = Worker::default().spawn_with_in(source, &registry).unwrap();
    has_started.recv_timeout(BOUND).unwrap();
    // The other three are delivered (or being delivered) behind the blocked one.
    wait_until("three queued", || worker.info().queue_depth == 3);
    worker.halt();
    assert!(seen.halted.load(Ordering::SeqCst));
    let exit = worker.join().unwrap();
    assert!(matches!(exit.outcome(), Outcome::Halted), "{exit:?}");
    // The blocked task was halted in `handle`: not handled to its end either.
    assert_eq!(seen.released.load(Ordering::SeqCst), 4);
    assert_eq!(seen.acked.load(Ordering::SeqCst), 0);
    assert_eq!(exit.report().source().unwrap().counts.released, 4);
}

#[test]
fn a_source_that_does_not_open_fails_the_spawn_and_hands_the_value_back() {
    let registry = Registry::new();
    let (mut source, seen) = memory(vec![Job::Work], true);
    source.refuse = Some("connection refused");
    let error = Worker { worked: 7 }
        .spawn_with_in(source, &registry)
        .unwrap_err();
    assert!(matches!(error.failure(), SpawnFailure::Source(_)));
    assert_eq!(
        error.to_string(),
        "could not spawn thread `worker`: its source could not be opened: connection refused"
    );
    assert_eq!(error.into_inner().worked, 7);
    assert!(registry.is_empty());
    assert_eq!(
        seen.closed.load(Ordering::SeqCst),
        0,
        "never opened, never closed"
    );
}

#[background_thread(workers = 3)]
#[derive(Default)]
struct Crew;

impl BackgroundThread for Crew {
    type Task = Job;
    fn handle(&mut self, job: Job, _: &Context) -> Result<(), BoxError> {
        match job {
            Job::Fail => Err("asked to fail".into()),
            _ => Ok(()),
        }
    }
}

#[test]
fn a_pool_is_fed_from_one_source_and_closes_it_once() {
    let registry = Registry::new();
    let tasks = (0..300).map(|_| Job::Work).collect();
    let (source, seen) = memory(tasks, true);
    let crew = Crew.spawn_with_in(source, &registry).unwrap();
    wait_until("300 acks", || seen.acked.load(Ordering::SeqCst) == 300);
    assert!(crew.info().source.is_some());
    // A stop of one worker (through the registry) stops the pool, and the source.
    let worker = registry
        .handles()
        .into_iter()
        .find(|h| h.info().parent == Some(crew.id()))
        .unwrap();
    worker.stop();
    assert!(seen.stopped.load(Ordering::SeqCst));
    let exit = crew.join().unwrap();
    assert_eq!(exit.handled(), 300);
    assert_eq!(exit.report().source().unwrap().counts, {
        let mut counts = SourceCounts::default();
        counts.acked = 300;
        counts
    });
    assert_eq!(seen.closed.load(Ordering::SeqCst), 1);
}

/// Declares no restart of its own: its supervisor restarts it.
#[background_thread]
#[derive(Default)]
struct Plain;

impl BackgroundThread for Plain {
    type Task = Job;
    fn handle(&mut self, job: Job, _: &Context) -> Result<(), BoxError> {
        match job {
            Job::Fail => Err("asked to fail".into()),
            _ => Ok(()),
        }
    }
}

#[test]
fn a_supervised_child_gets_a_fresh_source_with_every_generation() {
    let registry = Registry::new();
    // The first generation's source delivers a task whose error fails the child; the
    // next generation's a task that works.
    let generations = Arc::new(AtomicUsize::new(0));
    let seen = Arc::new(Seen::default());
    let (made, shared) = (Arc::clone(&generations), Arc::clone(&seen));
    let child = Child::fed(Plain::default, move || {
        let first = made.fetch_add(1, Ordering::SeqCst) == 0;
        Memory {
            tasks: vec![if first { Job::Fail } else { Job::Work }],
            seen: Arc::clone(&shared),
            keep_running: false,
            refuse: None,
        }
    });
    let tree = Supervisor::new("fed-tree")
        .child(child)
        .spawn_in(&registry)
        .unwrap();
    wait_until("the second generation's task", || {
        seen.acked.load(Ordering::SeqCst) == 1
    });
    assert_eq!(generations.load(Ordering::SeqCst), 2);
    assert_eq!(*seen.failed.lock().unwrap(), ["asked to fail"]);
    tree.stop();
    tree.join().unwrap();
    // Both generations' sources were closed, each once.
    assert_eq!(seen.closed.load(Ordering::SeqCst), 2);
}
