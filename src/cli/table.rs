//! The process list as pm2 draws it: its column set, fixed widths, box characters and value
//! formats (`50.0mb `, `3s`, `0%`), rendered with comfy-table.

use comfy_table::{CellAlignment, ColumnConstraint, ContentArrangement, Table, Width};
use serde_json::Value;

/// pm2's `bytesToSize(bytes, 1)`, trailing space included.
pub fn bytes_to_size(bytes: f64) -> String {
    const K: f64 = 1024.0;
    if bytes < K {
        return format!("{}b ", bytes as u64);
    }
    for (unit, scale) in [
        ("kb", K),
        ("mb", K * K),
        ("gb", K * K * K),
        ("tb", K * K * K * K),
    ] {
        if bytes < scale * K || unit == "tb" {
            return format!("{:.1}{unit} ", bytes / scale);
        }
    }
    unreachable!("the loop returns at tb")
}

/// pm2's `timeSince`: each unit is used only once the count exceeds 1 (so `119s`, then `2m`).
pub fn time_since(since_ms: i64, now_ms: i64) -> String {
    let seconds = ((now_ms - since_ms).max(0) / 1000) as u64;
    for (unit, div) in [
        ("Y", 31_536_000),
        ("M", 2_592_000),
        ("D", 86_400),
        ("h", 3_600),
        ("m", 60),
    ] {
        let n = seconds / div;
        if n > 1 {
            return format!("{n}{unit}");
        }
    }
    format!("{seconds}s")
}

fn s<'a>(p: &'a Value, path: &[&str]) -> &'a Value {
    path.iter().fold(p, |v, k| v.get(k).unwrap_or(&Value::Null))
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn fit(value: String, width: usize) -> String {
    if value.chars().count() > width.saturating_sub(2) {
        let keep: String = value.chars().take(width.saturating_sub(3)).collect();
        format!("{keep}…")
    } else {
        value
    }
}

pub struct Row {
    cells: Vec<String>,
}

fn row(p: &Value, now: i64) -> Row {
    let env = s(p, &["pm2_env"]);
    let status = text(s(env, &["status"]));
    let online = status == "online";
    let mode = if text(s(env, &["exec_mode"])) == "cluster_mode" {
        "cluster"
    } else {
        "fork"
    };
    let uptime = if online {
        time_since(s(env, &["pm_uptime"]).as_i64().unwrap_or(now), now)
    } else {
        "0".into()
    };
    let watching = match s(env, &["watch"]) {
        Value::Bool(false) | Value::Null => "disabled",
        _ => "enabled",
    };
    let version = match s(env, &["version"]) {
        Value::Null => "N/A".to_string(),
        v => text(v),
    };
    Row {
        cells: vec![
            text(s(p, &["pm_id"])),
            text(s(p, &["name"])),
            text(s(env, &["namespace"])),
            version,
            mode.into(),
            text(s(p, &["pid"])),
            uptime,
            text(s(env, &["restart_time"])),
            status,
            format!("{}%", text(s(p, &["monit", "cpu"]))),
            bytes_to_size(s(p, &["monit", "memory"]).as_f64().unwrap_or(0.0)),
            text(s(env, &["username"])),
            watching.into(),
        ],
    }
}

/// Sorts as pm2's `--sort`: by name unless told otherwise, `:desc` reverses.
pub fn sort(list: &mut [Value], key: Option<&str>) {
    let (field, desc) = match key {
        Some(k) => match k.split_once(':') {
            Some((f, dir)) => (f.to_string(), dir == "desc"),
            None => (k.to_string(), false),
        },
        None => ("name".into(), false),
    };
    list.sort_by(|a, b| {
        let ord = match field.as_str() {
            "id" | "pm_id" => s(a, &["pm_id"]).as_u64().cmp(&s(b, &["pm_id"]).as_u64()),
            "pid" => s(a, &["pid"]).as_u64().cmp(&s(b, &["pid"]).as_u64()),
            "namespace" => {
                text(s(a, &["pm2_env", "namespace"])).cmp(&text(s(b, &["pm2_env", "namespace"])))
            }
            "status" => text(s(a, &["pm2_env", "status"])).cmp(&text(s(b, &["pm2_env", "status"]))),
            "cpu" => s(a, &["monit", "cpu"])
                .as_f64()
                .partial_cmp(&s(b, &["monit", "cpu"]).as_f64())
                .unwrap_or(std::cmp::Ordering::Equal),
            "memory" => s(a, &["monit", "memory"])
                .as_u64()
                .cmp(&s(b, &["monit", "memory"]).as_u64()),
            "uptime" => s(b, &["pm2_env", "pm_uptime"])
                .as_i64()
                .cmp(&s(a, &["pm2_env", "pm_uptime"]).as_i64()),
            _ => text(s(a, &["name"])).cmp(&text(s(b, &["name"]))),
        };
        if desc {
            ord.reverse()
        } else {
            ord
        }
    });
}

const HEADERS: [&str; 13] = [
    "id",
    "name",
    "namespace",
    "version",
    "mode",
    "pid",
    "uptime",
    "↺",
    "status",
    "cpu",
    "mem",
    "user",
    "watching",
];

/// The full pm2 table (what pm2 prints whenever stdout is not a narrow terminal).
pub fn render(list: &[Value], now: i64) -> String {
    let max_id = list
        .iter()
        .filter_map(|p| p["pm_id"].as_u64())
        .max()
        .unwrap_or(0);
    let id_w = (max_id.to_string().len() + 2).max(4);
    let name_w = list
        .iter()
        .map(|p| text(&p["name"]).chars().count() + 5)
        .max()
        .unwrap_or(11)
        .min(40);
    let widths = [id_w, name_w, 13, 9, 9, 10, 8, 6, 11, 10, 10, 10, 10];
    let mut t = Table::new();
    t.load_preset("││──├─┼┤│    ┬┴┌┐└┘")
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(HEADERS.iter().map(|h| comfy_table::Cell::new(*h)));
    for p in list {
        let r = row(p, now);
        t.add_row(r.cells.into_iter().zip(widths).map(|(c, w)| fit(c, w)));
    }
    for (i, w) in widths.iter().enumerate() {
        if let Some(col) = t.column_mut(i) {
            col.set_constraint(ColumnConstraint::Absolute(Width::Fixed(*w as u16)));
            col.set_padding((1, 1));
            col.set_cell_alignment(CellAlignment::Left);
        }
    }
    t.to_string()
}

/// `pm ls -m`: pm2's plain block per process.
pub fn render_mini(list: &[Value], now: i64) -> String {
    let mut out = String::new();
    for p in list {
        let env = s(p, &["pm2_env"]);
        let online = text(s(env, &["status"])) == "online";
        let watch = matches!(s(env, &["watch"]), Value::Bool(false) | Value::Null);
        out.push_str(&format!(
            "+--- {}\nnamespace : {}\nversion : {}\npid : {}\npm2 id : {}\nstatus : {}\nmode : {}\nrestarted : {}\nuptime : {}\nmemory usage : {}\nerror log : {}\nwatching : {}\nPID file : {}\n\n",
            text(s(p, &["name"])),
            text(s(env, &["namespace"])),
            match s(env, &["version"]) { Value::Null => "undefined".into(), v => text(v) },
            text(s(p, &["pid"])),
            text(s(p, &["pm_id"])),
            text(s(env, &["status"])),
            if text(s(env, &["exec_mode"])) == "cluster_mode" { "cluster" } else { "fork" },
            text(s(env, &["restart_time"])),
            if online { time_since(s(env, &["pm_uptime"]).as_i64().unwrap_or(now), now) } else { "0".into() },
            bytes_to_size(s(p, &["monit", "memory"]).as_f64().unwrap_or(0.0)),
            text(s(env, &["pm_err_log_path"])),
            if watch { "no" } else { "yes" },
            text(s(env, &["pm_pid_path"])),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pm2_formats() {
        assert_eq!(bytes_to_size(0.0), "0b ");
        assert_eq!(bytes_to_size(52_428_800.0), "50.0mb ");
        assert_eq!(bytes_to_size(2048.0), "2.0kb ");
        assert_eq!(time_since(0, 3_000), "3s");
        assert_eq!(time_since(0, 119_000), "119s");
        assert_eq!(time_since(0, 120_000), "2m");
        assert_eq!(time_since(0, 7_200_000), "2h");
    }

    #[test]
    fn table_matches_pm2_layout() {
        let p = serde_json::json!({"pid": 4875, "name": "web", "pm_id": 0,
            "pm2_env": {"namespace": "default", "version": "N/A", "exec_mode": "fork_mode", "restart_time": 0,
                "status": "online", "pm_uptime": 0, "username": "root", "watch": false},
            "monit": {"memory": 52428800u64, "cpu": 0}});
        let q = serde_json::json!({"pid": 0, "name": "worker", "pm_id": 1,
            "pm2_env": {"namespace": "default", "version": "N/A", "exec_mode": "fork_mode", "restart_time": 0,
                "status": "stopped", "pm_uptime": 0, "username": "root", "watch": false},
            "monit": {"memory": 0, "cpu": 0}});
        let expected = "\
┌────┬───────────┬─────────────┬─────────┬─────────┬──────────┬────────┬──────┬───────────┬──────────┬──────────┬──────────┬──────────┐
│ id │ name      │ namespace   │ version │ mode    │ pid      │ uptime │ ↺    │ status    │ cpu      │ mem      │ user     │ watching │
├────┼───────────┼─────────────┼─────────┼─────────┼──────────┼────────┼──────┼───────────┼──────────┼──────────┼──────────┼──────────┤
│ 0  │ web       │ default     │ N/A     │ fork    │ 4875     │ 3s     │ 0    │ online    │ 0%       │ 50.0mb   │ root     │ disabled │
│ 1  │ worker    │ default     │ N/A     │ fork    │ 0        │ 0      │ 0    │ stopped   │ 0%       │ 0b       │ root     │ disabled │
└────┴───────────┴─────────────┴─────────┴─────────┴──────────┴────────┴──────┴───────────┴──────────┴──────────┴──────────┴──────────┘";
        assert_eq!(render(&[p, q], 3_000), expected);
    }
}
