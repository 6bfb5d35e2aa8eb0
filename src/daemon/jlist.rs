//! Builds a process's [`ProcView`], pm2's `jlist` element, from what the daemon knows. The
//! view's own serialisation puts each field where pm2 7 does; here is what goes in it. Known
//! pm2 flaw not copied: pm2 lets a shell variable named like one of its own fields (`name`,
//! `watch`, ...) overwrite that field; here pm2's fields win.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::metrics::code::Agent;
use crate::metrics::Usage;
use crate::protocol::{AppSpec, Brief, Env, ExecMode, Monit, Pm2Env, ProcView};
use crate::supervisor::{ProcInfo, Status};

/// The daemon's user, looked up once: every app runs as it, and the lookup reads
/// `/etc/passwd` (a getuid, an open and several reads per app per list when done each time).
fn username() -> &'static str {
    static NAME: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    NAME.get_or_init(|| {
        nix::unistd::User::from_uid(nix::unistd::getuid())
            .ok()
            .flatten()
            .map(|u| u.name)
            .unwrap_or_else(|| "root".into())
    })
}

/// The user an app runs as: its `uid` (a name, or a number shown as its name) or the daemon's.
fn user_of(s: &AppSpec) -> String {
    match s.extra.get("uid") {
        Some(Value::String(u)) if u.parse::<u32>().is_err() => u.clone(),
        Some(v @ (Value::String(_) | Value::Number(_))) => {
            let n = crate::supervisor::spawn::env_string(v);
            n.parse()
                .ok()
                .and_then(|n| nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(n)).ok())
                .flatten()
                .map_or(n, |u| u.name)
        }
        _ => username().into(),
    }
}

fn path_str(p: &Option<std::path::PathBuf>) -> String {
    p.as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "/dev/null".into())
}

/// Options the user set that pm2 would also list (at the end of its schema part).
fn options(info: &ProcInfo) -> Map<String, Value> {
    let s = &info.spec;
    let mut out = Map::new();
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            out.entry(k.to_string()).or_insert(v);
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
    out
}

/// An env value as a number: pm2's `Number(value)` for the forms an env holds.
fn env_number(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

pub fn render(info: &ProcInfo, usage: Usage, version: &Value) -> ProcView {
    let s = &info.spec;
    let cluster = s.exec_mode() == ExecMode::Cluster;
    let mut env = (*info.env).clone();
    for (k, v) in &s.env {
        env.insert(k.clone(), v.clone());
    }
    env.insert("unique_id".into(), info.unique_id.clone().into());
    // pm2 lifts every scalar env entry to the top level of pm2_env; scripts read them there.
    let mut lifted = Map::new();
    for (k, v) in info.env.iter().chain(s.env.iter()) {
        if !v.is_object() {
            lifted.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    // What the instance was given (spawn adds its number to the base), where pm2 shows it.
    if let Some(inc) = s.increment_var.as_deref() {
        let base = env.get(inc).and_then(env_number).unwrap_or(0);
        let v = Value::from(base + i64::from(info.instance));
        env.insert(inc.to_string(), v.clone());
        lifted.insert(inc.to_string(), v);
    }
    let running = info.pid.is_some() && info.status.is_running();
    ProcView {
        pid: if running { info.pid.unwrap_or(0) } else { 0 },
        name: info.name.clone(),
        pm2_env: Pm2Env {
            name: info.name.clone(),
            namespace: info.namespace.clone(),
            env,
            instances: if cluster {
                s.instances.to_json()
            } else {
                1.into()
            },
            max_memory_restart: s.max_memory_restart,
            merge_logs: if cluster {
                s.merge_logs
            } else {
                Some(s.merge_logs.unwrap_or(true))
            },
            vizion: s.vizion.unwrap_or(true),
            autostart: s.autostart.unwrap_or(true),
            autorestart: s.autorestart.unwrap_or(true),
            watch: s.watch.clone().unwrap_or(Value::Bool(false)),
            instance_var: s
                .instance_var
                .clone()
                .unwrap_or_else(|| "NODE_APP_INSTANCE".into()),
            treekill: s.treekill.unwrap_or(true),
            username: user_of(s),
            options: options(info),
            node_args: (!s.node_args_cleared).then(|| s.interpreter_args.clone()),
            pm_exec_path: s.script.clone(),
            pm_cwd: s.cwd.clone().unwrap_or_default(),
            exec_interpreter: info.launch.interpreter.clone(),
            exec_mode: s.exec_mode(),
            pm_out_log_path: path_str(&info.paths.out),
            pm_err_log_path: path_str(&info.paths.err),
            pm_log_path: info
                .paths
                .combined
                .is_some()
                .then(|| path_str(&info.paths.combined)),
            pm_pid_path: info.paths.pid.display().to_string(),
            instance: info.instance,
            lifted,
            unique_id: info.unique_id.clone(),
            status: info.status.as_str().into(),
            pm_uptime: info.pm_uptime,
            created_at: info.created_at,
            pm_id: info.pm_id,
            restart_time: info.restart_time,
            unstable_restarts: info.unstable_restarts,
            version: (!version.is_null()).then(|| version.clone()),
            node_version: info.node_version.clone(),
            exit_code: info.exit_code.clone(),
            restart_reason: info.restart_reason.map(str::to_string),
            health: info.health.as_ref().map(|h| h.to_json()),
            log_error: info.log_error.clone(),
            axm_monitor: Map::new(),
            axm_actions: Vec::new(),
        },
        pm_id: info.pm_id,
        monit: Monit {
            memory: if running { usage.memory } else { 0 },
            cpu: if running { usage.cpu } else { 0.0 },
        },
    }
}

/// What `pm ls` prints of a process: the same values [`render`] gives those fields.
pub fn brief(info: &ProcInfo, usage: Usage) -> Brief {
    let s = &info.spec;
    let running = info.pid.is_some() && info.status.is_running();
    Brief {
        pm_id: info.pm_id,
        name: info.name.clone(),
        namespace: info.namespace.clone(),
        version: (!info.version.is_null()).then(|| info.version.clone()),
        exec_mode: s.exec_mode(),
        pid: if running { info.pid.unwrap_or(0) } else { 0 },
        pm_uptime: info.pm_uptime,
        restart_time: info.restart_time,
        status: info.status.as_str().into(),
        monit: Monit {
            memory: if running { usage.memory } else { 0 },
            cpu: if running { usage.cpu } else { 0.0 },
        },
        username: user_of(s),
        watching: !matches!(s.watch, None | Some(Value::Bool(false)) | Some(Value::Null)),
        pm_err_log_path: path_str(&info.paths.err),
        pm_pid_path: info.paths.pid.display().to_string(),
        health: info.health.as_ref().map(|h| h.to_json()),
        log_error: info.log_error.clone(),
    }
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

/// What a process's `pm2_env` is made of besides the facts fixed when the instance was created
/// (name, ids, paths, interpreter, versions, `created_at`): when none of it changed, the JSON
/// written last time is still right. A field `render` reads into `pm2_env` that can change
/// after creation must be here, or `jlist` would show its old value.
struct Key {
    env: Arc<Env>,
    spec: Arc<AppSpec>,
    /// `restart --name` renames an instance in place.
    name: String,
    restart_reason: Option<&'static str>,
    /// Probe results change on every probe, but only apps with probes have any.
    health: Option<Value>,
    log_error: Option<String>,
    /// Asked while the first instances launch, so it can arrive after their first view.
    node_version: Option<String>,
    status: Status,
    pm_uptime: i64,
    restart_time: u32,
    unstable_restarts: u32,
    exit_code: Option<Value>,
}

impl Key {
    fn of(info: &ProcInfo) -> Key {
        Key {
            env: info.env.clone(),
            spec: info.spec.clone(),
            name: info.name.clone(),
            restart_reason: info.restart_reason,
            health: info.health.as_ref().map(|h| h.to_json()),
            log_error: info.log_error.clone(),
            node_version: info.node_version.clone(),
            status: info.status,
            pm_uptime: info.pm_uptime,
            restart_time: info.restart_time,
            unstable_restarts: info.unstable_restarts,
            exit_code: info.exit_code.clone(),
        }
    }

    fn matches(&self, info: &ProcInfo) -> bool {
        Arc::ptr_eq(&self.env, &info.env)
            && Arc::ptr_eq(&self.spec, &info.spec)
            && self.name == info.name
            && self.restart_reason == info.restart_reason
            && self.health == info.health.as_ref().map(|h| h.to_json())
            && self.log_error == info.log_error
            && self.node_version == info.node_version
            && self.status == info.status
            && self.pm_uptime == info.pm_uptime
            && self.restart_time == info.restart_time
            && self.unstable_restarts == info.unstable_restarts
            && self.exit_code == info.exit_code
    }
}

/// One process's serialised `pm2_env` (and name), kept between lists.
struct Written {
    key: Key,
    /// The code metrics and actions written into it (they change every report, apart from
    /// the rest).
    agent: Agent,
    name: Box<[u8]>,
    pm2_env: Box<[u8]>,
}

/// The `jlist` JSON of every process, kept per pm_id so that a list serialises only what
/// changed since the last one: an idle app's `pm2_env` (its env, options and paths, nearly all
/// of its bytes) is written once, not on every `pm jlist`.
#[derive(Default)]
pub struct Views {
    written: HashMap<u32, Written>,
}

impl Views {
    /// Appends `info`'s element of the list, byte for byte what serialising
    /// `render(info, usage, ..)` gives.
    pub fn write(&mut self, out: &mut Vec<u8>, info: &ProcInfo, usage: Usage, agent: Agent) {
        let w = match self.written.get(&info.pm_id) {
            Some(w) if w.key.matches(info) && w.agent == agent => w,
            _ => {
                let mut view = render(info, Usage::default(), &info.version);
                view.pm2_env.axm_monitor = agent.monitor.clone();
                view.pm2_env.axm_actions = agent.actions.clone();
                let w = Written {
                    agent,
                    key: Key::of(info),
                    name: json(&view.name),
                    pm2_env: json(&view.pm2_env),
                };
                self.written.insert(info.pm_id, w);
                &self.written[&info.pm_id]
            }
        };
        let running = info.pid.is_some() && info.status.is_running();
        let pid = if running { info.pid.unwrap_or(0) } else { 0 };
        let monit = Monit {
            memory: if running { usage.memory } else { 0 },
            cpu: if running { usage.cpu } else { 0.0 },
        };
        // ProcView's own field order.
        out.extend_from_slice(format!("{{\"pid\":{pid},\"name\":").as_bytes());
        out.extend_from_slice(&w.name);
        out.extend_from_slice(b",\"pm2_env\":");
        out.extend_from_slice(&w.pm2_env);
        out.extend_from_slice(format!(",\"pm_id\":{},\"monit\":", info.pm_id).as_bytes());
        out.extend_from_slice(&json(&monit));
        out.push(b'}');
    }

    /// Forgets the processes that are gone (ids are never reused, so this only frees memory).
    pub fn retain(&mut self, live: impl Fn(u32) -> bool) {
        self.written.retain(|id, _| live(*id));
    }
}

fn json<T: serde::Serialize>(v: &T) -> Box<[u8]> {
    // A view's values are strings, numbers and maps with string keys: nothing can fail.
    serde_json::to_vec(v).unwrap_or_default().into_boxed_slice()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::supervisor::{Launch, Paths};

    fn info(pm_id: u32) -> ProcInfo {
        let mut env = Env::new();
        env.insert("HOME".into(), "/root".into());
        env.insert("status".into(), "lifted".into());
        env.insert("nested".into(), serde_json::json!({"a": 1}));
        let spec: AppSpec = serde_json::from_value(serde_json::json!({
            "name": "web", "script": "/srv/app.js", "env": {"PORT": "3000"}, "kill_timeout": 500
        }))
        .expect("spec");
        ProcInfo {
            pm_id,
            name: "web \"quoted\"".into(),
            namespace: "default".into(),
            spec: Arc::new(spec),
            env: Arc::new(env),
            instance: 0,
            unique_id: "u-1".into(),
            launch: Launch {
                interpreter: "node".into(),
                program: "node".into(),
                args: vec![],
                is_node: true,
            },
            paths: Paths {
                out: Some("/l/out.log".into()),
                err: None,
                combined: None,
                pid: "/p/web.pid".into(),
            },
            status: Status::Online,
            pid: Some(42),
            start_ticks: None,
            worker_id: None,
            restart_time: 0,
            unstable_restarts: 0,
            created_at: 1,
            pm_uptime: 2,
            exit_code: None,
            restart_reason: None,
            health: None,
            log_error: None,
            connected: true,
            version: "1.0.0".into(),
            node_version: Some("20.0.0".into()),
        }
    }

    fn typed(info: &ProcInfo, usage: Usage) -> Vec<u8> {
        serde_json::to_vec(&render(info, usage, &info.version)).expect("serialises")
    }

    #[test]
    fn kept_views_match_rendering_after_every_change() {
        let mut views = Views::default();
        let mut i = info(3);
        let usage = Usage {
            memory: 1234,
            cpu: 1.5,
        };
        let mut check = |i: &ProcInfo, usage: Usage| {
            let mut out = Vec::new();
            views.write(&mut out, i, usage, Agent::default());
            assert_eq!(
                String::from_utf8_lossy(&out),
                String::from_utf8_lossy(&typed(i, usage))
            );
        };
        check(&i, usage);
        check(&i, Usage::default());
        i.restart_time = 4;
        i.status = Status::Stopped;
        i.exit_code = Some(1.into());
        check(&i, usage);
        i.status = Status::Online;
        i.pm_uptime = 99;
        i.unstable_restarts = 1;
        check(&i, usage);
        let mut env = (*i.env).clone();
        env.insert("NEW".into(), "1".into());
        i.env = Arc::new(env);
        check(&i, usage);
        Arc::make_mut(&mut i.spec)
            .env
            .insert("PORT".into(), "4000".into());
        check(&i, usage);
        i.pid = None;
        check(&i, usage);
        // Changes made by restart options, health checks and renames show too.
        i.name = "renamed".into();
        check(&i, usage);
        i.restart_reason = Some("health");
        check(&i, usage);
        Arc::make_mut(&mut i.spec).watch = Some(Value::Bool(true));
        check(&i, usage);
    }
}
