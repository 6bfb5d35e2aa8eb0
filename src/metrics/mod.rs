//! Per-process CPU and memory, read straight from `/proc` (one small read per process): cheap
//! enough to sample every second, which pm2's 30 s memory check is not.

pub mod code;
pub mod prometheus;

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
    /// pid → the last sample read from `/proc`.
    last: Mutex<HashMap<u32, Last>>,
    /// The trees asked for within the current tick, and its scan of `/proc` once there is one.
    trees: Mutex<Trees>,
}

/// Up to this many trees per tick are walked down from their roots (a few reads per process
/// of the tree); past it one scan of every process on the machine answers the rest, and the
/// next tick scans from the start. With 1,000 apps of which one has a memory limit, the scan
/// was the daemon's whole idle CPU.
const WALK_MAX: u32 = 16;

#[derive(Default)]
struct Trees {
    at: Option<Instant>,
    asked: u32,
    asked_before: u32,
    scan: Option<Table>,
}

/// One pass over `/proc`: each process's RSS and children.
#[derive(Default)]
struct Table {
    rss: HashMap<u32, u64>,
    children: HashMap<u32, Vec<u32>>,
}

impl Table {
    fn scan() -> Table {
        let mut t = Table::default();
        let Ok(dir) = std::fs::read_dir("/proc") else {
            return t;
        };
        for entry in dir.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            if let Some((ppid, rss)) = parent_and_rss(pid) {
                t.rss.insert(pid, rss);
                t.children.entry(ppid).or_default().push(pid);
            }
        }
        t
    }

    fn tree_rss(&self, pid: u32) -> u64 {
        let mut total = 0;
        let mut stack = vec![pid];
        let mut seen = 0;
        while let Some(p) = stack.pop() {
            seen += 1;
            if seen > 4096 {
                break;
            }
            total += self.rss.get(&p).copied().unwrap_or(0);
            if let Some(c) = self.children.get(&p) {
                stack.extend_from_slice(c);
            }
        }
        total
    }
}

#[derive(Clone, Copy)]
struct Last {
    ticks: u64,
    at: Instant,
    cpu: f64,
    memory: u64,
    /// Not the pid's first read: this one may answer again within the window.
    settled: bool,
}

fn round(cpu: f64) -> f64 {
    (cpu * 10.0).round() / 10.0
}

/// The shortest window a CPU percentage is computed over.
const MIN_WINDOW: std::time::Duration = std::time::Duration::from_millis(250);

use crate::sys::proc::{clock_ticks, parent_and_rss, stat, Stat};

impl Sampler {
    /// A pid's usage. Within [`MIN_WINDOW`] of the last read of this pid (but its first),
    /// that read is the answer and `/proc` is not read again: `ls` and `jlist` run back to back (or a monitor
    /// polling every app) cost one `/proc/<pid>/stat` read per app per window, not per call.
    pub fn sample(&self, pid: u32) -> Usage {
        let now = Instant::now();
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        let prev = last.get(&pid).copied();
        // Clock ticks are 10 ms: over a shorter window the ratio is noise (a 300% reading on
        // two cores), so a quick second call repeats the last figures.
        if let Some(p) = prev.filter(|p| now.duration_since(p.at) < MIN_WINDOW) {
            // A pid's first read is usually taken as it starts, when its memory is still
            // growing: that one is not repeated.
            if p.settled {
                return Usage {
                    memory: p.memory,
                    cpu: round(p.cpu),
                };
            }
            drop(last);
            return Usage {
                memory: stat(pid).map_or(0, |s| s.rss_bytes),
                cpu: round(p.cpu),
            };
        }
        let Some(Stat {
            cpu_ticks: ticks,
            rss_bytes: memory,
        }) = stat(pid)
        else {
            return Usage::default();
        };
        let cpu = match prev {
            Some(p) => {
                let secs = now.duration_since(p.at).as_secs_f64();
                (ticks.saturating_sub(p.ticks) as f64 / clock_ticks()) / secs * 100.0
            }
            None => 0.0,
        };
        last.insert(
            pid,
            Last {
                ticks,
                at: now,
                cpu,
                memory,
                settled: prev.is_some(),
            },
        );
        Usage {
            memory,
            cpu: round(cpu),
        }
    }

    /// The RSS of `pid` and its descendants (`max_memory_restart` counts a worker pool too).
    /// The daemon's memory checks fire together on one tick (see `supervisor::task`); callers
    /// within `max_age` of the tick's first share it: a few trees are each walked down from
    /// their root, many are answered from one scan of `/proc`, so however many apps have a
    /// limit, each tick reads each process about once.
    pub fn tree_rss(&self, pid: u32, max_age: std::time::Duration) -> u64 {
        let mut t = self.trees.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if t.at.is_none_or(|at| now.duration_since(at) >= max_age) {
            let before = t.asked;
            *t = Trees {
                at: Some(now),
                asked: 0,
                asked_before: before,
                scan: None,
            };
        }
        t.asked += 1;
        if t.scan.is_none() && t.asked.max(t.asked_before) <= WALK_MAX {
            drop(t);
            return crate::sys::proc::tree_rss(pid);
        }
        t.scan.get_or_insert_with(Table::scan).tree_rss(pid)
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
    fn cpu_of_a_busy_process_is_positive() {
        let me = std::process::id();
        let s = Sampler::default();
        let first = s.sample(me);
        assert!(first.memory > 0);
        assert_eq!(first.cpu, 0.0, "the first sample has no window yet");
        // Spin past the shortest window, so the second sample measures this work.
        let start = Instant::now();
        let mut x = 0u64;
        while start.elapsed() < MIN_WINDOW * 2 {
            x = x.wrapping_add(std::hint::black_box(x) | 1);
        }
        assert!(x > 0);
        let busy = s.sample(me).cpu;
        assert!(busy > 10.0, "a spinning thread shows as busy, got {busy}%");
        s.forget(me);
        assert_eq!(s.sample(me).cpu, 0.0, "forget starts a new window");
    }

    #[test]
    fn a_tree_counts_its_children_walked_or_from_one_scan() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("spawn sleep");
        let me = std::process::id();
        let s = Sampler::default();
        let window = std::time::Duration::from_secs(60);
        let deadline = Instant::now() + std::time::Duration::from_secs(5);
        // A zero age starts a tick every time (and walks), until the child has exec'd.
        let child_rss = loop {
            let r = s.tree_rss(child.id(), std::time::Duration::ZERO);
            if r > 0 && r < s.tree_rss(me, std::time::Duration::ZERO) {
                break r;
            }
            assert!(Instant::now() < deadline, "the child never showed up");
            std::thread::yield_now();
        };
        let walked = s.tree_rss(me, std::time::Duration::ZERO);
        assert!(
            walked > child_rss,
            "a walk counts this process and its child"
        );
        // Past WALK_MAX trees in one tick, one scan answers: the same tree, and reused.
        let mut scanned = 0;
        for _ in 0..=WALK_MAX {
            scanned = s.tree_rss(me, window);
        }
        assert!(
            scanned > child_rss,
            "the scan counts this process and its child"
        );
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(
            s.tree_rss(me, window),
            scanned,
            "within its age the scan is reused"
        );
        assert_eq!(s.tree_rss(child.id(), std::time::Duration::ZERO), 0);
    }
}
