//! Signal names are parsed once, at the edge: `SIGINT`, `sigint`, `INT` and `2` all work.

use std::time::Duration;

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

pub fn parse(text: &str) -> Result<Signal, String> {
    let t = text.trim();
    if let Ok(n) = t.parse::<i32>() {
        return Signal::try_from(n).map_err(|_| format!("unknown signal {text}"));
    }
    let upper = t.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    name.parse::<Signal>()
        .map_err(|_| format!("unknown signal {text}"))
}

/// After the group's leader has exited: whatever is left in the group (a grandchild ignoring
/// the stop signal) gets until `deadline`, then SIGKILL. Returns once nothing of the group
/// runs (zombies, which stay in the group until their new parent reaps them, do not count:
/// an adopted app's own zombie waits for init), or shortly after the SIGKILL, which is
/// delivered asynchronously.
pub async fn end_group(pgid: Pid, deadline: tokio::time::Instant) {
    const SETTLE: Duration = Duration::from_millis(300);
    let runs = || {
        killpg(pgid, None).is_ok()
            && u32::try_from(pgid.as_raw()).map_or(true, super::proc::group_runs)
    };
    while runs() {
        if tokio::time::Instant::now() >= deadline {
            let _ = killpg(pgid, Signal::SIGKILL);
            let until = tokio::time::Instant::now() + SETTLE;
            while runs() && tokio::time::Instant::now() < until {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_pm2_spellings() {
        assert_eq!(parse("SIGINT"), Ok(Signal::SIGINT));
        assert_eq!(parse("sigusr2"), Ok(Signal::SIGUSR2));
        assert_eq!(parse("TERM"), Ok(Signal::SIGTERM));
        assert_eq!(parse("9"), Ok(Signal::SIGKILL));
        assert!(parse("SIGFOO").is_err());
        assert!(parse("999").is_err());
    }
}
