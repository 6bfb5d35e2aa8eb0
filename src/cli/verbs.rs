//! pm2's smaller read-only verbs (`env`, `id`, `slist`, `inspect`, `trigger`, `report`) and its
//! pm2.io verbs, which pm-native answers honestly instead of failing with "command not found".

use anyhow::{anyhow, bail};
use serde_json::{Map, Value};

use super::Out;
use crate::config::Home;

/// Keys pm2's `Common.safeExtend` leaves out of `pm2 env <id>`: its own bookkeeping.
const ENV_HIDDEN: &[&str] = &[
    "name",
    "exec_mode",
    "env",
    "args",
    "pm_cwd",
    "exec_interpreter",
    "pm_exec_path",
    "node_args",
    "pm_out_log_path",
    "pm_err_log_path",
    "pm_pid_path",
    "pm_id",
    "status",
    "pm_uptime",
    "created_at",
    "windowsHide",
    "username",
    "merge_logs",
    "kill_retry_time",
    "prev_restart_delay",
    "instance_var",
    "unstable_restarts",
    "restart_time",
    "axm_actions",
    "pmx_module",
    "command",
    "watch",
    "filter_env",
    "versioning",
    "vizion_runing",
    "MODULE_DEBUG",
    "pmx",
    "axm_options",
    "vizion",
    "axm_dynamic",
    "axm_monitor",
    "instances",
    "automation",
    "autostart",
    "autorestart",
    "stop_exit_codes",
    "unstable_restart",
    "treekill",
    "exit_code",
];

/// JavaScript's `String(value)`, which pm2's template strings apply to each value.
fn js_string(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        // Array.prototype.toString: elements joined by commas, null becoming "".
        Value::Array(a) => a
            .iter()
            .map(|e| match e {
                Value::Null => String::new(),
                other => js_string(other),
            })
            .collect::<Vec<_>>()
            .join(","),
        Value::Object(_) => "[object Object]".into(),
    }
}

/// The lines of `pm2 env <id>`: pm2_env's scalar keys, walked backwards as `safeExtend` does.
pub fn env_lines(pm2_env: &Map<String, Value>, color: bool) -> Vec<String> {
    pm2_env
        .iter()
        .rev()
        .filter(|(k, v)| !ENV_HIDDEN.contains(&k.as_str()) && !v.is_object())
        .map(|(k, v)| {
            let v = js_string(v);
            if color {
                format!("{k}: \x1b[32m{v}\x1b[39m")
            } else {
                format!("{k}: {v}")
            }
        })
        .collect()
}

pub fn env(home: &Home, id: &str) -> anyhow::Result<i32> {
    use std::io::IsTerminal;
    let list = super::list(home)?;
    let wanted = id.trim().parse::<u32>().ok();
    let Some(p) = list.iter().find(|p| Some(p.pm_id) == wanted) else {
        bail!("Modules with id {id} not found");
    };
    let view = serde_json::to_value(crate::protocol::secret::shown(p))?;
    let pm2_env = view
        .get("pm2_env")
        .and_then(Value::as_object)
        .ok_or_else(|| anyhow!("the daemon sent a process without pm2_env"))?;
    let color = std::io::stdout().is_terminal();
    for line in env_lines(pm2_env, color) {
        println!("{line}");
    }
    Ok(0)
}

/// `pm2 id <name>`: the ids of the processes with exactly this name, as util.inspect prints them.
pub fn id(home: &Home, name: &str) -> anyhow::Result<i32> {
    let ids: Vec<Value> = super::list(home)?
        .iter()
        .filter(|p| p.name == name)
        .map(|p| Value::from(p.pm_id))
        .collect();
    println!("{}", super::inspect::inspect(&Value::Array(ids)));
    Ok(0)
}

/// pm2 toggles the inspector through its @pm2/io agent; with no agent it prints this, exit 0.
pub fn inspect(home: &Home, name: &str, out: &Out) -> anyhow::Result<i32> {
    super::list(home)?;
    out.line(format!("Unable to activate inspect mode on {name} !!!"));
    Ok(0)
}

/// `pm trigger <id|name|namespace|all> <action> [params]`: calls an action the app's agent
/// registered (`io.action()` of `@pm2/io`), printing each process's reply as pm2 does
/// (`[name:id:namespace]=<json>`). The bus is joined before the call so no reply is missed; a
/// process that exits before replying is named instead of waited for forever.
pub fn trigger(home: &Home, target: &str, action: &str, params: &[String]) -> anyhow::Result<i32> {
    use crate::protocol::{BusEvent, Request, Response, TriggerRequest};
    let mut bus = super::client::Client::connect(home)?.subscribe()?;
    let req = Request::Trigger(TriggerRequest {
        target: target.to_string(),
        action: action.to_string(),
        params: (!params.is_empty()).then(|| Value::String(params.join(" "))),
    });
    let procs = match super::client::Client::connect(home)?.call_ok(&req)? {
        Response::Procs { procs } => procs,
        other => bail!("unexpected answer from the daemon: {other:?}"),
    };
    if procs.is_empty() {
        eprintln!("Not any process has received a command (offline or unexistent)");
        return Ok(1);
    }
    println!("{} processes have received command {action}", procs.len());
    let mut waiting: Vec<u32> = procs.iter().map(|p| p.pm_id).collect();
    let mut code = 0;
    while !waiting.is_empty() {
        match bus.next_event()? {
            BusEvent::Message { channel, message } if channel == "axm:reply" => {
                let p = &message.process;
                if !waiting.contains(&p.pm_id)
                    || message.data.get("action_name").and_then(Value::as_str) != Some(action)
                {
                    continue;
                }
                waiting.retain(|id| *id != p.pm_id);
                let ret = message.data.get("return").cloned().unwrap_or(Value::Null);
                let ns = p.namespace.as_deref().unwrap_or("default");
                println!("[{}:{}:{ns}]={ret}", p.name, p.pm_id);
            }
            BusEvent::Process(e) if e.event == "exit" && waiting.contains(&e.process.pm_id) => {
                waiting.retain(|id| *id != e.process.pm_id);
                let p = &e.process;
                eprintln!(
                    "[PM2][ERROR] [{}:{}:{}] exited before replying to {action}",
                    p.name, p.pm_id, p.namespace
                );
                code = 1;
            }
            BusEvent::Kill(_) => bail!("the daemon stopped before every reply came"),
            _ => {}
        }
    }
    Ok(code)
}

/// `pm2 slist`: the host's memory in pm2's metric shape (pm2 adds CPU, network and disk rates
/// from a sampler pm-native's daemon does not run).
pub fn slist() -> anyhow::Result<i32> {
    let text = std::fs::read_to_string("/proc/meminfo")
        .map_err(|e| anyhow!("cannot read /proc/meminfo: {e}"))?;
    let field = |name: &str| -> Option<u64> {
        let line = text.lines().find(|l| l.starts_with(name))?;
        let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kb * 1024)
    };
    let (total, available, active) = (
        field("MemTotal:").unwrap_or(0),
        field("MemAvailable:").unwrap_or(0),
        field("Active:").unwrap_or(0),
    );
    let usage = if total > 0 {
        ((total - available.min(total)) as f64 * 1000.0 / total as f64).round() / 10.0
    } else {
        0.0
    };
    let metric = |value: Value, unit: &str| serde_json::json!({"value": value, "type": "metric", "unit": unit, "historic": true});
    let mut m = Map::new();
    m.insert("RAM Usage".into(), metric(usage.into(), "%"));
    m.insert("RAM Total".into(), metric(total.into(), "b"));
    m.insert("RAM Available".into(), metric(available.into(), "b"));
    m.insert("RAM Active".into(), metric(active.into(), "b"));
    print!("{}", super::inspect::inspect(&Value::Object(m)));
    Ok(0)
}

/// `pm link`, `pm plus`, `pm open`, ...: pm2.io's remote dashboard is not part of pm-native.
pub fn pm2io(verb: &str) -> anyhow::Result<i32> {
    bail!("pm {verb}: pm-native has no pm2.io link; use pm ls / pm logs / pm describe / pm report")
}
