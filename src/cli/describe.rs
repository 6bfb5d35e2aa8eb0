//! `pm describe <id|name>`: pm2's key/value table per matching process.

use comfy_table::{ContentArrangement, Table};
use serde_json::Value;

use crate::config::Home;
use crate::protocol::{DescribeRequest, Request};

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

fn iso(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_else(|| "N/A".into())
}

/// A string field, as pm2 prints an empty one.
fn or_na(s: &str) -> String {
    text(&Value::from(s))
}

/// An optional field, as pm2 prints a missing one.
fn opt(v: Option<&Value>) -> String {
    v.map_or_else(|| "N/A".into(), text)
}

/// pm2's "Code metrics value" table: each metric as `value unit`.
fn code_metrics(m: &serde_json::Map<String, Value>) -> Option<Table> {
    if m.is_empty() {
        return None;
    }
    let mut t = Table::new();
    t.load_preset("││──├─┼┤│    ┬┴┌┐└┘")
        .set_content_arrangement(ContentArrangement::Disabled);
    for (k, v) in m {
        let value = v.get("value").unwrap_or(v);
        let unit = v.get("unit").and_then(Value::as_str).unwrap_or("");
        let value = match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        t.add_row(vec![k.clone(), format!("{value} {unit}")]);
    }
    Some(t)
}

pub fn describe(home: &Home, target: &str) -> anyhow::Result<i32> {
    let found = super::procs(
        home,
        &Request::Describe(DescribeRequest {
            target: target.into(),
        }),
    )?;
    if found.is_empty() {
        eprintln!("[PM2][WARN] {target} doesn't exist");
        return Ok(1);
    }
    let now = crate::sys::clock::now_ms();
    // One stats request for all of them, and none unless one consumes a queue.
    let consumes = found
        .iter()
        .any(|p| p.pm2_env.options.contains_key(crate::queue::app::KEY));
    let queues = if consumes {
        super::queue::stats(home).unwrap_or_default()
    } else {
        Vec::new()
    };
    for p in &found {
        let p = &crate::protocol::secret::shown(p);
        let e = &p.pm2_env;
        let mut rows: Vec<(&str, String)> = vec![
            ("status", or_na(&e.status)),
            ("name", or_na(&p.name)),
            ("namespace", or_na(&e.namespace)),
            ("version", opt(e.version.as_ref())),
            ("restarts", e.restart_time.to_string()),
            (
                "uptime",
                if e.is_online() {
                    super::table::time_since(e.pm_uptime, now)
                } else {
                    "0".into()
                },
            ),
            ("script path", or_na(&e.pm_exec_path)),
            ("script args", opt(e.options.get("args"))),
            ("error log path", or_na(&e.pm_err_log_path)),
            ("out log path", or_na(&e.pm_out_log_path)),
            ("pid path", or_na(&e.pm_pid_path)),
            ("interpreter", or_na(&e.exec_interpreter)),
            (
                "interpreter args",
                text(&e.node_args.clone().unwrap_or_default().into()),
            ),
            ("script id", p.pm_id.to_string()),
            ("exec cwd", or_na(&e.pm_cwd)),
            ("exec mode", e.exec_mode.as_str().into()),
            ("node env", opt(e.env.get("NODE_ENV"))),
            (
                "watch & reload",
                if e.is_watching() { "✔" } else { "✘" }.into(),
            ),
            ("unstable restarts", e.unstable_restarts.to_string()),
            ("created at", iso(e.created_at)),
        ];
        rows.extend(super::health::rows(e));
        rows.extend(super::queue::app_rows(e, &queues));
        if let Some(err) = &e.log_error {
            rows.push(("log error", format!("output dropped: {err}")));
        }
        if let Some(w) = e.options.get("workload").and_then(Value::as_str) {
            rows.push((
                "instances",
                format!("{} (workload {w})", text(&e.instances)),
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
            p.pm_id,
            or_na(&p.name)
        );
        println!("{t}");
        if let Some(t) = code_metrics(&e.axm_monitor) {
            println!(" Code metrics value ");
            println!("{t}");
        }
        let actions: Vec<&str> = e
            .axm_actions
            .iter()
            .filter_map(|a| a.get("action_name").and_then(Value::as_str))
            .collect();
        if !actions.is_empty() {
            let mut t = Table::new();
            t.load_preset("││──├─┼┤│    ┬┴┌┐└┘")
                .set_content_arrangement(ContentArrangement::Disabled);
            for a in actions {
                t.add_row(vec![a]);
            }
            println!(" Actions available ");
            println!("{t}");
            println!(
                " Trigger via: pm trigger {} <action_name>\n",
                or_na(&p.name)
            );
        }
        println!(
            " Use `pm logs {} [--lines 1000]` to display logs",
            or_na(&p.name)
        );
    }
    Ok(0)
}
