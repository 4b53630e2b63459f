//! Nothing here: the console's browser tests are in `tests/`, in a crate of their own
//! because their `WebDriver` client needs a newer Rust than threadward's crates.
