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
    // pm2.io switches, accepted so pm2 command lines keep working (see `tolerated`).
    #[command(flatten)]
    pub pm2io: Pm2ioFlags,
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
    /// Start, or gracefully reload the apps that already run.
    #[command(name = "startOrReload")]
    StartOrReload(StartArgs),
    /// Start, or gracefully reload the apps that already run.
    #[command(name = "startOrGracefulReload")]
    StartOrGracefulReload(StartArgs),
    /// Stop processes.
    Stop(TargetArgs),
    /// Restart processes.
    Restart(TargetArgs),
    /// Reload processes with no downtime, one instance at a time.
    Reload(TargetArgs),
    /// Reload processes with no downtime (the same as reload).
    #[command(name = "gracefulReload")]
    GracefulReload(TargetArgs),
    /// Stop processes and remove them from the list.
    #[command(alias = "del")]
    Delete(TargetArgs),
    /// Reset restart counters.
    Reset(TargetArgs),
    /// List all processes.
    #[command(aliases = ["list", "l", "ps", "status"])]
    Ls(ListArgs),
    /// List all processes in JSON.
    Jlist,
    /// List all processes as pm2 prints them (util.inspect).
    Prettylist,
    /// List system information (memory) as pm2 prints it.
    #[command(alias = "sysinfos")]
    Slist {
        /// Accepted for pm2 compatibility; the list is always printed as an object.
        #[arg(short = 't', long)]
        tree: bool,
    },
    /// Describe all parameters of a process.
    #[command(aliases = ["desc", "info", "show"])]
    Describe {
        target: String,
        #[arg(hide = true)]
        extra: Vec<String>,
    },
    /// List the environment of a process id.
    Env {
        id: String,
        #[arg(hide = true)]
        extra: Vec<String>,
    },
    /// Print the ids of the processes with this name.
    Id {
        name: String,
        #[arg(hide = true)]
        extra: Vec<String>,
    },
    /// Inspect a process (pm2's inspector toggle, which needs @pm2/io).
    Inspect {
        name: String,
        #[arg(hide = true)]
        extra: Vec<String>,
    },
    /// Call an action an app registered with @pm2/io's io.action(), print each reply.
    Trigger {
        target: String,
        action: String,
        params: Vec<String>,
    },
    /// A diagnostics report for bug reports (secrets in the environment masked).
    Report,
    /// Stream or print logs.
    Logs(LogsArgs),
    /// Attach this terminal to a process: its output here, each line typed to its stdin.
    Attach {
        pm_id: String,
        /// Sent after each line instead of a newline (pm2's command separator).
        separator: Option<String>,
    },
    /// Serve Prometheus metrics on http://127.0.0.1:9209/metrics (kept across daemon restarts).
    Metrics(super::observe::ServeArgs),
    /// A terminal dashboard: processes, their logs and metrics; keys to act on them.
    #[command(aliases = ["imonit", "dash"])]
    Monit,
    /// Serve the web dashboard on 127.0.0.1 behind a token (kept across daemon restarts).
    Dashboard(super::observe::ServeArgs),
    /// Empty the log files.
    Flush {
        target: Option<String>,
        #[arg(hide = true)]
        extra: Vec<String>,
    },
    /// Reopen all log files (after an external rotation).
    #[command(name = "reloadLogs")]
    ReloadLogs,
    /// Print the pid of an app, or of all.
    Pid {
        target: Option<String>,
        #[arg(hide = true)]
        extra: Vec<String>,
    },
    /// Ping the daemon; starts it if it is not running.
    Ping,
    /// Stop every process and the daemon.
    Kill,
    /// Save the process list for `pm resurrect` (the previous one is kept as dump.pm2.bak).
    #[command(alias = "dump")]
    Save {
        /// Save even an empty list over the saved one.
        #[arg(long)]
        force: bool,
    },
    /// Start the apps saved by `pm save`, or those of a pm2 dump.pm2.
    Resurrect {
        /// A dump file to read instead of the home's (pm2's own dump.pm2 works too).
        path: Option<String>,
    },
    /// Empty the saved process list.
    Cleardump,
    /// Save the list, restart the daemon (a new pm binary takes over) and resurrect.
    #[command(alias = "updatePM2")]
    Update,
    /// Install a system logrotate configuration for this home's logs (as root).
    Logrotate {
        /// The user the logs belong to (default root).
        #[arg(short = 'u', long)]
        user: Option<String>,
    },
    /// Add or remove instances: `pm scale web 4`, `+2`, `-1`.
    Scale {
        name: String,
        #[arg(allow_hyphen_values = true)]
        count: String,
    },
    /// Send a system signal to processes.
    #[command(name = "sendSignal")]
    SendSignal {
        signal: String,
        target: String,
        /// pm2 ignores operands past the target.
        #[arg(hide = true)]
        extra: Vec<String>,
    },
    /// Write a line to the app's stdin.
    Send { target: String, line: Vec<String> },
    /// Serve a directory over http as an app: `pm serve [path] [port]` (pm2's static server).
    #[command(alias = "expose")]
    Serve(ServeArgs),
    /// Write a sample ecosystem.config.js (`simple` for the short one).
    #[command(visible_alias = "ecosystem")]
    Init {
        kind: Option<String>,
        #[arg(hide = true)]
        extra: Vec<String>,
    },
    /// Set a value in module_conf.json: `pm set pm2-logrotate:max_size 10M`.
    Set {
        key: Option<String>,
        #[arg(allow_hyphen_values = true)]
        value: Option<String>,
    },
    /// Set several values at once: `pm multiset "app.key1 v1 app.key2 v2"`.
    Multiset { serial: String },
    /// Show module_conf.json, one module's keys, or one value.
    Get { key: Option<String> },
    /// Get or set module config values.
    #[command(alias = "config")]
    Conf {
        key: Option<String>,
        #[arg(allow_hyphen_values = true)]
        value: Option<String>,
    },
    /// Remove a key from module_conf.json (`all` empties it).
    Unset { key: String },
    /// Only pm2-logrotate, which is built in: writes its default settings.
    #[command(alias = "module:install")]
    Install { module: String },
    /// Link to pm2.io: not offered by pm-native.
    Link {
        #[arg(hide = true)]
        extra: Vec<String>,
    },
    /// Unlink from pm2.io: not offered by pm-native.
    Unlink,
    /// pm2 Plus: not offered by pm-native.
    #[command(alias = "register")]
    Plus {
        #[arg(hide = true)]
        extra: Vec<String>,
    },
    /// Open the pm2.io dashboard: not offered by pm-native.
    Open,
    /// Send an app's metrics to pm2.io: not offered by pm-native.
    Monitor {
        #[arg(hide = true)]
        extra: Vec<String>,
    },
    /// Stop sending an app's metrics to pm2.io: not offered by pm-native.
    Unmonitor {
        #[arg(hide = true)]
        extra: Vec<String>,
    },
    /// The daemon's message queues: `pm queue ls | stats | peek <name> | purge <name>`.
    Queue {
        #[command(subcommand)]
        cmd: super::queue::QueueCmd,
    },
    /// Start the daemon and the saved apps at boot (systemd, upstart, systemv, openrc, launchd).
    Startup(super::startup::StartupArgs),
    /// Remove what `pm startup` installed.
    Unstartup(super::startup::StartupArgs),
    /// Deploy over ssh + git from an ecosystem file's `deploy` section (pm deploy help).
    #[command(disable_help_flag = true)]
    Deploy {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
        args: Vec<String>,
    },
    /// Run apps in the foreground as a container's main process (pm2-runtime; see `pm runtime --help`).
    #[command(disable_help_flag = true)]
    Runtime {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
        args: Vec<String>,
    },
    /// Run the daemon in this process (started for you by the other commands).
    #[command(hide = true)]
    Daemon {
        /// Start the apps saved by `pm save` before reporting ready (the systemd unit's ExecStart).
        #[arg(long)]
        resurrect: bool,
    },
    /// Hold apps' descriptors across daemon deaths (started for you by the daemon).
    #[command(hide = true)]
    Keeper,
}

// pm2's switches for its pm2.io agent and tracing. pm-native has no agent, so `--no-pmx`,
// `--no-automation` and `--disable-trace` already hold; `--disable-source-map-support` turns
// off the source maps a start would switch on for a script with a `.map` file; the ones that
// ask for something are read in `cli::tolerated`. (Not a doc comment: clap would
// take it as the program's description.)
#[derive(Args, Debug, Clone, Default)]
pub struct Pm2ioFlags {
    #[arg(long = "no-pmx", global = true, hide = true)]
    pub no_pmx: bool,
    #[arg(long = "no-automation", global = true, hide = true)]
    pub no_automation: bool,
    /// Accepted for pm2 compatibility; there is no tracing agent (warns).
    #[arg(long, global = true)]
    pub trace: bool,
    #[arg(long = "disable-trace", global = true, hide = true)]
    pub disable_trace: bool,
    #[arg(long = "disable-source-map-support", global = true, hide = true)]
    pub disable_source_map_support: bool,
    /// Accepted for pm2 compatibility; no @pm2/io agent (warns).
    #[arg(long, global = true, hide = true)]
    pub v8: bool,
    #[arg(long = "event-loop-inspector", global = true, hide = true)]
    pub event_loop_inspector: bool,
    #[arg(long = "deep-monitoring", global = true, hide = true)]
    pub deep_monitoring: bool,
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
    #[arg(short = 'a', long = "update-env", alias = "update_env")]
    pub update_env: bool,
    #[arg(long)]
    pub env: Option<String>,
    #[arg(long)]
    pub only: Option<String>,
    /// pm2's number of instances acted on at once (warns: reload goes one at a time).
    #[arg(long)]
    pub parallel: Option<String>,
    #[command(flatten)]
    pub change: ChangeArgs,
}

/// `pm serve`'s options, pm2's.
#[derive(Args, Debug, Clone, Default)]
pub struct ServeArgs {
    /// The directory to serve (default: the current one).
    pub path: Option<String>,
    /// The port (default 8080).
    #[arg(value_name = "PORT")]
    pub port_arg: Option<String>,
    #[arg(long)]
    pub port: Option<String>,
    /// Answer index.html for paths that match no file (single-page apps).
    #[arg(long)]
    pub spa: bool,
    /// List directories without an index.html, like python's http.server.
    #[arg(long)]
    pub ftp: bool,
    #[arg(long = "basic-auth-username")]
    pub basic_auth_username: Option<String>,
    #[arg(long = "basic-auth-password")]
    pub basic_auth_password: Option<String>,
    /// pm2.io's frontend monitoring snippet (not offered: warns).
    #[arg(long, num_args = 0..=1, default_missing_value = "")]
    pub monitor: Option<String>,
    #[arg(short = 'n', long)]
    pub name: Option<String>,
}

/// Options a restart changes, as pm2's `restart` and `reload` take them.
#[derive(Args, Debug, Clone, Default)]
pub struct ChangeArgs {
    /// Rename the app.
    #[arg(short = 'n', long)]
    pub name: Option<String>,
    /// New interpreter arguments (`null` clears them).
    #[arg(
        long = "node-args",
        alias = "interpreter-args",
        allow_hyphen_values = true
    )]
    pub node_args: Option<String>,
    /// Switch file watching: on when off, off when on.
    #[arg(long)]
    pub watch: bool,
    /// A new cron restart pattern (`0` removes it).
    #[arg(long = "cron-restart", alias = "cron", short = 'c')]
    pub cron_restart: Option<String>,
    #[arg(long = "max-memory-restart", allow_hyphen_values = true)]
    pub max_memory_restart: Option<String>,
    #[arg(long = "log-date-format")]
    pub log_date_format: Option<String>,
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
    #[arg(long, num_args = 0..=1, default_missing_value = "YYYY-MM-DD-HH:mm:ss")]
    pub timestamp: Option<String>,
    /// New lines and process events as JSON, one object per line (no tail).
    #[arg(long)]
    pub json: bool,
    /// New lines as `timestamp=… app=… id=… type=… message=…` (no tail).
    #[arg(long)]
    pub format: bool,
    /// Highlight the first occurrence of a value in each line (on a terminal).
    #[arg(long, num_args = 0..=1, default_missing_value = "")]
    pub highlight: Option<String>,
}

#[derive(Args, Debug, Clone, Default)]
pub struct StartArgs {
    /// Scripts, ecosystem files, `-` for JSON on stdin, or names/ids of apps to restart: each
    /// in turn with the same flags, as pm2; none means ./ecosystem.config.js.
    #[arg(value_name = "SCRIPT")]
    pub scripts: Vec<String>,
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
    /// Register the app stopped.
    #[arg(long = "no-autostart")]
    pub no_autostart: bool,
    /// Do not pass on the caller's variables whose names contain this string (repeatable;
    /// alone: pass on none).
    #[arg(long = "filter-env", num_args = 0..=1, default_missing_value = "")]
    pub filter_env: Vec<String>,
    /// Mask this variable's value wherever a person reads it (`describe`, `env`, `monit`, the
    /// dashboard, ...; repeatable). The app still receives it. (pm2's `--secret` is a pm2.io
    /// key; here it names a secret.)
    #[arg(long = "secret", value_name = "KEY")]
    pub secret: Vec<String>,
    /// Run the app as this user (a name or a number; needs root), with its groups, HOME, USER
    /// and LOGNAME.
    #[arg(long, alias = "user")]
    pub uid: Option<String>,
    /// Run the app with this group (a name or a number; needs root).
    #[arg(long)]
    pub gid: Option<String>,
    /// Run Node with `--enable-source-maps` (on by itself when `<script>.map` exists).
    #[arg(long = "source-map-support")]
    pub source_map_support: bool,
    /// The global `--disable-source-map-support`, copied here by the CLI's entry.
    #[arg(skip)]
    pub no_source_map_support: bool,
    #[arg(long = "no-vizion")]
    pub no_vizion: bool,
    #[arg(short = 'f', long)]
    pub force: bool,
    #[arg(short = 'a', long = "update-env")]
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

impl StartArgs {
    /// The one script of a start (the first, when several are given).
    pub fn script(&self) -> &str {
        self.scripts
            .first()
            .map_or(crate::config::ecosystem::DEFAULT_FILE, String::as_str)
    }
}
