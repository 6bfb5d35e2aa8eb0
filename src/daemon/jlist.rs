//! Renders a process in pm2's `jlist` shape. Key order follows pm2 7 (its options schema order,
//! then the fields its daemon appends), because `prettylist` output is grepped and diffed by
//! users' scripts. Known pm2 flaw not copied: pm2 lets a shell variable named like one of its
//! own fields (`name`, `watch`, ...) overwrite that field; here pm2's fields win.

use serde_json::{Map, Value};

use crate::metrics::Usage;
use crate::protocol::ExecMode;
use crate::supervisor::ProcInfo;

/// pm2's options schema, in file order: each given option appears at its place.
const SCHEMA_ORDER: &[&str] = &[
    "name",
    "filter_env",
    "namespace",
    "env",
    "instances",
    "max_memory_restart",
    "merge_logs",
    "vizion",
    "autostart",
    "autorestart",
    "watch",
    "instance_var",
    "pmx",
    "automation",
    "treekill",
    "username",
    "windowsHide",
    "kill_retry_time",
];

fn spec_value(info: &ProcInfo, key: &str) -> Option<Value> {
    let s = &info.spec;
    let cluster = s.exec_mode() == ExecMode::Cluster;
    Some(match key {
        "name" => info.name.clone().into(),
        "filter_env" => Value::Array(Vec::new()),
        "namespace" => info.namespace.clone().into(),
        "env" => {
            let mut env = info.env.clone();
            for (k, v) in &s.env {
                env.insert(k.clone(), v.clone());
            }
            env.insert("unique_id".into(), info.unique_id.clone().into());
            Value::Object(env)
        }
        "instances" if cluster => s.instances.to_json(),
        "max_memory_restart" => s.max_memory_restart?.into(),
        "merge_logs" if !cluster => s.merge_logs.unwrap_or(true).into(),
        "merge_logs" => s.merge_logs?.into(),
        "vizion" => s.vizion.unwrap_or(true).into(),
        "autostart" => true.into(),
        "autorestart" => s.autorestart.unwrap_or(true).into(),
        "watch" => s.watch.clone().unwrap_or(Value::Bool(false)),
        "instance_var" => s
            .instance_var
            .clone()
            .unwrap_or_else(|| "NODE_APP_INSTANCE".into())
            .into(),
        "pmx" | "automation" | "windowsHide" => true.into(),
        "treekill" => s.treekill.unwrap_or(true).into(),
        "username" => username().into(),
        "kill_retry_time" => 100.into(),
        _ => return None,
    })
}

fn username() -> String {
    nix::unistd::User::from_uid(nix::unistd::getuid())
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_else(|| "root".into())
}

fn path_str(p: &Option<std::path::PathBuf>) -> Value {
    p.as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "/dev/null".into())
        .into()
}

/// Options the user set that pm2 would also list (at the end of its schema part).
fn optional_fields(info: &ProcInfo, env: &mut Map<String, Value>) {
    let s = &info.spec;
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            env.entry(k.to_string()).or_insert(v);
        }
    };
    put("args", (!s.args.is_empty()).then(|| s.args.clone().into()));
    put("log_date_format", s.log_date_format.clone().map(Into::into));
    put("log_type", s.log_type.clone().map(Into::into));
    put("restart_delay", s.restart_delay.map(Into::into));
    put(
        "exp_backoff_restart_delay",
        s.exp_backoff_restart_delay.map(Into::into),
    );
    put("wait_ready", s.wait_ready.map(Into::into));
    put("kill_timeout", s.kill_timeout.map(Into::into));
    put(
        "shutdown_with_message",
        s.shutdown_with_message.map(Into::into),
    );
    put("listen_timeout", s.listen_timeout.map(Into::into));
    put("cron_restart", s.cron_restart.clone().map(Into::into));
    put(
        "stop_exit_codes",
        (!s.stop_exit_codes.is_empty()).then(|| s.stop_exit_codes.clone().into()),
    );
    put("watch_delay", s.watch_delay.map(Into::into));
    put(
        "ignore_watch",
        (!s.ignore_watch.is_empty()).then(|| s.ignore_watch.clone().into()),
    );
    put("min_uptime", s.min_uptime.map(Into::into));
    put("max_restarts", s.max_restarts.map(Into::into));
    put("increment_var", s.increment_var.clone().map(Into::into));
    put("workload", s.workload.clone().map(Into::into));
    for (k, v) in &s.extra {
        put(k, Some(v.clone()));
    }
}

pub fn render(info: &ProcInfo, usage: Usage, version: &Value) -> Value {
    let s = &info.spec;
    let mut e = Map::new();
    for key in SCHEMA_ORDER {
        if let Some(v) = spec_value(info, key) {
            e.insert((*key).into(), v);
        }
    }
    optional_fields(info, &mut e);
    e.insert("node_args".into(), s.interpreter_args.clone().into());
    e.insert("pm_exec_path".into(), s.script.clone().into());
    e.insert("pm_cwd".into(), s.cwd.clone().unwrap_or_default().into());
    e.insert(
        "exec_interpreter".into(),
        info.launch.interpreter.clone().into(),
    );
    e.insert("exec_mode".into(), s.exec_mode().as_str().into());
    if s.exec_mode() == ExecMode::Fork {
        e.insert("instances".into(), 1.into());
    }
    e.insert("pm_out_log_path".into(), path_str(&info.paths.out));
    e.insert("pm_err_log_path".into(), path_str(&info.paths.err));
    if info.paths.combined.is_some() {
        e.insert("pm_log_path".into(), path_str(&info.paths.combined));
    }
    e.insert(
        "pm_pid_path".into(),
        info.paths.pid.display().to_string().into(),
    );
    e.insert("km_link".into(), false.into());
    e.insert("vizion_running".into(), false.into());
    let instance_var = s
        .instance_var
        .clone()
        .unwrap_or_else(|| "NODE_APP_INSTANCE".into());
    e.insert(instance_var, info.instance.into());
    // pm2 lifts every scalar env entry to the top level of pm2_env; scripts read them there.
    let env_entries = info.env.iter().chain(s.env.iter());
    for (k, v) in env_entries {
        if !v.is_object() {
            e.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    e.insert("unique_id".into(), info.unique_id.clone().into());
    e.insert("status".into(), info.status.as_str().into());
    e.insert("pm_uptime".into(), info.pm_uptime.into());
    e.insert("axm_actions".into(), Value::Array(Vec::new()));
    e.insert("axm_monitor".into(), Value::Object(Map::new()));
    e.insert("axm_options".into(), Value::Object(Map::new()));
    e.insert("axm_dynamic".into(), Value::Object(Map::new()));
    e.insert("created_at".into(), info.created_at.into());
    e.insert("pm_id".into(), info.pm_id.into());
    e.insert("restart_time".into(), info.restart_time.into());
    e.insert("unstable_restarts".into(), info.unstable_restarts.into());
    if !version.is_null() {
        e.insert("version".into(), version.clone());
    }
    if let Some(v) = &info.node_version {
        e.insert("node_version".into(), v.clone().into());
    }
    if let Some(code) = &info.exit_code {
        e.insert("exit_code".into(), code.clone());
    }
    let running = info.pid.is_some() && info.status.is_running();
    let mut monit = Map::new();
    monit.insert(
        "memory".into(),
        if running { usage.memory } else { 0 }.into(),
    );
    // A JS number: whole values print as `0`, not `0.0`, in pm2's table and in jlist.
    let cpu = if running { usage.cpu } else { 0.0 };
    let cpu = if cpu.fract() == 0.0 {
        Value::from(cpu as u64)
    } else {
        serde_json::Number::from_f64(cpu)
            .map(Value::Number)
            .unwrap_or(0.into())
    };
    monit.insert("cpu".into(), cpu);
    let mut out = Map::new();
    out.insert(
        "pid".into(),
        if running { info.pid.unwrap_or(0) } else { 0 }.into(),
    );
    out.insert("name".into(), info.name.clone().into());
    out.insert("pm2_env".into(), Value::Object(e));
    out.insert("pm_id".into(), info.pm_id.into());
    out.insert("monit".into(), Value::Object(monit));
    Value::Object(out)
}

/// pm2's `version`: the `version` of the nearest package.json above the script, `N/A` when
/// there is none, and no key at all when that package.json has no version.
pub fn package_version(script: &str) -> Value {
    let mut dir = std::path::Path::new(script).parent();
    while let Some(d) = dir {
        if let Ok(text) = std::fs::read_to_string(d.join("package.json")) {
            return serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| v.get("version").cloned())
                .unwrap_or(Value::Null);
        }
        dir = d.parent();
    }
    Value::from("N/A")
}
