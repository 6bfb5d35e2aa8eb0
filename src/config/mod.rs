//! Where things live (`PM_HOME`) and how apps are described (ecosystem files).

pub mod dump;
pub mod ecosystem;
pub mod paths;
pub mod settings;

pub use paths::Home;

/// A pm2 tuning variable: `PM_<NAME>`, else pm2's `PM2_<NAME>`, so existing set-ups keep working.
pub fn knob(name: &str) -> Option<String> {
    [format!("PM_{name}"), format!("PM2_{name}")]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
}

/// Defaults pm2 takes from the environment of the command that starts an app:
/// `PM2_KILL_USE_MESSAGE`, `PM2_GRACEFUL_TIMEOUT` and `PM2_GRACEFUL_LISTEN_TIMEOUT`.
pub fn apply_env_defaults(spec: &mut crate::protocol::AppSpec) {
    if spec.shutdown_with_message.is_none()
        && knob("KILL_USE_MESSAGE").is_some_and(|v| v == "true" || v == "1")
    {
        spec.shutdown_with_message = Some(true);
    }
    if spec.kill_timeout.is_none() {
        spec.kill_timeout = knob("GRACEFUL_TIMEOUT").and_then(|v| v.parse().ok());
    }
    if spec.listen_timeout.is_none() {
        spec.listen_timeout = knob("GRACEFUL_LISTEN_TIMEOUT").and_then(|v| v.parse().ok());
    }
}

/// Checks a `cron_restart` pattern as pm2 accepts it: 5 fields, or 6 with seconds first.
pub fn validate_cron(pattern: &str) -> Result<(), String> {
    use croner::parser::{CronParser, Seconds};
    CronParser::builder()
        .seconds(Seconds::Optional)
        .build()
        .parse(pattern)
        .map(|_| ())
        .map_err(|e| format!("invalid cron pattern \"{pattern}\": {e}"))
}
