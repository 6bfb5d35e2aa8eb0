//! The task that owns one instance: its state, and the loop that waits for whatever comes next
//! (the child's exit, a restart delay, `ready`, a file change, cron, a memory check, a verb).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::{child, watch, Control, Ctx, ProcInfo, Status};
use crate::ipc;
use crate::process::policy::{self, Decision, Policy, PolicyState};
use crate::process::{self, Exit};
use crate::protocol::AppSpec;

/// The child of an instance while it runs, and what the task holds for it.
pub(super) struct Running {
    pub child: process::Child,
    pub started: Instant,
    pub stdin: Option<tokio::net::unix::pipe::Sender>,
    /// The keeper's copies of this child's descriptors, closed when this is dropped.
    pub _kept: Option<super::launch::Kept>,
    pub channel: Option<ipc::Writer>,
    /// Set while waiting for `ready` (wait_ready): the deadline given by listen_timeout.
    pub ready_deadline: Option<tokio::time::Instant>,
    /// This child's place in the cluster primary, when it is a cluster worker.
    pub worker: Option<ipc::cluster::WorkerRef>,
    pub primary: ipc::cluster::Primary,
    /// Probes, notify socket and deadlines for this child (see `health`).
    pub health: super::health::Armed,
}

impl Running {
    pub fn pid(&self) -> u32 {
        self.child.pid()
    }
}

/// What a new task does first.
pub(super) enum First {
    /// Nothing: the instance waits for `start`.
    Wait,
    Launch,
    /// Supervise a running child of a daemon that died.
    Adopt(Box<super::launch::Born>),
}

pub(super) struct Task {
    pub ctx: Arc<Ctx>,
    pub info: Arc<Mutex<ProcInfo>>,
    pub rx: mpsc::Receiver<Control>,
    pub running: Option<Running>,
    pub policy: PolicyState,
    pub restart_at: Option<tokio::time::Instant>,
    /// `process.send('ready')` arrivals from the current child, forwarded by its channel reader.
    pub ready_rx: Option<mpsc::Receiver<()>>,
    /// File watching (`watch`), kept across restarts and dropped on stop.
    pub watcher: Option<watch::AppWatcher>,
    /// When a burst of file changes has settled (`watch_delay` after the last one).
    pub watch_deadline: Option<tokio::time::Instant>,
    /// The next `cron_restart` firing.
    pub cron_at: Option<crate::sys::cron::Due>,
    /// The next `max_memory_restart` check.
    pub mem_check_at: Option<tokio::time::Instant>,
}

async fn next_change(w: &mut Option<watch::AppWatcher>) -> Option<PathBuf> {
    match w {
        Some(w) => w.events.recv().await,
        None => std::future::pending().await,
    }
}

/// How often `max_memory_restart` is checked: one /proc scan per tick for all apps, so every
/// second is cheap (pm2 checks every 30 s). `PM2_WORKER_INTERVAL` (ms) overrides it, as in pm2.
pub(super) fn memory_check() -> Duration {
    static EVERY: std::sync::OnceLock<Duration> = std::sync::OnceLock::new();
    *EVERY.get_or_init(|| {
        let ms = crate::config::knob("WORKER_INTERVAL")
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(1000);
        Duration::from_millis(ms.max(100))
    })
}

/// The next memory check, on a tick every instance shares (multiples of the interval since the
/// first check): the checks of a thousand apps then fire together and share one `/proc` scan,
/// where timers started at each launch would each scan at their own moment.
pub(super) fn next_memory_tick() -> tokio::time::Instant {
    static EPOCH: std::sync::OnceLock<tokio::time::Instant> = std::sync::OnceLock::new();
    let epoch = *EPOCH.get_or_init(tokio::time::Instant::now);
    let every = memory_check();
    let now = tokio::time::Instant::now();
    let ticks = now.duration_since(epoch).as_nanos() / every.as_nanos().max(1) + 1;
    epoch + every * u32::try_from(ticks).unwrap_or(u32::MAX)
}

async fn until(at: Option<tokio::time::Instant>) {
    match at {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

enum ChildEvent {
    Exit(std::io::Result<std::process::ExitStatus>),
    Verdict(super::monitor::Verdict),
}

/// The child's exit or a verdict of its checks, whichever comes first (one borrow of it).
async fn child_event(r: &mut Option<Running>) -> ChildEvent {
    match r {
        Some(r) => tokio::select! {
            status = r.child.wait() => ChildEvent::Exit(status),
            Some(v) = r.health.verdicts.recv() => ChildEvent::Verdict(v),
        },
        None => std::future::pending().await,
    }
}

async fn next_ready(r: &mut Option<mpsc::Receiver<()>>) -> Option<()> {
    match r {
        Some(r) => r.recv().await,
        None => std::future::pending().await,
    }
}

/// The restart options of an app, with pm2's defaults for what it leaves out.
fn restart_policy(spec: &AppSpec) -> Policy {
    let d = Policy::default();
    Policy {
        autorestart: spec.autorestart.unwrap_or(d.autorestart),
        stop_exit_codes: spec.stop_exit_codes.clone(),
        max_restarts: spec.max_restarts.unwrap_or(d.max_restarts),
        min_uptime: spec.min_uptime.unwrap_or(d.min_uptime),
        restart_delay: spec.restart_delay.unwrap_or(d.restart_delay),
        exp_backoff_restart_delay: spec
            .exp_backoff_restart_delay
            .unwrap_or(d.exp_backoff_restart_delay),
    }
}

impl Task {
    pub fn new(ctx: Arc<Ctx>, info: Arc<Mutex<ProcInfo>>, rx: mpsc::Receiver<Control>) -> Task {
        Task {
            ctx,
            info,
            rx,
            running: None,
            policy: PolicyState::default(),
            restart_at: None,
            ready_rx: None,
            watcher: None,
            watch_deadline: None,
            cron_at: None,
            mem_check_at: None,
        }
    }

    pub fn with_info<R>(&self, f: impl FnOnce(&mut ProcInfo) -> R) -> R {
        let mut g = self.info.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut g)
    }

    pub async fn run(mut self, first: First) {
        match first {
            First::Wait => {}
            First::Launch => self.launch().await,
            First::Adopt(born) => {
                let info = self.with_info(|i| i.clone());
                let checks = self.prepare_checks_for(&info, Some(born.child.pid()));
                self.wire(info, *born, checks).await;
            }
        }
        loop {
            let ready_deadline = self.running.as_ref().and_then(|r| r.ready_deadline);
            tokio::select! {
                event = child_event(&mut self.running) => match event {
                    ChildEvent::Exit(status) => {
                        if !self.follow_main_pid() {
                            self.on_exit(status);
                        }
                    }
                    ChildEvent::Verdict(v) => self.on_verdict(v).await,
                },
                _ = until(self.restart_at) => {
                    self.restart_at = None;
                    self.with_info(|i| i.restart_time += 1);
                    self.launch().await;
                }
                Some(()) = next_ready(&mut self.ready_rx) => self.on_ipc_ready(),
                Some(path) = next_change(&mut self.watcher) => {
                    let delay = self.with_info(|i| i.spec.watch_delay.unwrap_or(1000));
                    if self.watch_deadline.is_none() {
                        elog!("Change detected on path {} for app {} - restarting", path.display(), self.with_info(|i| i.shown_name()));
                    }
                    self.watch_deadline = Some(tokio::time::Instant::now() + Duration::from_millis(delay));
                }
                _ = until(self.watch_deadline) => {
                    self.watch_deadline = None;
                    if self.running.is_some() {
                        self.restart_in_place("watch").await;
                    }
                }
                _ = until(self.cron_at.map(|d| d.wake)) => {
                    // Not due yet by the wall clock (it was set back, or this is one of the
                    // 30 s looks): sleep again.
                    if let Some(later) = self.cron_at.take().and_then(|d| d.again()) {
                        self.cron_at = Some(later);
                        continue;
                    }
                    if self.running.is_some() {
                        self.restart_in_place("cron").await;
                    } else {
                        // pm2's cron restarts a stopped app too: it starts it (no restart
                        // counted), and `stop` says the cron is still up.
                        self.policy = PolicyState::default();
                        self.publish("start");
                        self.launch().await;
                    }
                }
                _ = until(self.mem_check_at) => self.check_memory().await,
                _ = until(ready_deadline) => self.mark_online(),
                ctl = self.rx.recv() => {
                    let Some(ctl) = ctl else { break };
                    if self.control(ctl).await {
                        break;
                    }
                }
            }
        }
        self.ctx.logs.release_unused();
    }

    /// The second half of a zero-downtime reload: the new worker is starting; once it listens
    /// (or sends `ready`), bounded by `listen_timeout`, the old one is disconnected gracefully.
    /// The daemon holds the listening socket throughout, so no connection is refused.
    pub async fn replace(&mut self, old: &mut Running) {
        self.wait_ready_bounded().await;
        let spec = self.with_info(|i| i.spec.clone());
        let _ = child::terminate(&spec, old, true).await;
        self.ctx.sampler.forget(old.pid());
    }

    /// Waits until the new child is ready (listening, or `ready` with wait_ready), at most
    /// `listen_timeout` (pm2's default 3 s): an app that never signals is not waited on forever.
    pub async fn wait_ready_bounded(&mut self) {
        let wait = Duration::from_millis(self.with_info(|i| i.spec.listen_timeout.unwrap_or(3000)));
        if let (Some(_), Some(rx)) = (self.running.as_ref(), self.ready_rx.as_mut()) {
            let _ = tokio::time::timeout(wait, rx.recv()).await;
        }
        self.mark_online();
    }

    /// Stop then start again, counting a restart (cron, watch, memory, health checks).
    pub(super) async fn restart_in_place(&mut self, reason: &'static str) {
        self.stop_child().await;
        self.with_info(|i| {
            i.restart_time += 1;
            i.restart_reason = Some(reason);
        });
        self.launch().await;
    }

    async fn check_memory(&mut self) {
        self.mem_check_at = None;
        let (limit, name) = self.with_info(|i| (i.spec.max_memory_restart, i.shown_name()));
        let (Some(limit), Some(pid)) = (limit, self.running.as_ref().map(Running::pid)) else {
            return;
        };
        // Half an interval: every check of this tick shares the scan, the next tick's does not.
        let used = self.ctx.sampler.tree_rss(pid, memory_check() / 2);
        if used > limit {
            elog!("[PM2][WORKER] Process {name} restarted because it exceeds --max-memory-restart value (current_memory={used} max_memory_limit={limit} [octets])");
            self.restart_in_place("memory").await;
        } else {
            self.mem_check_at = Some(next_memory_tick());
        }
    }

    pub fn mark_online(&mut self) {
        if let Some(r) = self.running.as_mut() {
            r.ready_deadline = None;
        }
        let changed = self.with_info(|i| {
            let was = i.status;
            if was == Status::Launching {
                i.status = Status::Online;
            }
            was == Status::Launching
        });
        if changed {
            self.publish("online");
        }
    }

    /// The child exited on its own: pm2's restart policy decides what comes next.
    /// A forking app (systemd's `Type=notify` with `MAINPID=`): when the process that was
    /// started exits after naming another of its group as the main one, that one is the app
    /// from now on, as systemd tracks it. True when it is followed; its exit is then the app's.
    fn follow_main_pid(&mut self) -> bool {
        let main = self.with_info(|i| i.health.as_ref().and_then(|h| h.main_pid));
        let Some(r) = self.running.as_mut() else {
            return false;
        };
        let (old, pgid) = (r.child.pid(), r.child.pgid());
        let Some(main) = main.filter(|m| *m != old) else {
            return false;
        };
        // systemd takes a main pid from its service's cgroup only; here, from the app's group.
        if nix::unistd::getpgid(Some(nix::unistd::Pid::from_raw(main as i32))) != Ok(pgid) {
            return false;
        }
        let Ok(child) = crate::process::Child::follow(main, pgid.as_raw() as u32) else {
            return false;
        };
        r.child = child;
        self.ctx.sampler.forget(old);
        let ticks = crate::sys::proc::start_time(main);
        let (pid_file, name) = self.with_info(|i| {
            i.pid = Some(main);
            i.start_ticks = ticks;
            (i.paths.pid.clone(), i.shown_name())
        });
        let _ = crate::config::paths::write_replace(&pid_file, main.to_string().as_bytes(), false);
        elog!(
            "[{}] {name}: pid {old} exited; following its MAINPID {main}",
            super::now_ms()
        );
        self.ctx.live.notify_one();
        true
    }

    fn on_exit(&mut self, status: std::io::Result<std::process::ExitStatus>) {
        let Some(running) = self.running.take() else {
            return;
        };
        self.ctx.sampler.forget(running.pid());
        let exit = Exit::of(&status);
        let spec = self.with_info(|i| i.spec.clone());
        let (decision, unstable) = policy::on_exit(
            &restart_policy(&spec),
            &mut self.policy,
            exit.code,
            running.started.elapsed(),
        );
        self.with_info(|i| {
            i.pid = None;
            i.start_ticks = None;
            i.connected = false;
            i.exit_code = Some(exit.pm2_value());
            if unstable {
                i.unstable_restarts += 1;
            }
            let _ = std::fs::remove_file(&i.paths.pid);
        });
        match decision {
            Decision::Stop => {
                self.with_info(|i| i.status = Status::Stopped);
                self.publish("exit");
            }
            Decision::Errored => {
                self.with_info(|i| i.status = Status::Errored);
                self.publish("exit");
                self.publish("restart overlimit");
            }
            Decision::Restart { delay_ms } => {
                self.with_info(|i| {
                    i.restart_reason = Some("exit");
                    i.status = if delay_ms > 0 {
                        Status::WaitingRestart
                    } else {
                        Status::Launching
                    }
                });
                self.publish("exit");
                self.restart_at =
                    Some(tokio::time::Instant::now() + Duration::from_millis(delay_ms));
            }
        }
    }
}
