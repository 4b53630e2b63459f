//! Compile-time tests of `#[background_thread]`: every misuse in `tests/ui/*.rs` must fail
//! with the error in its `.stderr` file, and every program in `tests/ui/pass/` must build.
//! Regenerate the `.stderr` files with `TRYBUILD=overwrite cargo test --test compile`
//! and read them before committing.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/pass/*.rs");
    cases.compile_fail("tests/ui/*.rs");
}
