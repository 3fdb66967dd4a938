//! Time a capture: `cargo run --release -p berth-envcapture --example
//! capture -- DIR [LOWER_DIR...]` (several directories are overlay layers,
//! top first). Prints the summary and the time the capture took.

fn main() {
    let dirs: Vec<std::path::PathBuf> = std::env::args_os().skip(1).map(Into::into).collect();
    if dirs.is_empty() {
        eprintln!("usage: capture DIR [LOWER_DIR...]");
        std::process::exit(2);
    }
    let root = match berth_envcapture::RootFs::layered(&dirs) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    let start = std::time::Instant::now();
    let env = berth_envcapture::capture(&root);
    let took = start.elapsed();
    print!("{}", berth_envcapture::render::summary(&env));
    println!(
        "{} packages captured in {:.1} ms",
        env.package_count(),
        took.as_secs_f64() * 1000.0
    );
}
