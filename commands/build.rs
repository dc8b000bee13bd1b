//! `sqlx::migrate!` embeds the migrations at compile time; this makes a new or changed
//! file under `migrations/` rebuild the crate that embeds them.
fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}
