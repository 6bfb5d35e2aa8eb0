//! The description of one app, as ecosystem files and CLI flags give it.
//!
//! Field names are pm2's (`ecosystem.config.js` and `lib/API/schema.json`), so an ecosystem file
//! deserializes straight into [`AppSpec`]. pm2 accepts loose types (`"instances": "4"`,
//! `"autorestart": "false"`, `"max_memory_restart": "200M"`), so the numeric and boolean fields go
//! through the lenient parsers in [`super::loose`].

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::loose;

/// The most instances one app may ask for, however it asks (`-i`, `instances`, `pm scale`):
/// each is a process the daemon's single thread spawns and supervises.
pub const MAX_INSTANCES: u32 = 4096;

/// A wanted instance count within [`MAX_INSTANCES`], or the one line that says why not.
pub fn bounded_count(n: i64) -> Result<u32, String> {
    match u32::try_from(n) {
        Ok(n) if n <= MAX_INSTANCES => Ok(n),
        _ => Err(format!(
            "instances must be at most {MAX_INSTANCES}, got {n}"
        )),
    }
}

/// `--only a,b` / `--only "a b"`: the app names, split as pm2 splits them (commas and spaces).
/// The one splitter: the CLI, the addon and the ecosystem loader all read `--only` through it.
pub fn split_only(only: &str) -> Vec<String> {
    only.split([',', ' '])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// How many instances to run: a number or pm2's `max` (0 and -1 mean cores and cores-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(into = "Value", try_from = "Value")]
pub enum Instances {
    #[default]
    One,
    Count(u32),
    /// `max`, `0`: one per core.
    Max,
    /// A negative count: cores minus n (at least one).
    MaxMinus(u32),
}

impl Instances {
    pub fn resolve(self, cores: usize) -> u32 {
        let cores = cores.max(1) as u32;
        match self {
            Instances::One => 1,
            Instances::Count(n) => n.max(1),
            Instances::Max => cores,
            Instances::MaxMinus(n) => cores.saturating_sub(n).max(1),
        }
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        let t = text.trim();
        if t.eq_ignore_ascii_case("max") {
            return Ok(Instances::Max);
        }
        match t.parse::<i64>() {
            Ok(0) => Ok(Instances::Max),
            Ok(n) if n < 0 => Ok(Instances::MaxMinus(
                n.unsigned_abs().min(u32::MAX as u64) as u32
            )),
            Ok(n) => bounded_count(n).map(Instances::Count),
            Err(_) => Err(format!(
                "instances must be a number, 'max' or a negative number, got \"{text}\""
            )),
        }
    }

    /// pm2 shows `instances` as a number in jlist (`max` is kept as the string it was given).
    pub fn to_json(self) -> Value {
        match self {
            Instances::One => Value::from(1),
            Instances::Count(n) => Value::from(n),
            Instances::Max => Value::from("max"),
            Instances::MaxMinus(n) => Value::from(-(n as i64)),
        }
    }
}

/// On the wire an unset count stays unset (`null`), so "not given" survives the round trip and
/// still means fork mode.
impl From<Instances> for Value {
    fn from(i: Instances) -> Value {
        match i {
            Instances::One => Value::Null,
            other => other.to_json(),
        }
    }
}

impl TryFrom<Value> for Instances {
    type Error = String;
    fn try_from(v: Value) -> Result<Self, String> {
        match v {
            Value::Number(n) => Instances::parse(&n.to_string()),
            Value::String(s) => Instances::parse(&s),
            Value::Null => Ok(Instances::One),
            other => Err(format!("instances must be a number or 'max', got {other}")),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum ExecMode {
    #[default]
    #[serde(rename = "fork_mode", alias = "fork")]
    Fork,
    #[serde(rename = "cluster_mode", alias = "cluster")]
    Cluster,
}

impl ExecMode {
    pub fn as_str(self) -> &'static str {
        match self {
            ExecMode::Fork => "fork_mode",
            ExecMode::Cluster => "cluster_mode",
        }
    }
    pub fn short(self) -> &'static str {
        match self {
            ExecMode::Fork => "fork",
            ExecMode::Cluster => "cluster",
        }
    }
}

/// pm2's `filter_env`: which of the caller's variables the app does not inherit.
/// `true` drops them all, a string drops that one variable, a list drops every variable whose
/// name contains one of its strings (pm2's `Common.js` filters with `includes`, not a prefix).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FilterEnv {
    All(bool),
    Key(String),
    Containing(Vec<String>),
}

impl FilterEnv {
    /// Whether the inherited variable `key` reaches the app.
    pub fn keeps(&self, key: &str) -> bool {
        match self {
            FilterEnv::All(all) => !all,
            FilterEnv::Key(k) => k != key,
            FilterEnv::Containing(parts) => !parts.iter().any(|p| key.contains(p.as_str())),
        }
    }
}

/// One app as the user described it. Everything optional falls back to pm2's default at the
/// point of use, so a spec round-trips to jlist without inventing values the user never gave.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct AppSpec {
    pub name: Option<String>,
    pub script: String,
    #[serde(deserialize_with = "loose::args")]
    pub args: Vec<String>,
    pub cwd: Option<String>,
    #[serde(alias = "exec_interpreter")]
    pub interpreter: Option<String>,
    #[serde(alias = "node_args", deserialize_with = "loose::args")]
    pub interpreter_args: Vec<String>,
    /// Set by `--node-args=null` on a restart: jlist then drops `node_args`, as pm2 does.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub node_args_cleared: bool,
    pub exec_mode: Option<ExecMode>,
    pub instances: Instances,
    pub namespace: Option<String>,
    pub env: Map<String, Value>,

    #[serde(alias = "out", alias = "output")]
    pub out_file: Option<String>,
    #[serde(alias = "error", alias = "err", alias = "err_file", alias = "err_log")]
    pub error_file: Option<String>,
    #[serde(alias = "log")]
    pub log_file: Option<String>,
    #[serde(alias = "pid")]
    pub pid_file: Option<String>,
    #[serde(
        alias = "merge_logs",
        alias = "combine_logs",
        deserialize_with = "loose::opt_bool"
    )]
    pub merge_logs: Option<bool>,
    pub log_date_format: Option<String>,
    #[serde(deserialize_with = "loose::opt_bool")]
    pub time: Option<bool>,
    pub log_type: Option<String>,
    #[serde(deserialize_with = "loose::opt_bool")]
    pub disable_logs: Option<bool>,
    /// The app's own log rotation, over the global `pm2-logrotate:*` settings for its files;
    /// kept as given and read by `config::settings::app_override` (where they are checked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_size: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retain: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compress: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date_format: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rotate_interval: Option<Value>,

    #[serde(deserialize_with = "loose::opt_bool")]
    pub autorestart: Option<bool>,
    pub watch: Option<Value>,
    #[serde(deserialize_with = "loose::args")]
    pub ignore_watch: Vec<String>,
    #[serde(deserialize_with = "loose::opt_u64")]
    pub watch_delay: Option<u64>,
    #[serde(deserialize_with = "loose::opt_u64")]
    pub max_restarts: Option<u64>,
    #[serde(deserialize_with = "loose::opt_duration_ms")]
    pub min_uptime: Option<u64>,
    #[serde(deserialize_with = "loose::opt_u64")]
    pub restart_delay: Option<u64>,
    #[serde(deserialize_with = "loose::opt_u64")]
    pub exp_backoff_restart_delay: Option<u64>,
    #[serde(deserialize_with = "loose::exit_codes")]
    pub stop_exit_codes: Vec<i32>,
    #[serde(deserialize_with = "loose::opt_u64")]
    pub kill_timeout: Option<u64>,
    pub kill_signal: Option<String>,
    #[serde(deserialize_with = "loose::opt_bool")]
    pub shutdown_with_message: Option<bool>,
    #[serde(deserialize_with = "loose::opt_bool")]
    pub wait_ready: Option<bool>,
    #[serde(deserialize_with = "loose::opt_u64")]
    pub listen_timeout: Option<u64>,
    #[serde(deserialize_with = "loose::opt_bytes")]
    pub max_memory_restart: Option<u64>,
    #[serde(alias = "cron")]
    pub cron_restart: Option<String>,
    #[serde(deserialize_with = "loose::opt_bool")]
    pub treekill: Option<bool>,
    pub instance_var: Option<String>,
    pub increment_var: Option<String>,
    #[serde(deserialize_with = "loose::opt_bool")]
    pub vizion: Option<bool>,
    #[serde(deserialize_with = "loose::opt_bool")]
    pub source_map_support: Option<bool>,
    pub filter_env: Option<FilterEnv>,
    /// `false` registers the app stopped (pm2's `--no-autostart`).
    #[serde(deserialize_with = "loose::opt_bool")]
    pub autostart: Option<bool>,
    /// pm-native's worker-count rule (`cpu`, `io`, `mixed`), used when `instances` is not given.
    pub workload: Option<String>,

    /// Fields pm2 knows that pm-native does not act on yet: kept so jlist shows them back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl AppSpec {
    /// The app's own rotation settings under pm2-logrotate's key names.
    pub fn rotate_settings(&self) -> Map<String, Value> {
        [
            ("max_size", &self.max_size),
            ("retain", &self.retain),
            ("compress", &self.compress),
            ("dateFormat", &self.date_format),
            ("rotateInterval", &self.rotate_interval),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.clone().map(|v| (k.to_string(), v)))
        .collect()
    }

    pub fn exec_mode(&self) -> ExecMode {
        self.exec_mode.unwrap_or(ExecMode::Fork)
    }

    /// The app's name as pm2 derives it: the given name, else the script's file stem.
    pub fn resolved_name(&self) -> String {
        if let Some(n) = self.name.as_deref().filter(|n| !n.is_empty()) {
            return n.to_string();
        }
        let base = std::path::Path::new(&self.script)
            .file_name()
            .and_then(|s| s.to_str())
            .unwrap_or(&self.script);
        match base.rfind('.') {
            Some(dot) if dot > 0 => base[..dot].to_string(),
            _ => base.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_splits_on_commas_and_spaces() {
        assert_eq!(split_only("api,worker"), ["api", "worker"]);
        assert_eq!(
            split_only(" api  worker, ,mailer "),
            ["api", "worker", "mailer"]
        );
        assert!(split_only(" , ").is_empty());
    }

    #[test]
    fn filter_env_follows_pm2() {
        let f = |v: Value| serde_json::from_value::<FilterEnv>(v).expect("filter_env");
        assert!(!f(Value::Bool(true)).keeps("PATH"));
        assert!(f(Value::Bool(false)).keeps("PATH"));
        assert!(!f("SECRET".into()).keeps("SECRET"));
        assert!(f("SECRET".into()).keeps("MY_SECRET"));
        let parts = f(serde_json::json!(["AWS_", "TOKEN"]));
        assert!(!parts.keeps("AWS_REGION"));
        assert!(!parts.keeps("GH_TOKEN"));
        assert!(parts.keeps("HOME"));
    }

    #[test]
    fn counts_are_bounded_in_one_place() {
        assert_eq!(bounded_count(4096), Ok(4096));
        assert_eq!(
            bounded_count(4097),
            Err("instances must be at most 4096, got 4097".into())
        );
        assert!(bounded_count(-1).is_err());
        assert_eq!(Instances::parse("4096"), Ok(Instances::Count(4096)));
        assert_eq!(
            Instances::parse("99999"),
            Err("instances must be at most 4096, got 99999".into())
        );
    }
}
