//! Per-process CPU and memory, read straight from `/proc` (one small read per process): cheap
//! enough to sample every second, which pm2's 30 s memory check is not.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Usage {
    /// Resident set size in bytes.
    pub memory: u64,
    /// Percent of one core since the previous sample of this pid (pm2's `monit.cpu`).
    pub cpu: f64,
}

/// Remembers the previous CPU sample of each pid, as pidusage does for pm2.
#[derive(Default)]
pub struct Sampler {
    /// pid → (cpu ticks, when, the last computed percentage).
    last: Mutex<HashMap<u32, (u64, Instant, f64)>>,
}

/// The shortest window a CPU percentage is computed over.
const MIN_WINDOW: std::time::Duration = std::time::Duration::from_millis(250);

fn clock_ticks() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 {
        p as u64
    } else {
        4096
    }
}

/// utime + stime in clock ticks, from `/proc/<pid>/stat` (fields 14 and 15). The command name
/// (field 2) may contain spaces and parentheses, so fields are counted after the last `)`.
pub fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = f.get(11)?.parse().ok()?;
    let stime: u64 = f.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// The process start time in clock ticks since boot (`/proc/<pid>/stat` field 22): with the pid
/// it identifies a process for good, so a recycled pid is never mistaken for an app.
pub fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Whether a process exists and has not exited; a zombie waiting for its parent to reap it
/// counts as gone (where init reaps slowly, an exited daemon lingers as one).
pub fn is_live(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rfind(')')
            .and_then(|i| stat.get(i + 2..i + 3))
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

pub fn rss_bytes(pid: u32) -> Option<u64> {
    let statm = std::fs::read_to_string(format!("/proc/{pid}/statm")).ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * page_size())
}

impl Sampler {
    pub fn sample(&self, pid: u32) -> Usage {
        let memory = rss_bytes(pid).unwrap_or(0);
        let now = Instant::now();
        let Some(ticks) = cpu_ticks(pid) else {
            return Usage { memory, cpu: 0.0 };
        };
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        let cpu = match last.get(&pid).copied() {
            // Clock ticks are 10 ms: over a shorter window the ratio is noise (a 300% reading
            // on two cores), so a quick second call repeats the last figure.
            Some((_, at, pct)) if now.duration_since(at) < MIN_WINDOW => pct,
            Some((prev, at, _)) => {
                let secs = now.duration_since(at).as_secs_f64();
                let pct = (ticks.saturating_sub(prev) as f64 / clock_ticks()) / secs * 100.0;
                last.insert(pid, (ticks, now, pct));
                pct
            }
            None => {
                last.insert(pid, (ticks, now, 0.0));
                0.0
            }
        };
        Usage {
            memory,
            cpu: (cpu * 10.0).round() / 10.0,
        }
    }

    pub fn forget(&self, pid: u32) {
        self.last
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&pid);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_process() {
        let me = std::process::id();
        assert!(rss_bytes(me).expect("rss") > 0);
        assert!(start_time(me).is_some());
        let s = Sampler::default();
        let first = s.sample(me);
        assert!(first.memory > 0);
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = x.wrapping_add(i * i);
        }
        assert!(x > 0);
        assert!(s.sample(me).cpu >= 0.0);
        assert_eq!(rss_bytes(u32::MAX - 1), None);
    }
}
