//! pm2's restart policy (`God.js` `handleExit`), as pure decisions so it can be tested without
//! processes: what to do when a child exits on its own. The daemon reads a [`Policy`] from each
//! app's options, `fork()` from its own; the decisions are the same.

use std::time::Duration;

pub const DEFAULT_MIN_UPTIME: u64 = 1000;
pub const DEFAULT_MAX_RESTARTS: u64 = 16;
/// pm2 caps exponential backoff here.
pub const MAX_BACKOFF_MS: u64 = 15_000;
/// A run this long counts as healthy and resets the backoff, as pm2 does.
pub const BACKOFF_RESET: Duration = Duration::from_secs(30);

/// The options the decisions depend on (pm2's names, milliseconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub autorestart: bool,
    /// Exit codes that mean "done, do not restart".
    pub stop_exit_codes: Vec<i32>,
    /// Unstable exits in a row before the app is errored.
    pub max_restarts: u64,
    /// A run shorter than this is unstable.
    pub min_uptime: u64,
    pub restart_delay: u64,
    /// The first delay of exponential backoff; 0 is off (then `restart_delay` applies).
    pub exp_backoff_restart_delay: u64,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            autorestart: true,
            stop_exit_codes: Vec::new(),
            max_restarts: DEFAULT_MAX_RESTARTS,
            min_uptime: DEFAULT_MIN_UPTIME,
            restart_delay: 0,
            exp_backoff_restart_delay: 0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Do not restart: autorestart off or a stop exit code.
    Stop,
    /// Too many unstable restarts in a row.
    Errored,
    Restart {
        delay_ms: u64,
    },
}

/// Counters the policy keeps between exits of one app.
#[derive(Debug, Clone, Default)]
pub struct PolicyState {
    /// Unstable exits in a row (reset by a run that outlived `min_uptime`).
    pub unstable_streak: u64,
    /// The last exponential-backoff delay, 0 when none is in force.
    pub prev_backoff: u64,
}

pub fn on_exit(
    policy: &Policy,
    st: &mut PolicyState,
    exit_code: Option<i32>,
    uptime: Duration,
) -> (Decision, bool) {
    let unstable = uptime < Duration::from_millis(policy.min_uptime);
    if !policy.autorestart || exit_code.is_some_and(|c| policy.stop_exit_codes.contains(&c)) {
        return (Decision::Stop, false);
    }
    if unstable {
        st.unstable_streak += 1;
    } else {
        st.unstable_streak = 0;
    }
    if st.unstable_streak >= policy.max_restarts {
        st.unstable_streak = 0;
        st.prev_backoff = 0;
        return (Decision::Errored, unstable);
    }
    let mut delay = policy.restart_delay;
    let base = policy.exp_backoff_restart_delay;
    if base > 0 {
        if uptime >= BACKOFF_RESET || st.prev_backoff == 0 {
            st.prev_backoff = base;
        } else {
            st.prev_backoff = ((st.prev_backoff as f64 * 1.5) as u64).min(MAX_BACKOFF_MS);
        }
        delay = st.prev_backoff;
    }
    (Decision::Restart { delay_ms: delay }, unstable)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAST: Duration = Duration::from_millis(10);

    #[test]
    fn errored_after_max_unstable_restarts_in_a_row() {
        let spec = Policy {
            max_restarts: 3,
            ..Default::default()
        };
        let mut st = PolicyState::default();
        assert_eq!(
            on_exit(&spec, &mut st, Some(1), FAST).0,
            Decision::Restart { delay_ms: 0 }
        );
        assert_eq!(
            on_exit(&spec, &mut st, Some(1), FAST).0,
            Decision::Restart { delay_ms: 0 }
        );
        // A stable run resets the streak.
        assert_eq!(
            on_exit(&spec, &mut st, Some(1), Duration::from_secs(5)).0,
            Decision::Restart { delay_ms: 0 }
        );
        assert_eq!(
            on_exit(&spec, &mut st, Some(1), FAST).0,
            Decision::Restart { delay_ms: 0 }
        );
        assert_eq!(
            on_exit(&spec, &mut st, Some(1), FAST).0,
            Decision::Restart { delay_ms: 0 }
        );
        assert_eq!(on_exit(&spec, &mut st, Some(1), FAST).0, Decision::Errored);
    }

    #[test]
    fn stop_codes_and_autorestart_off() {
        let spec = Policy {
            stop_exit_codes: vec![0, 3],
            ..Default::default()
        };
        let mut st = PolicyState::default();
        assert_eq!(on_exit(&spec, &mut st, Some(3), FAST).0, Decision::Stop);
        assert_eq!(
            on_exit(&spec, &mut st, Some(2), FAST).0,
            Decision::Restart { delay_ms: 0 }
        );
        let spec = Policy {
            autorestart: false,
            ..Default::default()
        };
        assert_eq!(on_exit(&spec, &mut st, Some(1), FAST).0, Decision::Stop);
    }

    #[test]
    fn exponential_backoff_grows_caps_and_resets() {
        let spec = Policy {
            exp_backoff_restart_delay: 100,
            max_restarts: 1000,
            ..Default::default()
        };
        let mut st = PolicyState::default();
        let delays: Vec<u64> = (0..20)
            .map(|_| match on_exit(&spec, &mut st, Some(1), FAST).0 {
                Decision::Restart { delay_ms } => delay_ms,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(&delays[..4], &[100, 150, 225, 337]);
        assert_eq!(*delays.last().expect("some"), MAX_BACKOFF_MS);
        assert_eq!(
            on_exit(&spec, &mut st, Some(1), BACKOFF_RESET).0,
            Decision::Restart { delay_ms: 100 }
        );
    }
}
