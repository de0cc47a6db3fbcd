//! The symbolon binary.
fn main() {}
