//! `embed_migrations!` reads `migrations/` at compile time, but cargo only knows to recompile
//! when Rust sources change: without this, a new migration folder would be left out of the
//! binary until some source file of the crate changed too.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
