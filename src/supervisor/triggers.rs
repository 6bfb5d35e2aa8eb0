//! Restart triggers besides a crash: memory over `max_memory_restart` and `cron_restart`.

use chrono::Local;

/// The whole tree's RSS: the app and its descendants (a worker pool's memory counts too).
/// Children are found through `/proc/<pid>/task/<tid>/children`, a few small reads per app.
pub fn tree_rss(pid: u32) -> u64 {
    let mut total = 0;
    let mut stack = vec![pid];
    let mut seen = 0;
    while let Some(p) = stack.pop() {
        seen += 1;
        if seen > 4096 {
            break;
        }
        total += crate::metrics::rss_bytes(p).unwrap_or(0);
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{p}/task")) else {
            continue;
        };
        for t in tasks.flatten() {
            if let Ok(children) = std::fs::read_to_string(t.path().join("children")) {
                stack.extend(
                    children
                        .split_whitespace()
                        .filter_map(|c| c.parse::<u32>().ok()),
                );
            }
        }
    }
    total
}

/// The next time a cron pattern fires, as a tokio instant.
pub fn next_cron(pattern: &str) -> Option<tokio::time::Instant> {
    use croner::parser::{CronParser, Seconds};
    let cron = CronParser::builder()
        .seconds(Seconds::Optional)
        .build()
        .parse(pattern)
        .ok()?;
    let now = Local::now();
    let next = cron.find_next_occurrence(&now, false).ok()?;
    let wait = (next - now).to_std().unwrap_or_default();
    Some(tokio::time::Instant::now() + wait)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_rss_counts_self() {
        assert!(tree_rss(std::process::id()) > 0);
    }

    #[tokio::test]
    async fn every_second_cron_is_near() {
        let at = next_cron("* * * * * *").expect("valid");
        assert!(at <= tokio::time::Instant::now() + std::time::Duration::from_millis(1100));
        assert!(next_cron("nope").is_none());
    }
}
