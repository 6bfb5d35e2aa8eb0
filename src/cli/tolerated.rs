//! Options pm2 accepts that pm-native either applies here (`port`, `append_env_to_name`) or
//! does not act on: each of those is named once on stderr, so nobody relies on it unknowingly.

use std::collections::BTreeSet;

use serde_json::Value;

use super::args::Pm2ioFlags;
use crate::protocol::AppSpec;

/// pm2 app options pm-native keeps (jlist shows them back) without acting on them. The ones
/// that are already true of pm-native (`pmx: false`, `automation: false`, `disable_trace`,
/// `vizion`, `windowsHide`) are not listed: ignoring them changes nothing.
const IGNORED_KEYS: &[&str] = &[
    "name_prefix",
    "install_url",
    "post_update",
    "kill_retry_time",
    "io",
];

/// Options that ask for the @pm2/io agent only when true.
const AGENT_KEYS: &[&str] = &["trace", "v8", "event_loop_inspector", "deep_monitoring"];

pub fn warning(name: &str) -> String {
    format!("[PM2][WARN] option {name} is not supported yet and is ignored")
}

fn warn(name: &str) {
    eprintln!("{}", warning(name));
}

/// The global pm2.io flags that ask for something pm-native has no agent for.
pub fn flags(f: &Pm2ioFlags) {
    for (on, name) in [
        (f.trace, "--trace"),
        (f.v8, "--v8"),
        (f.event_loop_inspector, "--event-loop-inspector"),
        (f.deep_monitoring, "--deep-monitoring"),
    ] {
        if on {
            warn(name);
        }
    }
}

/// The option names of `apps` that pm-native ignores, each once.
pub fn ignored(apps: &[AppSpec]) -> BTreeSet<&'static str> {
    let mut names = BTreeSet::new();
    for app in apps {
        for key in IGNORED_KEYS {
            if app.extra.get(*key).is_some_and(|v| !v.is_null()) {
                names.insert(*key);
            }
        }
        for key in AGENT_KEYS {
            let on = app
                .extra
                .get(*key)
                .and_then(crate::protocol::loose::parse_bool)
                .unwrap_or(false);
            if on {
                names.insert(*key);
            }
        }
    }
    names
}

/// Keys of an app that are no pm2 option but that pm-native reads: health checks, start order,
/// chokidar's options, pm2's `port` and `append_env_to_name`, the pm2 keys for users and
/// secrets (whatever acts on them), and the queue an app consumes.
const NATIVE_KEYS: &[&str] = &[
    "health",
    "liveness",
    "readiness",
    "notify",
    "watchdog_sec",
    "max_event_loop_lag",
    "no_output_timeout",
    "depends_on",
    "watch_options",
    "port",
    "append_env_to_name",
    "user",
    "uid",
    "gid",
    "secrets",
    "queue",
];

/// Keys no table knows, by app, in file order: a typo (`instance: 4`, `max_memory`) would
/// otherwise be carried silently and never act. pm2 drops them without a word.
pub fn unknown(apps: &[AppSpec]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for app in apps {
        for key in app.extra.keys() {
            let known = crate::config::ecosystem::is_option_key(key)
                || key.starts_with("env_")
                || NATIVE_KEYS.contains(&key.as_str());
            if !known {
                out.push((app.resolved_name(), key.clone()));
            }
        }
    }
    out
}

/// Applies pm2's `port` (the app's `PORT` variable) and `append_env_to_name` (`--env production`
/// names the app `api-production`), then warns about what stays ignored.
pub fn apps(apps: &mut [AppSpec], env_name: Option<&str>) {
    for app in apps.iter_mut() {
        if let Some(port) = app.extra.get("port").filter(|p| !p.is_null()).cloned() {
            let port = match port {
                Value::String(s) => Value::String(s),
                other => Value::String(other.to_string()),
            };
            app.env.insert("PORT".into(), port);
        }
        let append = app
            .extra
            .get("append_env_to_name")
            .and_then(crate::protocol::loose::parse_bool)
            .unwrap_or(false);
        if let (true, Some(env)) = (append, env_name) {
            app.name = Some(format!("{}-{env}", app.resolved_name()));
        }
    }
    for name in ignored(apps) {
        warn(name);
    }
    for (app, key) in unknown(apps) {
        eprintln!("[PM2][WARN] app {app}: unknown option {key} (kept in pm2_env, not acted on)");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(v: Value) -> AppSpec {
        serde_json::from_value(v).expect("spec")
    }

    #[test]
    fn port_and_env_suffix_are_applied() {
        let mut a = [spec(
            serde_json::json!({"script": "a.js", "port": 3000, "append_env_to_name": true}),
        )];
        apps(&mut a, Some("production"));
        assert_eq!(a[0].env.get("PORT"), Some(&Value::from("3000")));
        assert_eq!(a[0].name.as_deref(), Some("a-production"));
    }

    #[test]
    fn unknown_options_are_named() {
        let a = [spec(serde_json::json!({
            "script": "a.js", "name": "a", "colour": "blue", "instance": 4,
            "env_production": {}, "health": null, "max_memory_restart": "1G", "maxRestarts": 3
        }))];
        assert_eq!(
            unknown(&a),
            vec![
                ("a".into(), "colour".into()),
                ("a".into(), "instance".into())
            ]
        );
    }

    #[test]
    fn ignored_options_are_named_once() {
        let a = [
            spec(serde_json::json!({"script": "a.js", "io": {}, "trace": true})),
            spec(
                serde_json::json!({"script": "b.js", "io": {}, "trace": false, "pmx": false, "uid": 0}),
            ),
        ];
        assert_eq!(ignored(&a).into_iter().collect::<Vec<_>>(), ["io", "trace"]);
    }
}
