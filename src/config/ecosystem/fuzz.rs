//! Property tests: whatever JSON or YAML an ecosystem file holds, loading it is a value or one
//! error line, never a panic. Values are built from pm2's real option names so the cases reach
//! the per-field parsing, not only the top-level shape checks.

use std::path::Path;

use proptest::prelude::*;
use serde_json::{Map, Value};

use super::from_value;

const KEYS: &[&str] = &[
    "name",
    "script",
    "args",
    "cwd",
    "instances",
    "exec_mode",
    "env",
    "env_production",
    "max_memory_restart",
    "cron_restart",
    "kill_timeout",
    "watch",
    "ignore_watch",
    "node_args",
    "interpreter",
    "out_file",
    "error_file",
    "log_date_format",
    "autorestart",
    "max_restarts",
    "min_uptime",
    "restart_delay",
    "exp_backoff_restart_delay",
    "health",
    "depends_on",
    "namespace",
    "merge_logs",
    "time",
    "wait_ready",
    "listen_timeout",
    "kill_signal",
    "apps",
    "deploy",
    "maxMemoryRestart",
    "cmd",
    "exec",
    "port",
    "stop_exit_codes",
    "source_map_support",
];

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        "\\PC{0,12}".prop_map(Value::String),
        prop::sample::select(vec![
            "idle.js",
            "10M",
            "1G",
            "-1",
            "max",
            "0 * * * *",
            "SIGINT",
            "true",
            ""
        ])
        .prop_map(|s| Value::String(s.into())),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..6).prop_map(|kv| {
                Value::Object(
                    kv.into_iter()
                        .map(|(k, v)| (k.to_string(), v))
                        .collect::<Map<_, _>>(),
                )
            }),
        ]
    })
}

fn config() -> impl Strategy<Value = Value> {
    prop_oneof![
        value(),
        prop::collection::vec(value(), 0..3).prop_map(|apps| serde_json::json!({ "apps": apps })),
        value().prop_map(|app| serde_json::json!({ "apps": [app] })),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn any_json_value_loads_or_fails_in_one_line(v in config(), env in proptest::option::of("[a-z]{1,8}")) {
        if let Err(e) = from_value(v, Path::new("/tmp"), env.as_deref(), &[], "fuzz.json") {
            let line = e.to_string();
            prop_assert!(!line.contains('\n'), "{line:?}");
        }
    }

    #[test]
    fn any_yaml_text_parses_or_fails_in_one_line(text in "(\\PC|\n| ){0,200}") {
        if let Err(e) = super::format::parse_yaml(&text, "fuzz.yml") {
            let line = e.to_string();
            prop_assert!(!line.contains('\n'), "{line:?}");
        }
    }

    #[test]
    fn yaml_of_any_value_round_trips_into_the_loader(v in config()) {
        let text = serde_yaml_ng::to_string(&v).unwrap_or_default();
        if let Ok(parsed) = super::format::parse_yaml(&text, "fuzz.yml") {
            let _ = from_value(parsed, Path::new("/tmp"), None, &[], "fuzz.yml");
        }
    }
}
