use threadward::checkpointed;

#[checkpointed]
struct Work {
    rows: Vec<u64>,
}

fn main() {}
