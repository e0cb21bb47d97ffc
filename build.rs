// When DuckDB is linked from a prebuilt libduckdb.so (the default, see scripts/with-duckdb),
// record its folder as an rpath so the `strata` binary runs without LD_LIBRARY_PATH.
fn main() {
    println!("cargo:rerun-if-env-changed=DUCKDB_LIB_DIR");
    if std::env::var_os("CARGO_FEATURE_BUNDLED").is_some() {
        return;
    }
    if let Ok(dir) = std::env::var("DUCKDB_LIB_DIR") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
    }
}
