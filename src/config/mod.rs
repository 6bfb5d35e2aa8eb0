//! Where things live (`PM_HOME`) and how apps are described (ecosystem files).

pub mod ecosystem;
pub mod paths;

pub use paths::Home;

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
