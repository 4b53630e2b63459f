//! The "nothing is lost" promise through supervision: senders keep sending to a
//! one-for-all tree whose children fail on some tasks, so that every failure stops and
//! restarts the siblings while tasks are queued and sends race the restarts; then the
//! tree is stopped. Every task whose send returned `Ok` is handled or returned to
//! whoever joins its generation, exactly once; every refused send hands its task back.

mod restarting;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use restarting::{wait_for, BOUND};
use threadward::{
    background_thread, AnyHandle, BackgroundThread, BoxError, Child, Context, Handle, Registry,
    Strategy, Supervisor,
};

const SENDERS: u64 = 4;
const PER_SENDER: u64 = 3_000;
/// Every task whose id is a multiple of this fails the generation that handles it.
const POISON: u64 = 97;

#[background_thread]
struct Counter {
    handled: Arc<Mutex<Vec<u64>>>,
}

impl BackgroundThread for Counter {
    type Task = u64;
    fn handle(&mut self, id: u64, _: &Context) -> Result<(), BoxError> {
        self.handled.lock().unwrap().push(id);
        if id % POISON == 0 {
            return Err(format!("poison {id}").into());
        }
        Ok(())
    }
}

#[test]
fn every_accepted_task_is_handled_or_returned_once_through_one_for_all_cascades() {
    let registry = Registry::new();
    let handled = Arc::new(Mutex::new(Vec::new()));
    let made = Arc::clone(&handled);
    let tree = Supervisor::new("counters")
        .strategy(Strategy::OneForAll)
        .intensity(10_000, Duration::from_secs(600))
        .backoff(Duration::ZERO)
        .child(Child::new(move || Counter {
            handled: Arc::clone(&made),
        }))
        .child(Child::new({
            let made = Arc::clone(&handled);
            move || Counter {
                handled: Arc::clone(&made),
            }
        }))
        .spawn_in(&registry)
        .unwrap();

    // Every generation a sender used, to join them all at the end.
    let generations: Arc<Mutex<Vec<AnyHandle>>> = Arc::default();
    // A cascade first, for certain (the senders' poison tasks race more of them): the
    // first generation fails on a poison task and is replaced.
    let first = tree.call(|t, _| t.running()).unwrap();
    generations.lock().unwrap().extend(first.iter().cloned());
    let first_ids: HashSet<_> = first.iter().map(AnyHandle::id).collect();
    let poison = POISON * 1_000_000;
    let child: Handle<Counter> = first[0].clone().downcast().ok().unwrap();
    child.send(poison).unwrap();
    wait_for(
        || {
            let running = tree.call(|t, _| t.running()).unwrap();
            running.len() == 2 && running.iter().all(|c| !first_ids.contains(&c.id()))
        },
        "the first cascade",
    );
    let senders: Vec<_> = (0..SENDERS)
        .map(|sender| {
            let tree = tree.clone();
            let generations = Arc::clone(&generations);
            std::thread::spawn(move || send_all(sender, &tree, &generations))
        })
        .collect();
    let mut accepted = vec![poison];
    for sender in senders {
        accepted.extend(sender.join().unwrap());
    }

    tree.stop();
    assert!(tree.join_timeout(BOUND).unwrap().outcome().is_clean());
    let mut returned = Vec::new();
    let generations = generations.lock().unwrap().clone();
    let mut seen = HashSet::new();
    for generation in generations.into_iter().filter(|g| seen.insert(g.id())) {
        let typed: Handle<Counter> = generation.downcast().ok().unwrap();
        // A generation an earlier join took has nothing left to return.
        if let Ok(exit) = typed.join_timeout(BOUND) {
            returned.extend(exit.into_undelivered());
        }
    }
    assert!(seen.len() > 2, "a failure restarted the children");

    let handled = handled.lock().unwrap().clone();
    let mut books = HashSet::new();
    for id in handled.iter().chain(&returned) {
        assert!(books.insert(*id), "task {id} came back twice");
    }
    let accepted: HashSet<u64> = accepted.into_iter().collect();
    assert_eq!(
        books, accepted,
        "every accepted task is handled or returned"
    );
    assert_eq!(
        accepted.len() as u64,
        SENDERS * PER_SENDER + 1,
        "every task was accepted in the end"
    );
}

/// Sends the ids of `sender` to the tree's children, one after another; a refused send
/// hands its task back, which is sent again to a later generation. The ids accepted.
fn send_all(
    sender: u64,
    tree: &Handle<Supervisor>,
    generations: &Mutex<Vec<AnyHandle>>,
) -> Vec<u64> {
    let mut accepted = Vec::new();
    let mut children: Vec<Handle<Counter>> = Vec::new();
    let started = std::time::Instant::now();
    for id in sender * PER_SENDER..(sender + 1) * PER_SENDER {
        let mut task = id;
        loop {
            assert!(started.elapsed() < BOUND, "sending took too long");
            if children.is_empty() {
                let running = tree.call(|t, _| t.running()).unwrap();
                generations.lock().unwrap().extend(running.iter().cloned());
                children = running
                    .into_iter()
                    .filter_map(|child| child.downcast().ok())
                    .collect();
                if children.is_empty() {
                    std::thread::yield_now();
                    continue;
                }
            }
            let at = usize::try_from(task).unwrap() % children.len();
            match children[at].send(task) {
                Ok(()) => {
                    accepted.push(id);
                    break;
                }
                Err(refused) => {
                    task = refused.into_inner();
                    assert_eq!(task, id, "a refused send hands its own task back");
                    children.clear();
                }
            }
        }
    }
    accepted
}
