//! A minimal executable that only runs the shim (`berth-runtime-shim shim <dir> <exec-root>`),
//! used by this crate's integration tests; the real entry point is `berth shim`.

fn main() {
    let args: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    if berth_runtime::shim::is_shim_invocation(&args) {
        berth_runtime::shim::main(&args);
    }
    eprintln!("usage: berth-runtime-shim shim <container-dir> [<exec-root>]");
    std::process::exit(2);
}
