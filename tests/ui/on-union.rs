use threadward::background_thread;

#[background_thread]
union Worker {
    bits: u32,
}

fn main() {}
