//! `#[checkpointed]` on methods: by reference and by value, generic, associated
//! functions, in a trait implementation and as a trait's default body.
use threadward::checkpointed;

struct Tally {
    total: u64,
}

impl Tally {
    #[checkpointed]
    fn new() -> Self {
        Self { total: 0 }
    }

    #[checkpointed]
    fn add_all<I: IntoIterator<Item = u64>>(&mut self, items: I) -> &mut Self {
        for item in items {
            self.total += item;
        }
        self
    }

    #[checkpointed]
    fn into_total(self) -> u64 {
        self.total
    }
}

struct Countdown(u64);

impl Iterator for Countdown {
    type Item = u64;

    #[checkpointed]
    fn next(&mut self) -> Option<u64> {
        while self.0 > 0 {
            self.0 -= 1;
            return Some(self.0);
        }
        None
    }
}

trait Doubled {
    fn value(&self) -> u64;

    #[checkpointed]
    fn doubled(&self) -> u64 {
        let mut result = 0;
        for _ in 0..2 {
            result += self.value();
        }
        result
    }
}

impl Doubled for Tally {
    fn value(&self) -> u64 {
        self.total
    }
}

fn main() {
    let mut tally = Tally::new();
    tally.add_all(Countdown(4)).add_all([10]);
    assert_eq!(tally.doubled(), 32);
    assert_eq!(tally.into_total(), 16);
}
