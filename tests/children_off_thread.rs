//! `Context` is `Clone + Send`: `spawn_child` through a context kept past its thread's
//! end (or used on another thread) is refused, the child handed back, so no child
//! is tied to a thread that cannot stop it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use threadward::{background_thread, BackgroundThread, BoxError, Context, Registry};

#[background_thread]
struct Leaf;
impl BackgroundThread for Leaf {
    type Task = ();
    fn handle(&mut self, (): (), _: &Context) -> Result<(), BoxError> {
        Ok(())
    }
}

#[background_thread]
struct Parent {
    kept: Arc<Mutex<Option<Context>>>,
}
impl BackgroundThread for Parent {
    type Task = ();
    fn startup(&mut self, ctx: &Context) -> Result<(), BoxError> {
        *self.kept.lock().unwrap() = Some(ctx.clone());
        Ok(())
    }
    fn handle(&mut self, (): (), _: &Context) -> Result<(), BoxError> {
        Ok(())
    }
}

#[test]
fn spawn_child_through_the_context_of_an_ended_thread_is_refused() {
    let registry = Registry::new();
    let kept = Arc::new(Mutex::new(None));
    let parent = Parent {
        kept: Arc::clone(&kept),
    }
    .spawn_in(&registry)
    .unwrap();
    parent.stop();
    parent.join_timeout(Duration::from_secs(10)).unwrap();
    let ctx = kept.lock().unwrap().take().unwrap();
    let child = ctx.spawn_child(Leaf);
    if let Err(refused) = &child {
        assert!(
            matches!(
                refused.failure(),
                threadward::SpawnFailure::NotOnParentThread { .. }
            ),
            "{refused}"
        );
        assert!(registry.is_empty());
    }
    if let Ok(child) = &child {
        let alive = child.is_alive();
        let parent_id = child.info().parent;
        child.stop();
        let _ = child.join_timeout(Duration::from_secs(10));
        panic!("spawn_child on an ended parent succeeded: child alive = {alive}, its parent = {parent_id:?} (ended)");
    }
}
