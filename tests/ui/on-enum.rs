use threadward::background_thread;

#[background_thread]
enum Worker {
    Idle,
}

fn main() {}
