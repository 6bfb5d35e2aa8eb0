//! pm2's own `dump.pm2`, as pm2 7 writes it: an array of `pm2_env` objects, one per instance,
//! holding the app's options (`name`, `args`, `exec_mode`, `watch`, ...), pm2's runtime state
//! (`status`, `pm_uptime`, `axm_*`), its resolved paths (`pm_exec_path`, `pm_cwd`,
//! `pm_out_log_path`, ...) and the environment twice: in `env` and flattened beside the options.
//!
//! Each app becomes one [`Saved`]: the options go through the ecosystem loader's key table and
//! parser, so a pm2 option means the same here as in an ecosystem file; the instances of one
//! app (same name) fold back into one app with their count; the environment is `env` without
//! the keys pm2 adds itself.

use std::path::Path;

use serde_json::{Map, Value};

use super::Saved;
use crate::config::ecosystem::{self, EcosystemError};

/// Keys pm2 puts in an app's `env` for its own use; the app never set them.
const PM2_ENV_KEYS: &[&str] = &[
    "unique_id",
    "pm_id",
    "NODE_APP_INSTANCE",
    "PM2_HOME",
    "PM2_USAGE",
    "PM2_INTERACTOR_PROCESSING",
    "PM2_JSON_PROCESSING",
    "PM2_PROGRAMMATIC",
];

/// Options pm-native reads that pm2's schema table does not list.
const MORE_KEYS: &[&str] = &["kill_signal"];

/// The apps of pm2's dump records, in the order pm2 saved them.
pub fn import(
    records: Vec<Map<String, Value>>,
    pm2_home: &Path,
    origin: &str,
) -> Result<Vec<Saved>, String> {
    let mut groups: Vec<(Map<String, Value>, u32)> = Vec::new();
    for r in records {
        let name = r.get("name").cloned();
        match groups
            .iter_mut()
            .find(|(first, _)| name.is_some() && first.get("name") == name.as_ref())
        {
            Some((_, count)) => *count += 1,
            None => groups.push((r, 1)),
        }
    }
    if groups.is_empty() {
        return Ok(Vec::new());
    }
    let mut envs = Vec::with_capacity(groups.len());
    let mut apps = Vec::with_capacity(groups.len());
    for (first, count) in groups {
        let (app, env) = options(first, count, pm2_home);
        apps.push(Value::Object(app));
        envs.push(env);
    }
    let specs = ecosystem::from_value(Value::Array(apps), Path::new("/"), None, &[], origin)
        .map_err(|e| match e {
            EcosystemError::App {
                index,
                name,
                message,
                ..
            } => format!("pm2 app #{index} ({}): {message}", name.unwrap_or_default()),
            other => other.to_string(),
        })?;
    Ok(specs
        .into_iter()
        .zip(envs)
        .map(|(spec, env)| Saved { spec, env })
        .collect())
}

/// One app's options, as an ecosystem file would give them, and its environment.
fn options(
    mut r: Map<String, Value>,
    count: u32,
    pm2_home: &Path,
) -> (Map<String, Value>, Map<String, Value>) {
    let instance_var = r
        .get("instance_var")
        .and_then(Value::as_str)
        .unwrap_or("NODE_APP_INSTANCE")
        .to_string();
    let env = match r.remove("env") {
        Some(Value::Object(env)) => env
            .into_iter()
            // pm2 keeps its per-app bookkeeping as an object under the app's name; an env value
            // the user gave as an object was turned into a string by pm2 already.
            .filter(|(k, v)| {
                matches!(v, Value::String(_) | Value::Number(_) | Value::Bool(_))
                    && !PM2_ENV_KEYS.contains(&k.as_str())
                    && *k != instance_var
            })
            .collect(),
        _ => Map::new(),
    };
    let separate_logs = r.get("merge_logs") != Some(&Value::Bool(true));
    let mut app = Map::new();
    let take = |r: &mut Map<String, Value>, key: &str| r.remove(key).filter(|v| !v.is_null());
    if let Some(script) = take(&mut r, "pm_exec_path") {
        app.insert("script".into(), script);
    }
    if let Some(cwd) = take(&mut r, "pm_cwd") {
        app.insert("cwd".into(), cwd);
    }
    let files = [
        ("pm_out_log_path", "out_file", "logs", separate_logs),
        ("pm_err_log_path", "error_file", "logs", separate_logs),
        ("pm_log_path", "log_file", "logs", false),
        ("pm_pid_path", "pid_file", "pids", true),
    ];
    for (theirs, ours, default_dir, numbered) in files {
        let Some(Value::String(p)) = take(&mut r, theirs) else {
            continue;
        };
        // pm2's default files live in its home; here they go to pm-native's own defaults.
        if Path::new(&p).parent() == Some(pm2_home.join(default_dir).as_path()) {
            continue;
        }
        let p = if numbered {
            strip_instance_suffix(&p)
        } else {
            p
        };
        app.insert(ours.into(), Value::String(p));
    }
    for (k, v) in r {
        let keep = match k.as_str() {
            "instances" | "env" => false,
            // pm2 also allows a list of prefixes here; pm-native filters all or nothing.
            "filter_env" => v.is_boolean(),
            k => ecosystem::is_option_key(k) || MORE_KEYS.contains(&k),
        };
        if keep && !app.contains_key(&k) {
            app.insert(k, v);
        }
    }
    let cluster = app.get("exec_mode").and_then(Value::as_str) == Some("cluster_mode");
    if cluster || count > 1 {
        app.insert("instances".into(), Value::from(count));
    }
    (app, env)
}

/// pm2 numbers a file per instance (`app-out-3.log`, `app-3.pid`) after the path the user gave.
fn strip_instance_suffix(path: &str) -> String {
    let (dir, file) = match path.rfind('/') {
        Some(i) => path.split_at(i + 1),
        None => ("", path),
    };
    let (stem, ext) = match file.rfind('.') {
        Some(i) if i > 0 => file.split_at(i),
        _ => (file, ""),
    };
    match stem.rfind('-') {
        Some(i)
            if i > 0 && stem[i + 1..].bytes().all(|b| b.is_ascii_digit()) && i + 1 < stem.len() =>
        {
            format!("{dir}{}{ext}", &stem[..i])
        }
        _ => path.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_numbers_come_off_file_names() {
        assert_eq!(
            strip_instance_suffix("/var/log/web-out-3.log"),
            "/var/log/web-out.log"
        );
        assert_eq!(strip_instance_suffix("/run/web-12.pid"), "/run/web.pid");
        assert_eq!(
            strip_instance_suffix("/var/log/web.log"),
            "/var/log/web.log"
        );
        assert_eq!(
            strip_instance_suffix("/var/log/web-.log"),
            "/var/log/web-.log"
        );
        assert_eq!(strip_instance_suffix("/a-1/out"), "/a-1/out");
    }
}
