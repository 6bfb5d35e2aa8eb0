//! The `pm` binary: the CLI, or, for the hidden `pm daemon` sub-command the CLI spawns, the
//! daemon, or the container runtime (`pm runtime`, and the binary named `pm-runtime` or
//! `pm-docker`). Choosing here keeps the CLI a client that reaches the daemon only through its
//! socket.

use pm_native::cli::{self, args::Cmd};
use pm_native::config::Home;

fn main() {
    // `pm-runtime` and `pm-docker` are this same binary under another name (pm2's bins).
    let mut argv = std::env::args_os();
    if let Some(name) = argv
        .next()
        .as_deref()
        .and_then(pm_native::runtime::is_runtime_name)
    {
        std::process::exit(pm_native::runtime::main(name, argv.collect()));
    }
    let code = match cli::parse() {
        Err(code) => code,
        Ok(args) => match &args.command {
            Some(Cmd::Daemon { resurrect }) if !args.version => daemon(*resurrect),
            Some(Cmd::Keeper) if !args.version => {
                pm_native::keeper::serve::main(&Home::from_env().root)
            }
            Some(Cmd::Runtime { args: rest }) if !args.version => pm_native::runtime::main(
                "pm runtime",
                rest.iter().cloned().map(Into::into).collect(),
            ),
            _ => cli::main(args),
        },
    };
    std::process::exit(code);
}

fn daemon(resurrect: bool) -> i32 {
    match pm_native::daemon::main(Home::from_env(), resurrect) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("[PM2][ERROR] {}", cli::one_line(&e));
            1
        }
    }
}
