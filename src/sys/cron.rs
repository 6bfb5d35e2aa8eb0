//! `cron_restart` patterns (pm2 accepts 5 or 6 fields, seconds optional).

use std::time::Duration;

use chrono::Local;

/// The longest sleep between looks at the wall clock (croner's, under pm2, is 30 s too).
const MAX_SLEEP: Duration = Duration::from_secs(30);

/// A cron firing: a wall-clock time, since cron patterns mean the clock on the wall, and the
/// next moment to look at that clock again. Sleeping the whole way on the monotonic clock
/// would fire an hour late after the wall clock is set forward an hour (an NTP correction, a
/// VM resumed), and early after it is set back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Due {
    wall_ms: i64,
    pub wake: tokio::time::Instant,
}

impl Due {
    fn at(wall_ms: i64) -> Due {
        let left = (wall_ms - crate::sys::clock::now_ms()).max(0) as u64;
        Due {
            wall_ms,
            wake: tokio::time::Instant::now() + Duration::from_millis(left).min(MAX_SLEEP),
        }
    }

    pub fn wall_ms(&self) -> i64 {
        self.wall_ms
    }

    /// At a wake: `None` when the firing is due by the wall clock, else the next wake.
    pub fn again(self) -> Option<Due> {
        (crate::sys::clock::now_ms() < self.wall_ms).then(|| Due::at(self.wall_ms))
    }
}

/// The next time a cron pattern fires.
pub fn next_cron(pattern: &str) -> Option<Due> {
    use croner::parser::{CronParser, Seconds};
    let cron = CronParser::builder()
        .seconds(Seconds::Optional)
        .build()
        .parse(pattern)
        .ok()?;
    let now = Local::now();
    let next = cron.find_next_occurrence(&now, false).ok()?;
    Some(Due::at(next.timestamp_millis()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_second_cron_is_near() {
        let at = next_cron("* * * * * *").expect("valid");
        assert!(at.wake <= tokio::time::Instant::now() + std::time::Duration::from_millis(1100));
        assert!(next_cron("nope").is_none());
    }

    #[tokio::test]
    async fn a_far_firing_looks_at_the_wall_clock_every_30_s() {
        let at = next_cron("0 0 1 1 *").expect("valid");
        assert!(at.wake <= tokio::time::Instant::now() + MAX_SLEEP);
        assert_eq!(
            at.again().map(|d| d.wall_ms),
            Some(at.wall_ms),
            "not due yet"
        );
        let past = Due::at(crate::sys::clock::now_ms() - 1);
        assert_eq!(past.again(), None, "due");
    }
}
