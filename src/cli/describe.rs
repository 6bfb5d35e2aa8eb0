//! `pm describe <id|name>`: pm2's key/value table per matching process.

use anyhow::bail;
use comfy_table::{ContentArrangement, Table};
use serde_json::Value;

use crate::config::Home;

fn text(v: &Value) -> String {
    match v {
        Value::Null => "N/A".into(),
        Value::String(s) if s.is_empty() => "N/A".into(),
        Value::String(s) => s.clone(),
        Value::Array(a) if a.is_empty() => "N/A".into(),
        Value::Array(a) => a
            .iter()
            .map(|x| {
                x.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| x.to_string())
            })
            .collect::<Vec<_>>()
            .join(" "),
        other => other.to_string(),
    }
}

fn iso(ms: &Value) -> String {
    ms.as_i64()
        .and_then(chrono::DateTime::from_timestamp_millis)
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_else(|| "N/A".into())
}

pub fn describe(home: &Home, target: &str) -> anyhow::Result<i32> {
    let list = super::list(home)?;
    let found: Vec<&Value> = list
        .iter()
        .filter(|p| p["name"] == target || crate::cli::is_id(&p["pm_id"], target))
        .collect();
    if found.is_empty() {
        eprintln!("[PM2][WARN] {target} doesn't exist");
        return Ok(1);
    }
    let now = crate::supervisor::now_ms();
    for p in found {
        let e = &p["pm2_env"];
        let online = e["status"] == "online";
        let rows: Vec<(&str, String)> = vec![
            ("status", text(&e["status"])),
            ("name", text(&p["name"])),
            ("namespace", text(&e["namespace"])),
            ("version", text(&e["version"])),
            ("restarts", text(&e["restart_time"])),
            (
                "uptime",
                if online {
                    super::table::time_since(e["pm_uptime"].as_i64().unwrap_or(now), now)
                } else {
                    "0".into()
                },
            ),
            ("script path", text(&e["pm_exec_path"])),
            ("script args", text(&e["args"])),
            ("error log path", text(&e["pm_err_log_path"])),
            ("out log path", text(&e["pm_out_log_path"])),
            ("pid path", text(&e["pm_pid_path"])),
            ("interpreter", text(&e["exec_interpreter"])),
            ("interpreter args", text(&e["node_args"])),
            ("script id", text(&p["pm_id"])),
            ("exec cwd", text(&e["pm_cwd"])),
            ("exec mode", text(&e["exec_mode"])),
            ("node env", text(&e["env"]["NODE_ENV"])),
            (
                "watch & reload",
                if matches!(e["watch"], Value::Bool(false) | Value::Null) {
                    "✘".into()
                } else {
                    "✔".into()
                },
            ),
            ("unstable restarts", text(&e["unstable_restarts"])),
            ("created at", iso(&e["created_at"])),
        ];
        let mut rows = rows;
        if let Some(w) = e["workload"].as_str() {
            rows.push((
                "instances",
                format!("{} (workload {w})", text(&e["instances"])),
            ));
        }
        let mut t = Table::new();
        t.load_preset("││──├─┼┤│    ┬┴┌┐└┘")
            .set_content_arrangement(ContentArrangement::Disabled);
        for (k, v) in rows {
            t.add_row(vec![k.to_string(), v]);
        }
        println!(
            " Describing process with id {} - name {} ",
            p["pm_id"],
            text(&p["name"])
        );
        println!("{t}");
        println!(
            " Use `pm logs {} [--lines 1000]` to display logs",
            text(&p["name"])
        );
    }
    if list.is_empty() {
        bail!("no processes");
    }
    Ok(0)
}
