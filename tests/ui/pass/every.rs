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

// Declared through a `macro_rules!` expansion: the generated `tick` call must still
// see its own `self` and `ctx`.
macro_rules! ticking_thread {
    ($name:ident, $($attribute:tt)*) => {
        #[background_thread($($attribute)*)]
        struct $name;

        impl BackgroundThread for $name {
            type Task = ();
            fn handle(&mut self, _task: (), _ctx: &Context) -> Result<(), BoxError> {
                Ok(())
            }
        }

        impl Ticking for $name {
            fn tick(&mut self, _ctx: &Context) -> Result<(), BoxError> {
                Ok(())
            }
        }
    };
}

ticking_thread!(FromMacro, every = "5s");

fn main() {
    assert_eq!(FromMacro::TIMING.every(), Some(Duration::from_secs(5)));
    assert_eq!(Flusher::TIMING.every(), Some(Duration::from_secs(90)));
    assert_eq!(Flusher::TIMING.missed(), MissedTicks::Delay);
}
