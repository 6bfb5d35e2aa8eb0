//! Container mode: `pm-runtime` (also `pm-docker` and `pm runtime`), pm2-runtime's replacement
//! (pm2's lib/binaries/Runtime4Docker.js). It stays in the foreground with no daemon of its own:
//! the apps' output goes to its stdout and stderr, the stop signals of `docker stop` stop the
//! apps as `pm stop` would, and it exits once they are gone.
//!
//! Two processes, so that each job stays simple:
//!
//! - `init`: the process the container starts (PID 1, or a subreaper elsewhere). It reaps
//!   every zombie and forwards signals to its one child, then exits with that child's status.
//! - [`supervise`]: that child. It runs the daemon's own code in the foreground
//!   ([`crate::daemon::run`]) on a private home, starts the apps through the CLI's `start`,
//!   echoes the bus's log lines ([`echo`]) and decides when to exit and with which code.

mod apps;
mod echo;
mod init;
mod supervise;

use std::ffi::OsString;

use clap::Parser;

use crate::cli::args::StartArgs;

/// pm2-runtime's flags, plus every `pm start` flag (they work the same).
#[derive(Parser, Debug)]
#[command(
    name = "pm-runtime",
    version = crate::protocol::VERSION,
    about = "pm-runtime runs apps in the foreground, as a container's main process",
    override_usage = "pm-runtime [start] <app.js|ecosystem file> [options]"
)]
pub struct Args {
    #[command(flatten)]
    pub start: StartArgs,
    /// Output logs in JSON, one object a line.
    #[arg(long)]
    pub json: bool,
    /// Output logs as key=value.
    #[arg(long)]
    pub format: bool,
    /// Raw output (the default).
    #[arg(long)]
    pub raw: bool,
    /// Prefix every line with `id|name |`.
    #[arg(long)]
    pub formatted: bool,
    /// Keep running when every app has stopped or errored.
    #[arg(long = "no-auto-exit")]
    pub no_auto_exit: bool,
    /// Wait this many seconds before starting the apps.
    #[arg(long, allow_hyphen_values = true)]
    pub delay: Option<String>,
    /// PM2 Plus monitoring (not supported: warns). `--secret` is pm-native's own (a variable to
    /// mask), as in `pm start`.
    #[arg(long, num_args = 0..=1, default_missing_value = "")]
    pub public: Option<String>,
    #[arg(long = "machine-name", num_args = 0..=1, default_missing_value = "")]
    pub machine_name: Option<String>,
    #[arg(long)]
    pub trace: bool,
    #[arg(long)]
    pub v8: bool,
    #[arg(long = "deep-monitoring")]
    pub deep_monitoring: bool,
    /// pm2's process web API (not supported: warns).
    #[arg(long, num_args = 0..=1, default_missing_value = "9615")]
    pub web: Option<String>,
}

/// The entry for `pm-runtime`, `pm-docker` and `pm runtime`: `prog` is what usage lines call
/// the command. Returns only on bad input; otherwise the process exits from [`init`] once
/// the apps are gone.
pub fn main(prog: &str, mut args: Vec<OsString>) -> i32 {
    // pm2-runtime takes both `pm2-runtime app.js` and `pm2-runtime start app.js`.
    if args.first().is_some_and(|a| a == "start") {
        args.remove(0);
    }
    if args.is_empty() {
        let _ = Args::command_for(prog).print_help();
        return 1;
    }
    let parsed = match Args::command_for(prog)
        .try_get_matches_from(std::iter::once(OsString::from(prog)).chain(args))
    {
        Ok(m) => <Args as clap::FromArgMatches>::from_arg_matches(&m),
        Err(e) => Err(e),
    };
    let args = match parsed {
        Ok(a) => a,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                let _ = e.print();
                return 0;
            }
            let text = e.render().to_string();
            let first = text.lines().next().unwrap_or("bad arguments");
            elog!("[PM2][ERROR] {}", first.trim_start_matches("error: "));
            return 1;
        }
    };
    let plan = match supervise::Plan::new(args) {
        Ok(p) => p,
        Err(e) => {
            elog!("[PM2][ERROR] {e:#}");
            return 1;
        }
    };
    if let Err(e) = init::split() {
        elog!("[PM2][ERROR] cannot start the supervisor: {e}");
        return 1;
    }
    let code = supervise::run(plan);
    std::process::exit(code)
}

impl Args {
    fn command_for(prog: &str) -> clap::Command {
        <Args as clap::CommandFactory>::command().bin_name(prog.to_string())
    }
}

/// Whether this binary was started under one of the runtime's names.
pub fn is_runtime_name(argv0: &std::ffi::OsStr) -> Option<&'static str> {
    let name = std::path::Path::new(argv0).file_name()?;
    ["pm-runtime", "pm-docker"].into_iter().find(|n| name == *n)
}
