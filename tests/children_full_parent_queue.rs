//! A parent with a bounded queue that is full stops and joins its own child: the
//! child's exit notice never waits for room in the parent's queue, so the join returns.

use std::sync::mpsc;
use std::time::Duration;

use threadward::{background_thread, BackgroundThread, BoxError, Context, Handle};

#[background_thread]
struct Leaf;
impl BackgroundThread for Leaf {
    type Task = ();
    fn handle(&mut self, (): (), _: &Context) -> Result<(), BoxError> {
        Ok(())
    }
}

enum Job {
    /// Waits on the gate, then stops and joins the child.
    StopJoin(mpsc::Receiver<()>),
    Noop,
}

#[background_thread(capacity = 1)]
struct Parent {
    child: Option<Handle<Leaf>>,
    picked: mpsc::Sender<()>,
    joined: mpsc::Sender<bool>,
}

impl BackgroundThread for Parent {
    type Task = Job;
    fn startup(&mut self, ctx: &Context) -> Result<(), BoxError> {
        self.child = Some(ctx.spawn_child(Leaf)?);
        Ok(())
    }
    fn handle(&mut self, job: Job, _: &Context) -> Result<(), BoxError> {
        if let Job::StopJoin(gate) = job {
            let _ = self.picked.send(());
            let _ = gate.recv_timeout(Duration::from_secs(10));
            let child = self.child.take().unwrap();
            child.stop();
            let _ = self
                .joined
                .send(child.join_timeout(Duration::from_secs(3)).is_ok());
        }
        Ok(())
    }
    fn child_exited(&mut self, _: &threadward::ExitReport, _: &Context) -> Result<(), BoxError> {
        Ok(())
    }
}

#[test]
fn parent_with_a_full_bounded_queue_can_join_its_stopped_child() {
    let (picked_tx, picked) = mpsc::channel();
    let (joined_tx, joined) = mpsc::channel();
    let parent = Parent {
        child: None,
        picked: picked_tx,
        joined: joined_tx,
    }
    .spawn()
    .unwrap();
    let (open, gate) = mpsc::channel();
    parent.send(Job::StopJoin(gate)).unwrap();
    picked.recv_timeout(Duration::from_secs(10)).unwrap();
    // The queue (capacity 1) is full now: a normal state under load.
    parent.send(Job::Noop).unwrap();
    open.send(()).unwrap();
    let ok = joined.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(ok, "join_timeout(3s) of a stopped child timed out: its exit notice is stuck on the parent's full queue");
    parent.stop();
    parent.join_timeout(Duration::from_secs(10)).unwrap();
}
