//! Deadlines a child must keep: `WATCHDOG=1` pings (`watchdog_sec`), the preload's heartbeats
//! (`max_event_loop_lag`) and output (`no_output_timeout`). Whoever sees the child act stores
//! a monotonic time in [`Stamps`] (the notify reader, the channel reader, the log pumps: one
//! atomic store each); one task per child sleeps until the earliest deadline and reports a
//! [`Verdict`] when one passes. A blocked event loop cannot send, so the daemon noticing the
//! missing heartbeat is what detects it.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

/// What a check tells the instance's task.
#[derive(Debug)]
pub enum Verdict {
    Ready(Source),
    Restart { reason: &'static str, why: String },
}

/// Where a readiness signal came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Probe,
    /// `READY=1` on the notify socket.
    Notify,
    /// `process.send('ready')`.
    Ipc,
}

fn base() -> Instant {
    static BASE: OnceLock<Instant> = OnceLock::new();
    *BASE.get_or_init(Instant::now)
}

/// Milliseconds on a monotonic clock (never 0, so 0 can mean "never").
pub fn mono_ms() -> u64 {
    base().elapsed().as_millis() as u64 + 1
}

/// When the child last showed each sign of life.
#[derive(Debug)]
pub struct Stamps {
    pub watchdog: AtomicU64,
    pub heartbeat: AtomicU64,
    pub output: AtomicU64,
    /// `STOPPING=1`: the app is on its way out; its silence is no longer a fault.
    pub stopping: AtomicBool,
}

impl Stamps {
    /// Heartbeats and output are due from the launch (the preload beats before the app's
    /// code runs). The watchdog, as systemd's, is armed once the app is up: its first
    /// `WATCHDOG=1` or `READY=1` (0 means not yet).
    pub fn new() -> Stamps {
        let now = mono_ms();
        Stamps {
            watchdog: AtomicU64::new(0),
            heartbeat: AtomicU64::new(now),
            output: AtomicU64::new(now),
            stopping: AtomicBool::new(false),
        }
    }

    pub fn touch(stamp: &AtomicU64) {
        stamp.store(mono_ms(), Ordering::Relaxed);
    }

    /// Arms a stamp that is not armed yet.
    pub fn arm(stamp: &AtomicU64) {
        let _ = stamp.compare_exchange(0, mono_ms(), Ordering::Relaxed, Ordering::Relaxed);
    }
}

/// The deadlines one child is held to.
#[derive(Debug, Clone, Copy, Default)]
pub struct Bounds {
    pub watchdog: Option<Duration>,
    pub heartbeat: Option<Duration>,
    pub output: Option<Duration>,
}

impl Bounds {
    pub fn any(&self) -> bool {
        self.watchdog.is_some() || self.heartbeat.is_some() || self.output.is_some()
    }
}

/// Sleeps until the earliest deadline; reports the first one missed, then ends.
pub async fn watch(bounds: Bounds, stamps: std::sync::Arc<Stamps>, tx: mpsc::Sender<Verdict>) {
    let checks: Vec<(Duration, &AtomicU64, &'static str, &'static str)> = [
        (
            bounds.watchdog,
            &stamps.watchdog,
            "watchdog",
            "no WATCHDOG=1 ping",
        ),
        (
            bounds.heartbeat,
            &stamps.heartbeat,
            "hang",
            "event loop blocked: no heartbeat",
        ),
        (bounds.output, &stamps.output, "no_output", "no output"),
    ]
    .into_iter()
    .filter_map(|(b, s, r, w)| b.map(|b| (b, s, r, w)))
    .collect();
    if checks.is_empty() {
        return;
    }
    loop {
        if stamps.stopping.load(Ordering::Relaxed) {
            return;
        }
        let now = mono_ms();
        let mut next = u64::MAX;
        for (bound, stamp, reason, what) in &checks {
            let last = stamp.load(Ordering::Relaxed);
            if last == 0 {
                // Not armed: look again within one bound.
                next = next.min(now + bound.as_millis() as u64);
                continue;
            }
            let due = last.saturating_add(bound.as_millis() as u64);
            if now > due {
                let why = format!(
                    "{what} for {} ms (bound {} ms)",
                    now - last,
                    bound.as_millis()
                );
                let _ = tx.send(Verdict::Restart { reason, why }).await;
                return;
            }
            next = next.min(due);
        }
        // One millisecond past the deadline, so a stamp exactly on it is not a miss.
        let wait = next.saturating_sub(now) + 1;
        tokio::time::sleep(Duration::from_millis(wait)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test]
    async fn a_missed_deadline_is_reported_once_and_pings_hold_it_off() {
        let stamps = Arc::new(Stamps::new());
        let (tx, mut rx) = mpsc::channel(4);
        let bounds = Bounds {
            heartbeat: Some(Duration::from_millis(150)),
            ..Default::default()
        };
        let started = Instant::now();
        let task = tokio::spawn(watch(bounds, stamps.clone(), tx));
        for _ in 0..5 {
            tokio::time::sleep(Duration::from_millis(50)).await;
            Stamps::touch(&stamps.heartbeat);
        }
        match rx.recv().await {
            Some(Verdict::Restart { reason, .. }) => assert_eq!(reason, "hang"),
            other => panic!("expected a hang verdict, got {other:?}"),
        }
        let took = started.elapsed();
        assert!(took >= Duration::from_millis(390), "{took:?}");
        assert!(took < Duration::from_millis(1000), "{took:?}");
        task.await.expect("ended");
        assert!(rx.recv().await.is_none());
    }
}
