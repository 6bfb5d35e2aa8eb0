//! The process list as pm2 draws it: its column set, fixed widths, box characters and value
//! formats (`50.0mb `, `3s`, `0%`), rendered with comfy-table.

use comfy_table::{CellAlignment, ColumnConstraint, ContentArrangement, Table, Width};
use serde_json::Value;

use crate::protocol::{Monit, Pm2Env, ProcView};

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

/// pm2 prints a missing version as `N/A` in the table (and `undefined` in the mini list).
fn version(e: &Pm2Env, missing: &str) -> String {
    match &e.version {
        None | Some(Value::Null) => missing.into(),
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
    }
}

fn uptime(e: &Pm2Env, now: i64) -> String {
    if e.is_online() {
        time_since(e.pm_uptime, now)
    } else {
        "0".into()
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

/// A name as shown: an app named after its command line (`pm start "curl https://u:pw@h"`)
/// shows no URL password. (The table has no env: `describe` masks the env's values too.)
fn shown_name(p: &ProcView) -> String {
    crate::protocol::secret::mask_urls(&p.name)
}

fn row(p: &ProcView, now: i64) -> Row {
    let e = &p.pm2_env;
    Row {
        cells: vec![
            p.pm_id.to_string(),
            shown_name(p),
            e.namespace.clone(),
            version(e, "N/A"),
            e.exec_mode.short().into(),
            p.pid.to_string(),
            uptime(e, now),
            e.restart_time.to_string(),
            e.status.clone(),
            format!("{}%", cpu(p.monit.cpu)),
            bytes_to_size(p.monit.memory as f64),
            e.username.clone(),
            if e.is_watching() {
                "enabled"
            } else {
                "disabled"
            }
            .into(),
        ],
    }
}

/// A JS number as pm2 prints it: `0`, `12.5`.
fn cpu(v: f64) -> String {
    serde_json::to_value(Monit { memory: 0, cpu: v })
        .map(|m| m["cpu"].to_string())
        .unwrap_or_else(|_| "0".into())
}

/// Sorts as pm2's `--sort`: by name unless told otherwise, `:desc` reverses.
pub fn sort(list: &mut [ProcView], key: Option<&str>) {
    let (field, desc) = match key {
        Some(k) => match k.split_once(':') {
            Some((f, dir)) => (f.to_string(), dir == "desc"),
            None => (k.to_string(), false),
        },
        None => ("name".into(), false),
    };
    list.sort_by(|a, b| {
        let ord = match field.as_str() {
            "id" | "pm_id" => a.pm_id.cmp(&b.pm_id),
            "pid" => a.pid.cmp(&b.pid),
            "namespace" => a.pm2_env.namespace.cmp(&b.pm2_env.namespace),
            "status" => a.pm2_env.status.cmp(&b.pm2_env.status),
            "cpu" => a
                .monit
                .cpu
                .partial_cmp(&b.monit.cpu)
                .unwrap_or(std::cmp::Ordering::Equal),
            "memory" => a.monit.memory.cmp(&b.monit.memory),
            "uptime" => b.pm2_env.pm_uptime.cmp(&a.pm2_env.pm_uptime),
            _ => a.name.cmp(&b.name),
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
pub fn render(list: &[ProcView], now: i64) -> String {
    let max_id = list.iter().map(|p| p.pm_id).max().unwrap_or(0);
    let id_w = (max_id.to_string().len() + 2).max(4);
    let name_w = list
        .iter()
        .map(|p| shown_name(p).chars().count() + 5)
        .max()
        .unwrap_or(11)
        .min(40);
    let mut widths = vec![id_w, name_w, 13, 9, 9, 10, 8, 6, 11, 10, 10, 10, 10];
    let mut headers = HEADERS.to_vec();
    // Only when some app has probes, so pm2's table is unchanged for everyone else.
    let health = super::health::any_probed(list);
    if health {
        headers.push("health");
        widths.push(11);
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|p| {
            let mut r = row(p, now);
            if health {
                r.cells.push(super::health::cell(p));
            }
            r.cells
                .into_iter()
                .zip(widths.iter())
                .map(|(c, w)| fit(c, *w))
                .collect()
        })
        .collect();
    if rows.iter().flatten().all(|c| c.is_ascii()) {
        return draw(&headers, &widths, &rows);
    }
    let mut t = Table::new();
    t.load_preset("││──├─┼┤│    ┬┴┌┐└┘")
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(headers.iter().map(|h| comfy_table::Cell::new(*h)));
    for r in rows {
        t.add_row(r);
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

/// The table comfy-table draws with these fixed widths, drawn directly: with a thousand apps
/// comfy-table's layout took most of `pm ls`. Only for ASCII cells (each one column wide and
/// already cut to fit); anything else goes through comfy-table, which measures wide characters.
fn draw(headers: &[&str], widths: &[usize], rows: &[Vec<String>]) -> String {
    let line = |l: &str, m: &str, r: &str| {
        let mut s = String::from(l);
        for (i, w) in widths.iter().enumerate() {
            if i > 0 {
                s.push_str(m);
            }
            s.push_str(&"─".repeat(*w));
        }
        s.push_str(r);
        s
    };
    let cells = |out: &mut String, cells: &mut dyn Iterator<Item = &str>| {
        out.push('│');
        for (c, w) in cells.zip(widths) {
            out.push(' ');
            out.push_str(c);
            // The cell's padding and the rest of its width; a header may be wider than
            // ASCII's one column per byte (`↺`), so count characters.
            let used = 1 + c.chars().count();
            out.extend(std::iter::repeat_n(' ', w.saturating_sub(used)));
            out.push('│');
        }
    };
    let mut out = line("┌", "┬", "┐");
    out.push('\n');
    cells(&mut out, &mut headers.iter().copied());
    out.push('\n');
    out.push_str(&line("├", "┼", "┤"));
    for r in rows {
        out.push('\n');
        cells(&mut out, &mut r.iter().map(String::as_str));
    }
    out.push('\n');
    out.push_str(&line("└", "┴", "┘"));
    out
}

/// `pm ls -m`: pm2's plain block per process.
pub fn render_mini(list: &[ProcView], now: i64) -> String {
    let mut out = String::new();
    for p in list {
        let e = &p.pm2_env;
        out.push_str(&format!(
            "+--- {}\nnamespace : {}\nversion : {}\npid : {}\npm2 id : {}\nstatus : {}\nmode : {}\nrestarted : {}\nuptime : {}\nmemory usage : {}\nerror log : {}\nwatching : {}\nPID file : {}\n\n",
            shown_name(p),
            e.namespace,
            version(e, "undefined"),
            p.pid,
            p.pm_id,
            e.status,
            e.exec_mode.short(),
            e.restart_time,
            uptime(e, now),
            bytes_to_size(p.monit.memory as f64),
            e.pm_err_log_path,
            if e.is_watching() { "yes" } else { "no" },
            e.pm_pid_path,
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
        let view = |pid, name: &str, pm_id, status: &str, memory| ProcView {
            pid,
            name: name.into(),
            pm_id,
            pm2_env: Pm2Env {
                namespace: "default".into(),
                version: Some("N/A".into()),
                status: status.into(),
                username: "root".into(),
                watch: false.into(),
                ..Default::default()
            },
            monit: Monit { memory, cpu: 0.0 },
        };
        let p = view(4875, "web", 0, "online", 52428800);
        let q = view(0, "worker", 1, "stopped", 0);
        let expected = "\
┌────┬───────────┬─────────────┬─────────┬─────────┬──────────┬────────┬──────┬───────────┬──────────┬──────────┬──────────┬──────────┐
│ id │ name      │ namespace   │ version │ mode    │ pid      │ uptime │ ↺    │ status    │ cpu      │ mem      │ user     │ watching │
├────┼───────────┼─────────────┼─────────┼─────────┼──────────┼────────┼──────┼───────────┼──────────┼──────────┼──────────┼──────────┤
│ 0  │ web       │ default     │ N/A     │ fork    │ 4875     │ 3s     │ 0    │ online    │ 0%       │ 50.0mb   │ root     │ disabled │
│ 1  │ worker    │ default     │ N/A     │ fork    │ 0        │ 0      │ 0    │ stopped   │ 0%       │ 0b       │ root     │ disabled │
└────┴───────────┴─────────────┴─────────┴─────────┴──────────┴────────┴──────┴───────────┴──────────┴──────────┴──────────┴──────────┘";
        assert_eq!(render(&[p, q], 3_000), expected);
    }

    #[test]
    fn the_direct_drawing_is_comfy_tables() {
        // Whatever the cells, the ASCII fast path draws what comfy-table draws.
        let view = |pm_id: u32, name: &str, status: &str, pid: u32| ProcView {
            pid,
            name: name.into(),
            pm_id,
            pm2_env: Pm2Env {
                namespace: "a-rather-long-namespace".into(),
                version: Some("1.2.3-beta.4+build".into()),
                status: status.into(),
                username: "someone-with-a-long-name".into(),
                watch: true.into(),
                restart_time: 123456,
                ..Default::default()
            },
            monit: Monit {
                memory: 1 << 40,
                cpu: 12.5,
            },
        };
        let list: Vec<ProcView> = (0..120)
            .map(|i| {
                let name = "x".repeat(i % 50);
                view(
                    i as u32 * 37,
                    &name,
                    "waiting restart",
                    4_000_000 + i as u32,
                )
            })
            .collect();
        let widths_of = |list: &[ProcView]| {
            let max_id = list.iter().map(|p| p.pm_id).max().unwrap_or(0);
            let id_w = (max_id.to_string().len() + 2).max(4);
            let name_w = list
                .iter()
                .map(|p| p.name.chars().count() + 5)
                .max()
                .unwrap_or(11)
                .min(40);
            [id_w, name_w, 13, 9, 9, 10, 8, 6, 11, 10, 10, 10, 10]
        };
        for list in [&list[..], &list[..1], &[]] {
            let widths = widths_of(list);
            let mut t = Table::new();
            t.load_preset("││──├─┼┤│    ┬┴┌┐└┘")
                .set_content_arrangement(ContentArrangement::Disabled)
                .set_header(HEADERS.iter().map(|h| comfy_table::Cell::new(*h)));
            for p in list {
                t.add_row(
                    row(p, 0)
                        .cells
                        .into_iter()
                        .zip(widths)
                        .map(|(c, w)| fit(c, w)),
                );
            }
            for (i, w) in widths.iter().enumerate() {
                if let Some(col) = t.column_mut(i) {
                    col.set_constraint(ColumnConstraint::Absolute(Width::Fixed(*w as u16)));
                    col.set_padding((1, 1));
                    col.set_cell_alignment(CellAlignment::Left);
                }
            }
            assert_eq!(render(list, 0), t.to_string());
        }
    }
}
