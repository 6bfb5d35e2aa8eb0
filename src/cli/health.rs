//! What `pm ls` and `pm describe` show of an app's checks (`pm2_env.health`,
//! `pm2_env.restart_reason`). Apps without probes look exactly as under pm2.

use serde_json::Value;

use crate::protocol::{Pm2Env, ProcView};

/// The `health` column's word for one process: `healthy`, `unhealthy`, `starting`, or `-`
/// for an app without probes.
pub fn cell(p: &ProcView) -> String {
    p.pm2_env
        .health
        .as_ref()
        .and_then(|h| h.get("status"))
        .and_then(Value::as_str)
        .unwrap_or("-")
        .to_string()
}

/// Whether any listed process has probes (only then does the table get a `health` column).
pub fn any_probed(list: &[ProcView]) -> bool {
    list.iter().any(|p| cell(p) != "-")
}

fn probe_line(r: &Value) -> String {
    let s = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or("");
    let n = |k: &str| r.get(k).and_then(Value::as_u64).unwrap_or(0);
    let at = r
        .get("at")
        .and_then(Value::as_i64)
        .and_then(chrono::DateTime::from_timestamp_millis)
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default();
    let verdict = if r.get("ok").and_then(Value::as_bool) == Some(true) {
        "ok"
    } else {
        "failed"
    };
    format!(
        "{} {} {verdict}: {} ({} ms, at {at}, {} failures / {} successes in a row)",
        s("type"),
        s("target"),
        s("message"),
        n("took_ms"),
        n("failures"),
        n("successes"),
    )
}

/// `pm describe`'s extra rows.
pub fn rows(e: &Pm2Env) -> Vec<(&'static str, String)> {
    let mut rows = Vec::new();
    if let Some(r) = &e.restart_reason {
        rows.push(("restart reason", r.clone()));
    }
    let Some(h) = &e.health else {
        return rows;
    };
    if let Some(s) = h.get("status").and_then(Value::as_str) {
        rows.push(("health", s.to_string()));
    }
    for (label, key) in [("liveness", "liveness"), ("readiness", "readiness")] {
        if let Some(r) = h.get(key) {
            rows.push((label, probe_line(r)));
        }
    }
    if let Some(n) = h.get("notify") {
        if let Some(s) = n.get("status").and_then(Value::as_str) {
            rows.push(("notify status", s.to_string()));
        }
        if let Some(p) = n.get("main_pid").and_then(Value::as_u64) {
            rows.push(("main pid", p.to_string()));
        }
        if n.get("stopping").and_then(Value::as_bool) == Some(true) {
            rows.push(("notify", "STOPPING".into()));
        }
    }
    rows
}
