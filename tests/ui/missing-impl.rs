use threadward::background_thread;

#[background_thread]
#[derive(Default)]
struct Worker;

fn main() {}
