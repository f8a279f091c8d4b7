// sqlx::migrate! reads the migrations at compile time but does not tell cargo to watch the
// folders: without this, a new migration file is not in the binary until something else in
// the crate changes.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
