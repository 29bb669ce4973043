// New migration folders must be embedded without a `cargo clean`.
fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}
