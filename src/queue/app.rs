//! Apps that consume a queue: an ecosystem entry's `queue: "jobs"` or `queue: { name,
//! concurrency, ... }`. The app's script calls `require('pm-native/worker').handle(fn)`, which
//! reads what is checked here from `PM_QUEUE` and runs `fn` for each job. Each instance is one
//! consumer, so `instances` and `pm scale` set how many; a stop or a reload lets an instance
//! finish the jobs it started (worker.js drains on `kill_signal`), so its grace period is the
//! time a job may take: the visibility timeout unless `kill_timeout` says otherwise.

use serde_json::{Map, Value};

use crate::protocol::queue::{check_name, DEFAULT_VISIBILITY_MS};
use crate::protocol::AppSpec;

/// The variable worker.js reads.
pub const ENV: &str = "PM_QUEUE";
/// The ecosystem key (not pm2's).
pub const KEY: &str = "queue";

/// The `queue()` options a consumer app may set, with how each is checked.
const OPTIONS: &[(&str, Kind)] = &[
    ("name", Kind::Name),
    ("concurrency", Kind::Count),
    ("maxAttempts", Kind::Count),
    ("visibilityTimeout", Kind::Millis),
    ("maxLength", Kind::Count),
    ("maxPayload", Kind::Count),
    ("connectTimeout", Kind::Millis),
    ("redis", Kind::Text),
    ("mode", Kind::Mode),
];

#[derive(Clone, Copy)]
enum Kind {
    Name,
    Count,
    Millis,
    Text,
    Mode,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Consumer {
    pub name: String,
    /// Jobs in hand at once per instance.
    pub concurrency: u64,
    /// How long an instance may take to finish its jobs when stopped.
    pub drain_ms: u64,
    /// Whether Redis is the transport (depth is then Redis's, not the daemon's).
    pub redis: bool,
    /// What the app gets in `PM_QUEUE`: the options as given, keys in camelCase.
    pub options: Map<String, Value>,
}

/// The app's queue, if it declares one; `Err` is one line naming the field.
pub fn parse(spec: &AppSpec) -> Result<Option<Consumer>, String> {
    parse_value(spec.extra.get(KEY))
}

/// The same, from the `queue` value alone (as `describe` reads it back from an app's options).
pub fn parse_value(value: Option<&Value>) -> Result<Option<Consumer>, String> {
    let mut options = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(name)) => {
            let mut m = Map::new();
            m.insert("name".into(), Value::String(name.clone()));
            m
        }
        Some(Value::Object(m)) => m.clone(),
        Some(other) => {
            return Err(format!(
                "queue: expected a queue name or {{ name, concurrency }}, got {other}"
            ))
        }
    };
    // snake_case spellings, as the rest of an ecosystem file may use them.
    for (snake, camel) in [
        ("max_attempts", "maxAttempts"),
        ("visibility_timeout", "visibilityTimeout"),
        ("max_length", "maxLength"),
        ("max_payload", "maxPayload"),
        ("connect_timeout", "connectTimeout"),
    ] {
        if let Some(v) = options.remove(snake) {
            options.entry(camel).or_insert(v);
        }
    }
    for (key, value) in options.iter_mut() {
        let Some((_, kind)) = OPTIONS.iter().find(|(k, _)| k == key) else {
            let known: Vec<&str> = OPTIONS.iter().map(|(k, _)| *k).collect();
            return Err(format!(
                "queue: unknown option {key} (known: {})",
                known.join(", ")
            ));
        };
        *value = check(key, *kind, value)?;
    }
    let name = match options.get("name") {
        Some(Value::String(n)) => n.clone(),
        _ => return Err("queue: needs a name (queue: { name: 'jobs' })".into()),
    };
    let num = |k: &str| options.get(k).and_then(Value::as_u64);
    Ok(Some(Consumer {
        name,
        concurrency: num("concurrency").unwrap_or(1),
        drain_ms: num("visibilityTimeout").unwrap_or(DEFAULT_VISIBILITY_MS),
        redis: options.contains_key("redis"),
        options,
    }))
}

fn check(key: &str, kind: Kind, v: &Value) -> Result<Value, String> {
    match kind {
        Kind::Name => match v {
            Value::String(s) => check_name(s)
                .map(|()| v.clone())
                .map_err(|e| format!("queue: {e}")),
            _ => Err(format!("queue: name must be a string, got {v}")),
        },
        Kind::Count => match whole(v) {
            Some(n) if (1..=1 << 31).contains(&n) => Ok(n.into()),
            _ => Err(format!(
                "queue: {key} must be a whole number from 1 to 2147483648, got {v}"
            )),
        },
        Kind::Millis => match millis(v) {
            Some(n) if n > 0 => Ok(n.into()),
            _ => Err(format!(
                "queue: {key} must be a duration (milliseconds, or \"30s\"), got {v}"
            )),
        },
        Kind::Text => match v {
            Value::String(s) if !s.is_empty() => Ok(v.clone()),
            _ => Err(format!("queue: {key} must be a non-empty string, got {v}")),
        },
        Kind::Mode => match v.as_str() {
            Some("reliable" | "list") => Ok(v.clone()),
            _ => Err(format!(
                "queue: mode must be 'reliable' (the default) or 'list', got {v}"
            )),
        },
    }
}

/// `4` or `"4"`, as pm2's numeric fields.
fn whole(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// `5000` or `"5s"`.
fn millis(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => crate::protocol::loose::parse_duration_ms(s).ok(),
        _ => None,
    }
}

/// The grace period of a stop: `kill_timeout` when given, else the time a job may take.
pub fn kill_timeout(spec: &AppSpec) -> Option<u64> {
    spec.kill_timeout
        .or_else(|| parse(spec).ok().flatten().map(|c| c.drain_ms))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(q: Value) -> AppSpec {
        let mut s = AppSpec::default();
        s.extra.insert(KEY.into(), q);
        s
    }

    #[test]
    fn a_name_or_an_object() {
        let c = parse(&spec(json!("jobs"))).expect("ok").expect("some");
        assert_eq!(
            (c.name.as_str(), c.concurrency, c.drain_ms),
            ("jobs", 1, 30_000)
        );
        let c = parse(&spec(
            json!({"name": "jobs", "concurrency": "4", "visibility_timeout": "5s"}),
        ))
        .expect("ok")
        .expect("some");
        assert_eq!((c.concurrency, c.drain_ms, c.redis), (4, 5000, false));
        assert_eq!(c.options["visibilityTimeout"], json!(5000));
        assert!(parse(&AppSpec::default()).expect("ok").is_none());
    }

    #[test]
    fn bad_values_name_their_field() {
        let err = |q: Value| parse(&spec(q)).expect_err("bad");
        assert!(err(json!({"concurrency": 2})).contains("needs a name"));
        assert!(err(json!({"name": "a b"})).contains("invalid queue name"));
        assert!(err(json!({"name": "q", "concurrency": 0})).contains("concurrency"));
        assert!(err(json!({"name": "q", "mode": "stream"})).contains("mode"));
        assert!(err(json!({"name": "q", "concurency": 2})).contains("unknown option concurency"));
        assert!(err(json!(3)).contains("expected a queue name"));
    }

    #[test]
    fn the_grace_period_is_the_visibility_timeout_unless_kill_timeout_is_given() {
        let mut s = spec(json!({"name": "q", "visibilityTimeout": 9000}));
        assert_eq!(kill_timeout(&s), Some(9000));
        s.kill_timeout = Some(100);
        assert_eq!(kill_timeout(&s), Some(100));
        assert_eq!(kill_timeout(&AppSpec::default()), None);
    }
}
