//! `singleton`: while a thread of the type is alive in a registry, another `spawn` of
//! it fails with `AlreadyRunning` and hands the value back; of racing spawns exactly
//! one wins; once the thread has ended, a new one starts; registries are separate.
//! Every wait is bounded.

use std::sync::{Arc, Barrier};
use std::time::Duration;

use threadward::{background_thread, BackgroundThread, BoxError, Context, Registry, SpawnFailure};

const BOUND: Duration = Duration::from_secs(30);

#[background_thread(singleton)]
#[derive(Default)]
struct Janitor {
    tag: u32,
}

impl BackgroundThread for Janitor {
    type Task = ();
    fn handle(&mut self, (): (), _ctx: &Context) -> Result<(), BoxError> {
        Ok(())
    }
}

#[test]
fn a_second_copy_is_refused_with_its_value_back_until_the_first_has_ended() {
    let registry = Registry::new();
    let first = Janitor { tag: 1 }.spawn_in(&registry).unwrap();
    let refused = Janitor { tag: 2 }.spawn_in(&registry).unwrap_err();
    match refused.failure() {
        SpawnFailure::AlreadyRunning { name, id } => {
            assert_eq!((*name, *id), ("janitor", first.id()));
        }
        other => panic!("expected AlreadyRunning, got {other:?}"),
    }
    assert!(refused.to_string().contains("already running"), "{refused}");
    assert_eq!(refused.into_inner().tag, 2, "the value is handed back");

    // Another registry is another world.
    let elsewhere = Registry::new();
    let other = Janitor { tag: 3 }.spawn_in(&elsewhere).unwrap();

    first.stop();
    first.join_timeout(BOUND).unwrap();
    let second = Janitor { tag: 4 }.spawn_in(&registry).unwrap();
    assert_eq!(second.call(|j, _| j.tag).unwrap(), 4);
    for handle in [second, other] {
        handle.stop();
        handle.join_timeout(BOUND).unwrap();
    }
}

#[test]
fn of_racing_spawns_exactly_one_wins() {
    const RACERS: usize = 8;
    for _ in 0..20 {
        let registry = Registry::new();
        let start = Arc::new(Barrier::new(RACERS));
        let results: Vec<_> = (0..RACERS)
            .map(|tag| {
                let (registry, start) = (registry.clone(), Arc::clone(&start));
                std::thread::spawn(move || {
                    start.wait();
                    Janitor {
                        tag: u32::try_from(tag).unwrap(),
                    }
                    .spawn_in(&registry)
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|racer| racer.join().unwrap())
            .collect();
        let winners: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
        assert_eq!(winners.len(), 1, "one and only one singleton");
        for refused in results.iter().filter_map(|r| r.as_ref().err()) {
            assert!(matches!(
                refused.failure(),
                SpawnFailure::AlreadyRunning { .. }
            ));
        }
        registry.stop_all();
        winners[0].join_timeout(BOUND).unwrap();
    }
}
