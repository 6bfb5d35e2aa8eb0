//! A process as clients see it: pm2's `jlist` element, typed. The daemon builds it, the CLI
//! and the addon read its fields, and its JSON is byte for byte what pm2 7 prints, because
//! `jlist` and `prettylist` output is grepped and diffed by users' scripts.
//!
//! `pm2_env` is not a plain struct on the wire: pm2 orders it as its options schema, then the
//! options the user gave, then the fields its daemon appends, with the app's scalar env entries
//! lifted in between and an instance counter under a key the app chooses (`instance_var`).
//! So [`Pm2Env`] serialises by inserting into an ordered map as pm2 does (an existing key keeps
//! its place and takes the new value; an optional or lifted key never overwrites one), and
//! deserialises by cutting the map back into the same sections, which round-trips exactly.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use super::{Env, ExecMode};

/// One element of `pm jlist`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProcView {
    /// 0 unless the process runs.
    pub pid: u32,
    pub name: String,
    pub pm2_env: Pm2Env,
    pub pm_id: u32,
    pub monit: Monit,
}

/// One process as `pm ls` shows it: the table's columns and `ls -m`'s lines, nothing more.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Brief {
    pub pm_id: u32,
    pub name: String,
    pub namespace: String,
    /// As in [`Pm2Env::version`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<Value>,
    pub exec_mode: ExecMode,
    /// 0 unless the process runs.
    pub pid: u32,
    pub pm_uptime: i64,
    pub restart_time: u32,
    pub status: String,
    pub monit: Monit,
    pub username: String,
    pub watching: bool,
    pub pm_err_log_path: String,
    pub pm_pid_path: String,
    /// As in [`Pm2Env::health`]: `pm ls` shows a health column when some app has probes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<Value>,
    /// As in [`Pm2Env::log_error`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_error: Option<String>,
}

impl Brief {
    /// The brief as a view with the rest left empty, for the formatters that take views.
    pub fn into_view(self) -> ProcView {
        ProcView {
            pid: self.pid,
            name: self.name.clone(),
            pm_id: self.pm_id,
            monit: self.monit,
            pm2_env: Pm2Env {
                name: self.name,
                namespace: self.namespace,
                version: self.version,
                exec_mode: self.exec_mode,
                pm_uptime: self.pm_uptime,
                restart_time: self.restart_time,
                status: self.status,
                username: self.username,
                watch: self.watching.into(),
                pm_err_log_path: self.pm_err_log_path,
                pm_pid_path: self.pm_pid_path,
                pm_id: self.pm_id,
                health: self.health,
                log_error: self.log_error,
                ..Default::default()
            },
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Monit {
    /// Resident bytes of the process tree.
    pub memory: u64,
    /// Percent of one core; a JS number, so whole values print as `0`, not `0.0`.
    #[serde(serialize_with = "js_number")]
    pub cpu: f64,
}

fn js_number<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    if v.fract() == 0.0 && *v >= 0.0 && *v < u64::MAX as f64 {
        s.serialize_u64(*v as u64)
    } else if v.is_finite() {
        s.serialize_f64(*v)
    } else {
        s.serialize_u64(0)
    }
}

/// `pm2_env`: what pm2 knows about one process.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Pm2Env {
    // pm2's options schema, in its file order.
    pub name: String,
    pub namespace: String,
    /// The app's environment: the caller's, then the app's own, then `unique_id`.
    pub env: Env,
    /// `instances` as given (a number or `"max"`) in cluster mode; `1` in fork mode.
    pub instances: Value,
    pub max_memory_restart: Option<u64>,
    pub merge_logs: Option<bool>,
    pub vizion: bool,
    /// `false` when the app was registered stopped (`--no-autostart`).
    pub autostart: bool,
    pub autorestart: bool,
    /// `false`, `true`, or the watched paths.
    pub watch: Value,
    pub instance_var: String,
    pub treekill: bool,
    pub username: String,
    /// Options the user set that pm2 also lists (`args`, `kill_timeout`, ..., then the keys
    /// pm-native keeps without acting on), in pm2's order.
    pub options: Map<String, Value>,
    // What pm2's daemon appends. `node_args` is absent once `--node-args=null` cleared it.
    pub node_args: Option<Vec<String>>,
    pub pm_exec_path: String,
    pub pm_cwd: String,
    pub exec_interpreter: String,
    pub exec_mode: ExecMode,
    pub pm_out_log_path: String,
    pub pm_err_log_path: String,
    pub pm_log_path: Option<String>,
    pub pm_pid_path: String,
    /// `NODE_APP_INSTANCE`, written under the name `instance_var` gives.
    pub instance: u32,
    /// The env's scalar entries, which pm2 also lifts to this level (scripts read them here).
    pub lifted: Map<String, Value>,
    pub unique_id: String,
    /// pm2's status: `online`, `stopping`, `stopped`, `launching`, `errored`, `waiting restart`.
    pub status: String,
    pub pm_uptime: i64,
    pub created_at: i64,
    pub pm_id: u32,
    pub restart_time: u32,
    pub unstable_restarts: u32,
    /// The nearest package.json's `version`, `N/A` without one, absent when it has none.
    pub version: Option<Value>,
    pub node_version: Option<String>,
    pub exit_code: Option<Value>,
    /// pm-native: why the last restart happened (`exit`, `health`, `watchdog`, ...).
    pub restart_reason: Option<String>,
    /// pm-native: probe results and notify state, for apps that have them.
    pub health: Option<Value>,
    /// pm-native: while the app's output cannot be written (a full disk): which file, why,
    /// since when.
    pub log_error: Option<String>,
    /// The app's code metrics (pm2's `axm_monitor`): name → `{ value, unit, ... }`, as the
    /// app preload or `@pm2/io` last reported them.
    pub axm_monitor: Map<String, Value>,
    /// The actions the app's agent registered (`io.action`), which `pm trigger` calls.
    pub axm_actions: Vec<Value>,
}

impl Pm2Env {
    pub fn is_online(&self) -> bool {
        self.status == "online"
    }

    /// Whether `watch` is on (pm2 shows `false` and an absent value alike).
    pub fn is_watching(&self) -> bool {
        !matches!(self.watch, Value::Bool(false) | Value::Null)
    }

    /// The log files this process writes, as pm2 lists them.
    pub fn log_paths(&self) -> impl Iterator<Item = &str> {
        [
            Some(self.pm_out_log_path.as_str()),
            Some(self.pm_err_log_path.as_str()),
            self.pm_log_path.as_deref(),
        ]
        .into_iter()
        .flatten()
    }
}

/// The last key of the schema part, always present.
const SCHEMA_END: &str = "kill_retry_time";
/// The first key of the daemon's part, never a user option (it is an alias of
/// `interpreter_args`), so it ends the options section unambiguously. pm2 drops it once
/// `--node-args=null` cleared it; then the first of [`DAEMON_KEYS`] starts the part.
const DAEMON_START: &str = "node_args";
/// The daemon's keys between `node_args` and the lifted env, in order.
const DAEMON_KEYS: [&str; 11] = [
    "pm_exec_path",
    "pm_cwd",
    "exec_interpreter",
    "exec_mode",
    "instances",
    "pm_out_log_path",
    "pm_err_log_path",
    "pm_log_path",
    "pm_pid_path",
    "km_link",
    "vizion_running",
];
/// The keys after the lifted env, in order.
const TAIL_KEYS: [&str; 17] = [
    "unique_id",
    "status",
    "pm_uptime",
    "axm_actions",
    "axm_monitor",
    "axm_options",
    "axm_dynamic",
    "created_at",
    "pm_id",
    "restart_time",
    "unstable_restarts",
    "version",
    "node_version",
    "exit_code",
    "restart_reason",
    "health",
    "log_error",
];

impl Pm2Env {
    fn to_map(&self) -> Map<String, Value> {
        let cluster = self.exec_mode == ExecMode::Cluster;
        let mut e = Map::new();
        let mut put = |k: &str, v: Value| {
            e.insert(k.to_string(), v);
        };
        put("name", self.name.clone().into());
        put("filter_env", Value::Array(Vec::new()));
        put("namespace", self.namespace.clone().into());
        // pm2 lists an app's module configuration under its name (`{}` when there is none),
        // just before the env's last key, `unique_id`; tools find an app's own entry by it.
        let mut env = self.env.clone();
        if !env.contains_key(&self.name) {
            let at = env
                .keys()
                .position(|k| k == "unique_id")
                .unwrap_or(env.len());
            env.shift_insert(at, self.name.clone(), Value::Object(Map::new()));
        }
        put("env", Value::Object(env));
        if cluster {
            put("instances", self.instances.clone());
        }
        if let Some(m) = self.max_memory_restart {
            put("max_memory_restart", m.into());
        }
        if let Some(m) = self.merge_logs {
            put("merge_logs", m.into());
        }
        put("vizion", self.vizion.into());
        put("autostart", self.autostart.into());
        put("autorestart", self.autorestart.into());
        put("watch", self.watch.clone());
        put("instance_var", self.instance_var.clone().into());
        put("pmx", true.into());
        put("automation", true.into());
        put("treekill", self.treekill.into());
        put("username", self.username.clone().into());
        put("windowsHide", true.into());
        put(SCHEMA_END, 100.into());
        for (k, v) in &self.options {
            e.entry(k.clone()).or_insert_with(|| v.clone());
        }
        let mut put = |k: &str, v: Value| {
            e.insert(k.to_string(), v);
        };
        if let Some(a) = &self.node_args {
            put(DAEMON_START, a.clone().into());
        }
        put("pm_exec_path", self.pm_exec_path.clone().into());
        put("pm_cwd", self.pm_cwd.clone().into());
        put("exec_interpreter", self.exec_interpreter.clone().into());
        put("exec_mode", self.exec_mode.as_str().into());
        if !cluster {
            put("instances", self.instances.clone());
        }
        put("pm_out_log_path", self.pm_out_log_path.clone().into());
        put("pm_err_log_path", self.pm_err_log_path.clone().into());
        if let Some(p) = &self.pm_log_path {
            put("pm_log_path", p.clone().into());
        }
        put("pm_pid_path", self.pm_pid_path.clone().into());
        put("km_link", false.into());
        put("vizion_running", false.into());
        put(&self.instance_var, self.instance.into());
        for (k, v) in &self.lifted {
            e.entry(k.clone()).or_insert_with(|| v.clone());
        }
        let mut put = |k: &str, v: Value| {
            e.insert(k.to_string(), v);
        };
        put("unique_id", self.unique_id.clone().into());
        put("status", self.status.clone().into());
        put("pm_uptime", self.pm_uptime.into());
        put("axm_actions", Value::Array(self.axm_actions.clone()));
        put("axm_monitor", Value::Object(self.axm_monitor.clone()));
        // What pm2's agent reports of every app; `module_name` is how pm2 tools name it.
        let mut axm = Map::new();
        axm.insert("module_name".into(), self.name.clone().into());
        axm.insert("module_version".into(), super::VERSION.into());
        put("axm_options", Value::Object(axm));
        put("axm_dynamic", Value::Object(Map::new()));
        put("created_at", self.created_at.into());
        put("pm_id", self.pm_id.into());
        put("restart_time", self.restart_time.into());
        put("unstable_restarts", self.unstable_restarts.into());
        if let Some(v) = &self.version {
            put("version", v.clone());
        }
        if let Some(v) = &self.node_version {
            put("node_version", v.clone().into());
        }
        if let Some(v) = &self.exit_code {
            put("exit_code", v.clone());
        }
        if let Some(v) = &self.restart_reason {
            put("restart_reason", v.clone().into());
        }
        if let Some(v) = &self.health {
            put("health", v.clone());
        }
        if let Some(v) = &self.log_error {
            put("log_error", v.clone().into());
        }
        e
    }

    /// Cuts pm2's map back into its sections: options lie between the schema's last key and
    /// `node_args`; the lifted env between the daemon's keys and the tail, which is the longest
    /// run at the end in the tail's own order (a tail key met out of order was lifted there).
    fn from_map<E: serde::de::Error>(map: Map<String, Value>) -> Result<Self, E> {
        let keys: Vec<&String> = map.keys().collect();
        let pos = |k: &str| keys.iter().position(|x| x.as_str() == k);
        let schema_end = pos(SCHEMA_END).ok_or_else(|| E::missing_field(SCHEMA_END))?;
        let daemon_start = pos(DAEMON_START)
            .or_else(|| pos(DAEMON_KEYS[0]))
            .ok_or_else(|| E::missing_field(DAEMON_START))?;
        let instance_var = str_field::<E>(&map, "instance_var")?;
        let mut lifted_start = daemon_start + 1;
        while keys
            .get(lifted_start)
            .is_some_and(|k| DAEMON_KEYS.contains(&k.as_str()) || **k == instance_var)
        {
            lifted_start += 1;
        }
        let mut tail_start = keys.len();
        let mut last_rank = TAIL_KEYS.len();
        while tail_start > lifted_start {
            match TAIL_KEYS.iter().position(|t| *t == keys[tail_start - 1]) {
                Some(rank) if rank < last_rank => {
                    last_rank = rank;
                    tail_start -= 1;
                }
                _ => break,
            }
        }
        let section = |from: usize, to: usize| -> Map<String, Value> {
            keys.get(from..to.max(from))
                .unwrap_or_default()
                .iter()
                .map(|k| ((*k).clone(), map[k.as_str()].clone()))
                .collect()
        };
        let options = section(schema_end + 1, daemon_start);
        let lifted = section(lifted_start, tail_start);
        let get = |k: &'static str| map.get(k).cloned().ok_or_else(|| E::missing_field(k));
        let typed = |k: &'static str| -> Result<Value, E> { get(k) };
        fn parse<T: serde::de::DeserializeOwned, E: serde::de::Error>(
            k: &str,
            v: Value,
        ) -> Result<T, E> {
            serde_json::from_value(v).map_err(|e| E::custom(format!("pm2_env.{k}: {e}")))
        }
        let opt = |k: &str| map.get(k).cloned();
        Ok(Pm2Env {
            name: parse("name", typed("name")?)?,
            namespace: parse("namespace", typed("namespace")?)?,
            env: {
                // The app's empty module-configuration entry is what `to_map` adds, not a
                // variable: drop it so a view reads back to itself.
                let mut env: Map<String, Value> = parse("env", typed("env")?)?;
                let name: String = parse("name", typed("name")?)?;
                if env
                    .get(&name)
                    .is_some_and(|v| v.as_object().is_some_and(Map::is_empty))
                {
                    env.shift_remove(&name);
                }
                env
            },
            instances: typed("instances")?,
            max_memory_restart: opt("max_memory_restart")
                .map(|v| parse("max_memory_restart", v))
                .transpose()?,
            merge_logs: opt("merge_logs")
                .map(|v| parse("merge_logs", v))
                .transpose()?,
            vizion: parse("vizion", typed("vizion")?)?,
            autostart: opt("autostart")
                .map(|v| parse("autostart", v))
                .transpose()?
                .unwrap_or(true),
            autorestart: parse("autorestart", typed("autorestart")?)?,
            watch: typed("watch")?,
            instance: parse(
                &instance_var,
                map.get(&instance_var).cloned().unwrap_or(0.into()),
            )?,
            instance_var,
            treekill: parse("treekill", typed("treekill")?)?,
            username: parse("username", typed("username")?)?,
            options,
            node_args: opt("node_args")
                .map(|v| parse("node_args", v))
                .transpose()?,
            pm_exec_path: parse("pm_exec_path", typed("pm_exec_path")?)?,
            pm_cwd: parse("pm_cwd", typed("pm_cwd")?)?,
            exec_interpreter: parse("exec_interpreter", typed("exec_interpreter")?)?,
            exec_mode: parse("exec_mode", typed("exec_mode")?)?,
            pm_out_log_path: parse("pm_out_log_path", typed("pm_out_log_path")?)?,
            pm_err_log_path: parse("pm_err_log_path", typed("pm_err_log_path")?)?,
            pm_log_path: opt("pm_log_path")
                .map(|v| parse("pm_log_path", v))
                .transpose()?,
            pm_pid_path: parse("pm_pid_path", typed("pm_pid_path")?)?,
            lifted,
            unique_id: parse("unique_id", typed("unique_id")?)?,
            status: parse("status", typed("status")?)?,
            pm_uptime: parse("pm_uptime", typed("pm_uptime")?)?,
            created_at: parse("created_at", typed("created_at")?)?,
            pm_id: parse("pm_id", typed("pm_id")?)?,
            restart_time: parse("restart_time", typed("restart_time")?)?,
            unstable_restarts: parse("unstable_restarts", typed("unstable_restarts")?)?,
            version: opt("version"),
            node_version: opt("node_version")
                .map(|v| parse("node_version", v))
                .transpose()?,
            exit_code: opt("exit_code"),
            restart_reason: opt("restart_reason")
                .map(|v| parse("restart_reason", v))
                .transpose()?,
            health: opt("health"),
            log_error: opt("log_error")
                .map(|v| parse("log_error", v))
                .transpose()?,
            axm_monitor: match opt("axm_monitor") {
                Some(Value::Object(m)) => m,
                _ => Map::new(),
            },
            axm_actions: match opt("axm_actions") {
                Some(Value::Array(a)) => a,
                _ => Vec::new(),
            },
        })
    }
}

fn str_field<E: serde::de::Error>(map: &Map<String, Value>, k: &'static str) -> Result<String, E> {
    match map.get(k) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(E::custom(format!("pm2_env.{k} is not a string"))),
        None => Err(E::missing_field(k)),
    }
}

impl Serialize for Pm2Env {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_map().serialize(s)
    }
}

impl<'de> Deserialize<'de> for Pm2Env {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let map = Map::<String, Value>::deserialize(d)?;
        Pm2Env::from_map(map)
    }
}

#[cfg(test)]
mod tests;
