//! `sqlx::migrate!` embeds the migrations when this crate compiles, but
//! cargo does not know it reads them: without this, an incremental build
//! after a migration was added would serve a binary without it.
fn main() {
    println!("cargo::rerun-if-changed=../migrations");
}
