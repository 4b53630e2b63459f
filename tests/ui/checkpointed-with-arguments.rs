use threadward::checkpointed;

#[checkpointed(every = 10)]
fn work() {
    loop {}
}

fn main() {}
