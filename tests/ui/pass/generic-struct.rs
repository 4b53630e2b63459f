//! Generic structs can run, but get no factory entry: `create` needs one concrete type.
use threadward::{background_thread, BackgroundThread, BoxError, Context, Declared};

#[background_thread(capacity = 4)]
struct Collector<T> {
    items: Vec<T>,
}

impl<T: Send + 'static> BackgroundThread for Collector<T> {
    type Task = T;
    fn handle(&mut self, item: T, _ctx: &Context) -> Result<(), BoxError> {
        self.items.push(item);
        Ok(())
    }
}

fn main() {
    assert_eq!(<Collector<u8>>::NAME, "collector");
    assert!(!threadward::factory_names().contains(&"collector"));

    let numbers = Collector::<u32> { items: Vec::new() }.spawn().unwrap();
    let words = Collector::<String> { items: Vec::new() }.spawn().unwrap();
    numbers.send(7).unwrap();
    words.send("seven".to_owned()).unwrap();
    assert_eq!(numbers.call(|c, _| c.items.clone()).unwrap(), [7]);
    assert_eq!(words.call(|c, _| c.items.clone()).unwrap(), ["seven"]);
    numbers.stop();
    words.stop();
    numbers.join().unwrap();
    words.join().unwrap();
}
