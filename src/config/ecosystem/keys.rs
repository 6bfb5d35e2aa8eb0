//! pm2's app option names and their other spellings. A file may say `cmd`, `exec` or `command`
//! for `script`, `node_args` for `interpreter_args`, or `maxMemoryRestart` for
//! `max_memory_restart`; these tables fold every spelling into [`AppSpec`]'s own field name
//! before serde sees the object, so each field has exactly one key.
//!
//! [`AppSpec`]: crate::protocol::AppSpec

use serde_json::{Map, Value};

/// pm2's option names (`lib/API/schema.json`). pm2 accepts each in camelCase too (`Config.schema`
/// derives the aliases), so `maxMemoryRestart` works in a file.
const PM2_KEYS: &[&str] = &[
    "script",
    "name",
    "name_prefix",
    "filter_env",
    "namespace",
    "install_url",
    "cwd",
    "args",
    "exec_interpreter",
    "node_args",
    "out_file",
    "error_file",
    "log_file",
    "disable_logs",
    "log_type",
    "log_date_format",
    "time",
    "env",
    "max_memory_restart",
    "pid_file",
    "restart_delay",
    "exp_backoff_restart_delay",
    "source_map_support",
    "disable_source_map_support",
    "wait_ready",
    "instances",
    "kill_timeout",
    "shutdown_with_message",
    "listen_timeout",
    "cron_restart",
    "merge_logs",
    "vizion",
    "autostart",
    "autorestart",
    "stop_exit_codes",
    "watch_delay",
    "watch",
    "ignore_watch",
    "watch_options",
    "min_uptime",
    "max_restarts",
    "execute_command",
    "exec_mode",
    "force",
    "append_env_to_name",
    "post_update",
    "trace",
    "disable_trace",
    "v8",
    "event_loop_inspector",
    "deep_monitoring",
    "increment_var",
    "instance_var",
    "pmx",
    "automation",
    "treekill",
    "port",
    "username",
    "uid",
    "gid",
    "windowsHide",
    "kill_retry_time",
    "write",
    "io",
];

/// pm2's aliases, each group in pm2's order of preference (the schema name first, then its
/// `alias` list as `Config.schema` orders it; `cmd` and `command` come from `Common.verifyConfs`).
/// The first key present wins and is stored under `AppSpec`'s own field name; the others are
/// dropped, as pm2 drops them, so serde never sees two spellings of one field.
const ALIASES: &[(&str, &[&str])] = &[
    ("script", &["script", "cmd", "command", "exec"]),
    ("interpreter", &["exec_interpreter", "interpreter"]),
    ("interpreter_args", &["node_args", "interpreter_args"]),
    ("out_file", &["out_file", "out_log", "output", "out"]),
    (
        "error_file",
        &["error_file", "err_log", "err_file", "err", "error"],
    ),
    ("log_file", &["log_file", "log"]),
    ("pid_file", &["pid_file", "pid"]),
    ("merge_logs", &["merge_logs", "combine_logs"]),
    ("cron_restart", &["cron_restart", "cron"]),
    ("uid", &["uid", "user"]),
    // The per-app rotation settings, spelled as pm2-logrotate's keys or in snake_case.
    ("date_format", &["dateFormat", "date_format"]),
    ("rotate_interval", &["rotateInterval", "rotate_interval"]),
];

/// `maxMemoryRestart` -> `max_memory_restart`, as pm2's `Config.schema` derives its aliases.
fn snake_case(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 4);
    for c in key.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Renames every camelCase and alias key of an app object to its canonical name, in place.
pub(super) fn normalize_keys(obj: &mut Map<String, Value>) {
    // camelCase spellings of pm2 options become snake_case; the snake_case key wins if both exist.
    let camel: Vec<String> = obj
        .keys()
        .filter(|k| k.bytes().any(|b| b.is_ascii_uppercase()))
        .cloned()
        .collect();
    for key in camel {
        let snake = snake_case(&key);
        if snake == key || !PM2_KEYS.contains(&snake.as_str()) {
            continue;
        }
        if let Some(v) = obj.remove(&key) {
            obj.entry(snake).or_insert(v);
        }
    }
    for (field, spellings) in ALIASES {
        let mut chosen = None;
        for key in spellings.iter() {
            if let Some(v) = obj.remove(*key) {
                chosen.get_or_insert(v);
            }
        }
        if let Some(v) = chosen {
            obj.insert((*field).to_string(), v);
        }
    }
}

/// Whether `key` is one of pm2's app options, in any spelling this table knows. pm2's own dump
/// mixes them with its runtime state and the flattened environment; only these are kept.
pub fn is_option_key(key: &str) -> bool {
    PM2_KEYS.contains(&key)
        || PM2_KEYS.contains(&snake_case(key).as_str())
        || ALIASES
            .iter()
            .any(|(_, spellings)| spellings.contains(&key))
}
