use std::time::Duration;

use threadward::{background_thread, BackgroundThread, BoxError, Context, Declared, MissedTicks, Ticking};

#[background_thread(every = "1m30s", missed = "delay", capacity = 8)]
#[derive(Default)]
struct Flusher;

impl BackgroundThread for Flusher {
    type Task = ();
    fn handle(&mut self, _task: (), _ctx: &Context) -> Result<(), BoxError> {
        Ok(())
    }
}

impl Ticking for Flusher {
    fn tick(&mut self, _ctx: &Context) -> Result<(), BoxError> {
        Ok(())
    }
}

fn main() {
    assert_eq!(Flusher::TIMING.every(), Some(Duration::from_secs(90)));
    assert_eq!(Flusher::TIMING.missed(), MissedTicks::Delay);
}
