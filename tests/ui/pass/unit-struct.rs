use threadward::{background_thread, BackgroundThread, BoxError, Context};

#[background_thread]
struct Ticker;

impl BackgroundThread for Ticker {
    type Task = ();
    fn handle(&mut self, _tick: (), _ctx: &Context) -> Result<(), BoxError> {
        Ok(())
    }
}

// `create` constructs it with `Default`.
impl Default for Ticker {
    fn default() -> Self {
        Ticker
    }
}

fn main() {
    let ticker = Ticker.spawn().unwrap();
    ticker.send(()).unwrap();
    ticker.stop();
    ticker.join().unwrap();
}
