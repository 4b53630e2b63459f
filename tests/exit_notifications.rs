//! Exit notifications: `on_exit`/`monitor` on a handle and on a registry tell of every
//! ended thread exactly once, without polling; a handle's subscription made after the
//! end fires at once. Every wait is bounded.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Barrier, Mutex};
use std::time::Duration;

use threadward::{
    background_thread, BackgroundThread, BoxError, Context, Outcome, Registry, ThreadId,
};

const BOUND: Duration = Duration::from_secs(30);

#[background_thread]
struct Refuses;

impl BackgroundThread for Refuses {
    type Task = ();
    fn startup(&mut self, _ctx: &Context) -> Result<(), BoxError> {
        Err("no config".into())
    }
    fn handle(&mut self, (): (), _ctx: &Context) -> Result<(), BoxError> {
        Ok(())
    }
}

#[test]
fn a_handle_is_told_once_when_its_thread_ends_and_at_once_after() {
    let registry = Registry::new();
    let (told, heard) = mpsc::channel();
    let waiter = threadward::thread("waiter")
        .spawn_in(&registry, |ctx| {
            while ctx.sleep(Duration::from_secs(60)) {}
            Ok(())
        })
        .unwrap();
    let first = told.clone();
    waiter.on_exit(move |exit| first.send(exit.id()).unwrap());
    let monitor = waiter.monitor();
    assert!(heard.try_recv().is_err(), "told before it ended");
    waiter.stop();
    assert_eq!(heard.recv_timeout(BOUND).unwrap(), waiter.id());
    let exit = monitor.recv_timeout(BOUND).unwrap();
    assert!(matches!(exit.outcome(), Outcome::Stopped));
    // After the end: told at once, here.
    waiter.on_exit(move |exit| told.send(exit.id()).unwrap());
    assert_eq!(heard.try_recv().unwrap(), waiter.id());
    let any = registry.get(waiter.id());
    assert!(any.is_none(), "an ended thread left the registry");
    assert!(waiter.to_any().monitor().try_recv().is_ok());
    // Exactly once each.
    waiter.join_timeout(BOUND).unwrap();
    assert!(heard.try_recv().is_err());
    assert!(monitor.try_recv().is_err());
}

#[test]
fn a_subscription_racing_the_end_is_told_exactly_once() {
    for _ in 0..200 {
        let barrier = Arc::new(Barrier::new(2));
        let gate = Arc::clone(&barrier);
        let brief = threadward::thread("brief")
            .spawn_in(&Registry::new(), move |_ctx| {
                gate.wait();
                Ok(())
            })
            .unwrap();
        let told = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&told);
        barrier.wait(); // the body returns as the subscription is made
        brief.on_exit(move |_| {
            counted.fetch_add(1, Ordering::SeqCst);
        });
        brief.join_timeout(BOUND).unwrap();
        assert_eq!(told.load(Ordering::SeqCst), 1);
    }
}

#[test]
fn a_registry_tells_of_every_thread_that_ends_once_however_it_ends() {
    let registry = Registry::new();
    let exits = registry.monitor();
    let seen: Arc<Mutex<HashMap<ThreadId, usize>>> = Arc::default();
    let counted = Arc::clone(&seen);
    registry.on_exit(move |exit| {
        *counted.lock().unwrap().entry(exit.id()).or_default() += 1;
    });
    let mut ids = Vec::new();
    for n in 0..16u32 {
        let thread = threadward::thread("worker")
            .spawn_in(&registry, move |_ctx| {
                if n % 4 == 0 {
                    Err("odd job".into())
                } else {
                    Ok(())
                }
            })
            .unwrap();
        ids.push(thread.id());
    }
    // A startup that fails and a stop during a delay are told too.
    let refused = Refuses.spawn_in(&registry).unwrap_err();
    drop(refused);
    let delayed = threadward::thread("delayed")
        .delay(Duration::from_secs(3600))
        .spawn_in(&registry, |_ctx| Ok(()))
        .unwrap();
    delayed.stop();
    ids.push(delayed.id());

    let mut outcomes = HashMap::new();
    for _ in 0..18 {
        let exit = exits.recv_timeout(BOUND).unwrap();
        *outcomes.entry(exit.outcome().to_string()).or_insert(0) += 1;
    }
    assert_eq!(outcomes["failed: odd job"], 4);
    assert_eq!(outcomes["stopped"], 12);
    assert_eq!(outcomes["stopped before it started"], 1);
    assert_eq!(outcomes.len(), 4, "{outcomes:?}"); // and the refused startup
    assert!(exits.recv_timeout(Duration::from_millis(50)).is_err());
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 18);
    assert!(seen.values().all(|&told| told == 1));
    assert!(ids.iter().all(|id| seen.contains_key(id)));
}

#[test]
fn a_panicking_or_subscribing_watcher_does_not_keep_the_others_from_being_told() {
    let registry = Registry::new();
    registry.on_exit(|_| panic!("a broken watcher"));
    let inner = registry.clone();
    let (told, heard) = mpsc::channel();
    registry.on_exit(move |_| {
        // Subscribing from a watcher does not deadlock.
        let told = told.clone();
        inner.on_exit(move |exit| {
            let _ = told.send(exit.id());
        });
    });
    let exits = registry.monitor();
    let first = threadward::thread("first")
        .spawn_in(&registry, |_ctx| Ok(()))
        .unwrap();
    assert_eq!(exits.recv_timeout(BOUND).unwrap().id(), first.id());
    let second = threadward::thread("second")
        .spawn_in(&registry, |_ctx| Ok(()))
        .unwrap();
    assert_eq!(exits.recv_timeout(BOUND).unwrap().id(), second.id());
    assert_eq!(heard.recv_timeout(BOUND).unwrap(), second.id());
    // A dropped receiver ends its subscription; the next exit is still told to the rest.
    drop(exits);
    let third = threadward::thread("third")
        .spawn_in(&registry, |_ctx| Ok(()))
        .unwrap();
    third.join_timeout(BOUND).unwrap();
    let mut heard_third = false;
    while let Ok(id) = heard.try_recv() {
        heard_third |= id == third.id();
    }
    assert!(heard_third);
}
