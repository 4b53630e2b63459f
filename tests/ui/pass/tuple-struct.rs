use threadward::{background_thread, BackgroundThread, BoxError, Context, Declared};

#[background_thread(capacity = 1)]
#[derive(Default)]
struct Counter(u64);

impl BackgroundThread for Counter {
    type Task = u64;
    fn handle(&mut self, n: u64, _ctx: &Context) -> Result<(), BoxError> {
        self.0 += n;
        Ok(())
    }
}

fn main() {
    assert_eq!(Counter::NAME, "counter");
    let counter = Counter::default().spawn().unwrap();
    counter.send(2).unwrap();
    counter.send(3).unwrap();
    assert_eq!(counter.call(|c, _| c.0).unwrap(), 5);
    counter.stop();
    counter.join().unwrap();
}
