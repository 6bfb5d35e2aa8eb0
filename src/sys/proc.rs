//! Facts about a process read straight from `/proc`: a few small reads each, cheap enough for
//! every second. Hand-written rather than the procfs crate: the daemon needs four fields, and
//! procfs parses whole files into structs on every call.

pub fn clock_ticks() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

pub fn page_size() -> u64 {
    static PAGE: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *PAGE.get_or_init(|| {
        // SAFETY: sysconf has no preconditions.
        let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        if p > 0 {
            p as u64
        } else {
            4096
        }
    })
}

/// Reads a small `/proc` file into `buf` with one `read` (procfs produces these files whole on
/// the first read): open, read, close, where `read_to_string` adds a statx and a second read.
fn read_small<'a>(path: &str, buf: &'a mut [u8]) -> Option<&'a str> {
    use std::io::Read;
    let mut f = std::fs::File::open(path).ok()?;
    let n = f.read(buf).ok()?;
    std::str::from_utf8(&buf[..n]).ok()
}

/// What one read of `/proc/<pid>/stat` tells a sampler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    /// utime + stime in clock ticks (fields 14 and 15).
    pub cpu_ticks: u64,
    /// Resident set size in bytes (field 24, the same count as `statm`'s second field).
    pub rss_bytes: u64,
}

/// CPU time and RSS of one process from a single small read (two files before).
pub fn stat(pid: u32) -> Option<Stat> {
    let mut buf = [0u8; 1024];
    let text = read_small(&format!("/proc/{pid}/stat"), &mut buf)?;
    let rest = text.get(text.rfind(')')? + 2..)?;
    let mut f = rest.split_ascii_whitespace();
    // After the command name, field 3 (state) is index 0: utime is 11, stime 12, rss 21.
    let utime: u64 = f.nth(11)?.parse().ok()?;
    let stime: u64 = f.next()?.parse().ok()?;
    let rss_pages: u64 = f.nth(8)?.parse().ok()?;
    Some(Stat {
        cpu_ticks: utime + stime,
        rss_bytes: rss_pages * page_size(),
    })
}

/// The parent pid (field 4) and RSS in bytes (field 24) of a process, from one read.
pub fn parent_and_rss(pid: u32) -> Option<(u32, u64)> {
    let mut buf = [0u8; 1024];
    let text = read_small(&format!("/proc/{pid}/stat"), &mut buf)?;
    let rest = text.get(text.rfind(')')? + 2..)?;
    let mut f = rest.split_ascii_whitespace();
    let ppid: u32 = f.nth(1)?.parse().ok()?;
    let rss_pages: u64 = f.nth(19)?.parse().ok()?;
    Some((ppid, rss_pages * page_size()))
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
    let mut buf = [0u8; 256];
    let statm = read_small(&format!("/proc/{pid}/statm"), &mut buf)?;
    let pages: u64 = statm.split_ascii_whitespace().nth(1)?.parse().ok()?;
    Some(pages * page_size())
}

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
        total += rss_bytes(p).unwrap_or(0);
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

/// The fields of `/proc/<pid>/stat` after the command name (index 0 is field 3, the state).
fn stat_fields(pid: u32, buf: &mut [u8]) -> Option<Vec<&str>> {
    let text = read_small(&format!("/proc/{pid}/stat"), buf)?;
    let rest = text.get(text.rfind(')')? + 2..)?;
    Some(rest.split_ascii_whitespace().collect())
}

/// Whether any process of group `pgid` runs: one that is not a zombie. A group whose members
/// are all zombies (an adopted app's, whose reaper is init, or one that does not reap) has
/// nothing left to stop. Scans `/proc`, so it is for the rare group that outlives its leader.
pub fn group_runs(pgid: u32) -> bool {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return true;
    };
    dir.flatten().any(|e| {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            return false;
        };
        let mut buf = [0u8; 1024];
        stat_fields(pid, &mut buf).is_some_and(|f| {
            f.get(2).and_then(|g| g.parse::<u32>().ok()) == Some(pgid)
                && match f.first() {
                    Some(&"Z") | Some(&"X") => threads_left(pid),
                    Some(_) => true,
                    None => false,
                }
        })
    })
}

/// A zombie leader whose other threads are still exiting (one blocked in an fsync, say) still
/// holds the process's descriptors, a listening socket among them: it is not gone yet.
fn threads_left(pid: u32) -> bool {
    std::fs::read_dir(format!("/proc/{pid}/task")).is_ok_and(|d| d.count() > 1)
}

/// The wait status of a zombie (field 52, `exit_code`), readable by anyone until its parent
/// reaps it; `None` for a process that runs or is gone.
pub fn zombie_status(pid: u32) -> Option<i32> {
    let mut buf = [0u8; 1024];
    let f = stat_fields(pid, &mut buf)?;
    if f.first().copied() != Some("Z") {
        return None;
    }
    f.get(49)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_process() {
        let me = std::process::id();
        assert!(rss_bytes(me).expect("rss") > 0);
        let st = stat(me).expect("stat");
        assert!(st.rss_bytes > 0);
        assert!(cpu_ticks(me).expect("ticks") >= st.cpu_ticks);
        assert_eq!(stat(u32::MAX - 1), None);
        assert!(start_time(me).is_some());
        assert!(is_live(me));
        assert_eq!(rss_bytes(u32::MAX - 1), None);
        assert!(!is_live(u32::MAX - 1));
    }

    #[test]
    fn tree_rss_counts_descendants() {
        // Two idle processes, so their RSS holds still while it is read twice.
        let mut sh = std::process::Command::new("sh")
            .args(["-c", "sleep 30 & wait"])
            .spawn()
            .expect("spawn sh");
        let pid = sh.id();
        let children = format!("/proc/{pid}/task/{pid}/children");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let sleep_pid = loop {
            let found = std::fs::read_to_string(&children).unwrap_or_default();
            let exec_d = |p: &u32| {
                std::fs::read_to_string(format!("/proc/{p}/comm"))
                    .is_ok_and(|c| c.trim() == "sleep")
            };
            // Past exec: a child still between fork and exec has sh's larger image.
            if let Some(p) = found
                .split_whitespace()
                .filter_map(|p| p.parse().ok())
                .find(exec_d)
            {
                break p;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "sh never started sleep"
            );
            std::thread::yield_now();
        };
        // Both settle within moments of exec; until then their RSS may still move.
        let (parts, total) = loop {
            let parts = rss_bytes(pid).expect("sh") + rss_bytes(sleep_pid).expect("sleep");
            let total = tree_rss(pid);
            if total == parts || std::time::Instant::now() >= deadline {
                break (parts, total);
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        };
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(sleep_pid as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
        let _ = sh.kill();
        let _ = sh.wait();
        assert_eq!(total, parts);
    }
}
