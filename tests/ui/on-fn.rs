use threadward::background_thread;

#[background_thread]
fn worker() {}

fn main() {}
