//! A development daemon binary (shim dispatch + daemon), for testing the
//! daemon without the full CLI: `berthd <socket> <data-root> <exec-root>`.

fn main() {
    let args: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    if berth_runtime::shim::is_shim_invocation(&args) {
        berth_runtime::shim::main(&args);
    }
    if args.len() != 4 {
        eprintln!("usage: berthd <socket> <data-root> <exec-root>");
        std::process::exit(2);
    }
    berth_daemon::init_logging("info");
    let shim_exe = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("current_exe: {e}");
            std::process::exit(1);
        }
    };
    let cfg = berth_daemon::DaemonConfig {
        socket: args[1].clone().into(),
        data_root: args[2].clone().into(),
        exec_root: args[3].clone().into(),
        shim_exe,
        daemon_log: None,
        registry: Default::default(),
    };
    if let Err(e) = berth_daemon::run(cfg) {
        eprintln!("berthd: {e}");
        std::process::exit(1);
    }
}
