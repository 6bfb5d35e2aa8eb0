//! pm2's command line, in clap: the same verbs, aliases and flags.

use clap::{Args, Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "pm",
    disable_version_flag = true,
    disable_help_subcommand = true
)]
pub struct Cli {
    /// Print the version.
    #[arg(short = 'v', long = "version", global = true)]
    pub version: bool,
    /// Print nothing but errors.
    #[arg(short = 's', long = "silent", global = true)]
    pub silent: bool,
    /// Show the compact process list instead of the table.
    #[arg(short = 'm', long = "mini-list", global = true)]
    pub mini: bool,
    /// Accepted for pm2 compatibility: output is never coloured when not on a terminal.
    #[arg(long = "no-color", global = true)]
    pub no_color: bool,
    #[command(subcommand)]
    pub command: Option<Cmd>,
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Start an app, an ecosystem file, or a JSON app list (`-` reads it from stdin).
    Start(StartArgs),
    /// Start, or restart the apps that already run.
    #[command(name = "startOrRestart")]
    StartOrRestart(StartArgs),
    #[command(name = "startOrReload")]
    StartOrReload(StartArgs),
    #[command(name = "startOrGracefulReload")]
    StartOrGracefulReload(StartArgs),
    Stop(TargetArgs),
    Restart(TargetArgs),
    Reload(TargetArgs),
    #[command(name = "gracefulReload")]
    GracefulReload(TargetArgs),
    #[command(alias = "del")]
    Delete(TargetArgs),
    /// Reset restart counters.
    Reset(TargetArgs),
    #[command(aliases = ["list", "l", "ps", "status"])]
    Ls(ListArgs),
    Jlist,
    Prettylist,
    #[command(aliases = ["desc", "info", "show"])]
    Describe {
        target: String,
    },
    Logs(LogsArgs),
    Flush {
        target: Option<String>,
    },
    #[command(name = "reloadLogs")]
    ReloadLogs,
    Pid {
        target: Option<String>,
    },
    Ping,
    Kill,
    /// Save the process list for `pm resurrect`.
    #[command(alias = "dump")]
    Save,
    /// Start the apps saved by `pm save`.
    Resurrect,
    /// Add or remove instances: `pm scale web 4`, `+2`, `-1`.
    Scale {
        name: String,
        #[arg(allow_hyphen_values = true)]
        count: String,
    },
    #[command(name = "sendSignal")]
    SendSignal {
        signal: String,
        target: String,
    },
    /// Write a line to the app's stdin.
    Send {
        target: String,
        line: Vec<String>,
    },
    /// Write a sample ecosystem.config.js.
    Init {
        kind: Option<String>,
    },
    /// Run the daemon in this process (started for you by the other commands).
    #[command(hide = true)]
    Daemon,
}

#[derive(Args, Debug, Clone)]
pub struct ListArgs {
    /// Sort by name, id, pid, namespace, status, cpu, memory or uptime (`:desc` reverses).
    #[arg(long)]
    pub sort: Option<String>,
}

#[derive(Args, Debug, Clone)]
pub struct TargetArgs {
    /// ids, names, namespaces, `all`, `/regex/`, a script or an ecosystem file; `-` reads JSON from stdin.
    #[arg(required = true)]
    pub targets: Vec<String>,
    /// Give the app the environment of this shell.
    #[arg(long = "update-env", alias = "update_env")]
    pub update_env: bool,
    #[arg(long)]
    pub env: Option<String>,
    #[arg(long)]
    pub only: Option<String>,
}

#[derive(Args, Debug, Clone)]
pub struct LogsArgs {
    pub target: Option<String>,
    #[arg(long, default_value_t = 15)]
    pub lines: usize,
    #[arg(long)]
    pub nostream: bool,
    #[arg(long)]
    pub raw: bool,
    #[arg(long)]
    pub out: bool,
    #[arg(long)]
    pub err: bool,
    /// Prefix lines with a timestamp (optionally a moment.js format).
    #[arg(long, num_args = 0..=1, default_missing_value = "YYYY-MM-DDTHH:mm:ss")]
    pub timestamp: Option<String>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug, Clone, Default)]
pub struct StartArgs {
    /// A script, an ecosystem file, `-` for JSON on stdin, or the name/id of an app to restart.
    pub script: String,
    #[arg(short = 'n', long)]
    pub name: Option<String>,
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub watch: Option<String>,
    #[arg(long = "ignore-watch")]
    pub ignore_watch: Option<String>,
    #[arg(long = "watch-delay", allow_hyphen_values = true)]
    pub watch_delay: Option<String>,
    #[arg(short = 'i', long, allow_hyphen_values = true)]
    pub instances: Option<String>,
    /// Instances by workload: cpu (cores), io (2 × cores), mixed (1.5 × cores).
    #[arg(long)]
    pub workload: Option<String>,
    #[arg(long)]
    pub env: Option<String>,
    #[arg(long)]
    pub only: Option<String>,
    #[arg(long)]
    pub namespace: Option<String>,
    #[arg(long)]
    pub interpreter: Option<String>,
    #[arg(
        long = "node-args",
        alias = "interpreter-args",
        allow_hyphen_values = true
    )]
    pub node_args: Option<String>,
    #[arg(long)]
    pub cwd: Option<String>,
    #[arg(short = 'l', long = "log")]
    pub log: Option<String>,
    #[arg(short = 'o', long = "output")]
    pub output: Option<String>,
    #[arg(short = 'e', long = "error")]
    pub error: Option<String>,
    #[arg(short = 'p', long = "pid")]
    pub pid: Option<String>,
    #[arg(long)]
    pub time: bool,
    #[arg(long = "log-date-format")]
    pub log_date_format: Option<String>,
    #[arg(long = "log-type")]
    pub log_type: Option<String>,
    #[arg(long = "merge-logs", alias = "combine-logs")]
    pub merge_logs: bool,
    #[arg(long = "disable-logs")]
    pub disable_logs: bool,
    #[arg(long = "no-autorestart")]
    pub no_autorestart: bool,
    #[arg(long = "no-treekill")]
    pub no_treekill: bool,
    #[arg(long = "no-vizion")]
    pub no_vizion: bool,
    #[arg(short = 'f', long)]
    pub force: bool,
    #[arg(long = "update-env")]
    pub update_env: bool,
    #[arg(long = "max-memory-restart", allow_hyphen_values = true)]
    pub max_memory_restart: Option<String>,
    #[arg(long = "cron-restart", alias = "cron", short = 'c')]
    pub cron_restart: Option<String>,
    #[arg(long = "kill-timeout", allow_hyphen_values = true)]
    pub kill_timeout: Option<String>,
    #[arg(long = "restart-delay", allow_hyphen_values = true)]
    pub restart_delay: Option<String>,
    #[arg(long = "exp-backoff-restart-delay", allow_hyphen_values = true)]
    pub exp_backoff_restart_delay: Option<String>,
    #[arg(long = "max-restarts", allow_hyphen_values = true)]
    pub max_restarts: Option<String>,
    #[arg(long = "min-uptime", allow_hyphen_values = true)]
    pub min_uptime: Option<String>,
    #[arg(long = "stop-exit-codes", num_args = 1..)]
    pub stop_exit_codes: Vec<String>,
    #[arg(long = "wait-ready")]
    pub wait_ready: bool,
    #[arg(long = "listen-timeout", allow_hyphen_values = true)]
    pub listen_timeout: Option<String>,
    #[arg(long = "shutdown-with-message")]
    pub shutdown_with_message: bool,
    #[arg(long = "kill-signal")]
    pub kill_signal: Option<String>,
    #[arg(long = "instance-var")]
    pub instance_var: Option<String>,
    #[arg(short = 'x', long = "execute-command")]
    pub execute_command: bool,
    /// Arguments for the script, after `--`.
    #[arg(last = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}
