//! Rebuild when anything under `assets/` changes, including files that were
//! added (rust-embed's `include_bytes!` only tracks files that existed when
//! the crate was last compiled).
fn main() {
    println!("cargo:rerun-if-changed=assets");
}
