use threadward::checkpointed;

#[checkpointed]
const fn work(n: u64) -> u64 {
    n + 1
}

fn main() {}
