//! What an operator sees: `ThreadInfo` tracks the last idle wake-up and the last
//! checkpoint, and serialises (with the `serde` feature) to flat JSON.

use std::sync::mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use threadward::{background_thread, BackgroundThread, BoxError, Context, Registry};

const BOUND: Duration = Duration::from_secs(10);

#[background_thread(name = "observed", capacity = 8)]
#[derive(Default)]
struct Observed;

impl BackgroundThread for Observed {
    type Task = mpsc::Sender<()>;
    fn handle(&mut self, done: mpsc::Sender<()>, ctx: &Context) -> Result<(), BoxError> {
        ctx.checkpoint();
        done.send(())?;
        Ok(())
    }
}

#[test]
fn thread_info_tracks_wake_ups_and_checkpoints_and_serialises_flat() {
    let registry = Registry::new();
    let handle = Observed.spawn_in(&registry).unwrap();
    let fresh = handle.info();
    assert_eq!(fresh.last_checkpoint, None);

    // The thread is idle in its queue; this task wakes it.
    std::thread::sleep(Duration::from_millis(20));
    let (done_tx, done) = mpsc::channel();
    handle.send(done_tx).unwrap();
    done.recv_timeout(BOUND).unwrap();
    let info = handle.info();
    assert!(info.last_woken.is_some(), "an idle wake-up was recorded");
    let checkpoint = info.last_checkpoint.expect("a checkpoint was passed");
    assert!(checkpoint.location.file().ends_with("observability.rs"));

    let json = serde_json::to_value(registry.active()).unwrap();
    let record = &json[0];
    assert_eq!(record["name"], "observed");
    assert_eq!(record["id"], handle.id().as_u64());
    assert_eq!(record["state"], "running");
    assert_eq!(record["handled"], 1);
    assert_eq!(record["queue_depth"], 0);
    assert!(record["type_name"].as_str().unwrap().ends_with("Observed"));
    let now_ms = u64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap();
    let started = record["started_at_unix_ms"].as_u64().unwrap();
    assert!(started <= now_ms && now_ms - started < 60_000, "{record}");
    assert!(record["last_woken_ms_ago"].as_f64().unwrap() >= 0.0);
    assert!(record["last_checkpoint"]["file"]
        .as_str()
        .unwrap()
        .ends_with("observability.rs"));
    assert_eq!(
        record["last_checkpoint"]["line"],
        checkpoint.location.line()
    );
    assert!(record["last_checkpoint"]["ms_ago"].as_f64().unwrap() >= 0.0);

    handle.stop();
    handle.join_timeout(BOUND).unwrap();
}
