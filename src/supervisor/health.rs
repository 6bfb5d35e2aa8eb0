//! Arming an app's checks ([`super::checks`]) for each child, and what the task does with
//! their verdicts: readiness gates `launching` → `online` (and reloads), a failed liveness
//! probe, a silent watchdog, a blocked event loop or a silent app restarts the child with
//! that reason.
//!
//! Everything armed for a child lives in its [`Armed`], inside `Running`: dropping the child
//! aborts its probes and readers, so a stopped app costs nothing.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::checks::{self, Checks, Gate};
use super::monitor::{self, Bounds, Source, Stamps, Verdict};
use super::probe::{self, ProbeEnv, Roles};
use super::state::HealthView;
use super::task::{Running, Task};
use super::{child, notify, spawn, ProcInfo, Status};

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// What one child is checked with.
pub(super) struct Armed {
    pub gate: Gate,
    pub verdicts: mpsc::Receiver<Verdict>,
    /// Keeps the channel open when no check runs, so `recv` waits instead of ending.
    _keep: mpsc::Sender<Verdict>,
    _tasks: Vec<AbortOnDrop>,
}

/// What is decided before the spawn: the child's environment names its socket and bounds.
pub(super) struct Prepared {
    checks: Checks,
    pub gate: Gate,
    notify: Option<notify::Bound>,
    pub stamps: Arc<Stamps>,
    heartbeat: Option<Duration>,
    /// A Node app whose TCP or HTTP probes dial its own ports: the preload's private twins.
    routes: Option<Arc<probe::Routes>>,
}

impl Prepared {
    /// The variables the child gets for its checks.
    pub fn env(&self) -> Vec<(String, String)> {
        let mut env = Vec::new();
        if let Some(b) = &self.notify {
            env.push(("NOTIFY_SOCKET".into(), b.path.display().to_string()));
        }
        if let Some(w) = self.checks.watchdog {
            env.push(("WATCHDOG_USEC".into(), w.as_micros().to_string()));
        }
        if let Some(h) = self.heartbeat {
            env.push(("PM_NATIVE_HEARTBEAT_MS".into(), h.as_millis().to_string()));
        }
        if self.routes.is_some() {
            // Numbers, or names of variables of the app's environment the preload reads.
            let ports: Vec<String> = self
                .checks
                .local_ports()
                .into_iter()
                .map(|p| match p {
                    checks::Port::Fixed(n) => n.to_string(),
                    checks::Port::Env(name) => name.clone(),
                })
                .collect();
            env.push(("PM_NATIVE_PROBE_PORTS".into(), ports.join(",")));
        }
        env
    }

    /// Where the channel reader records the preload's probe twins.
    pub fn routes(&self) -> Option<Arc<probe::Routes>> {
        self.routes.clone()
    }

    /// The output stamp, for the log pumps, when silence is checked.
    pub fn output_stamp(&self) -> Option<Arc<Stamps>> {
        self.checks.no_output_timeout.map(|_| self.stamps.clone())
    }

    /// The heartbeat stamp, for the channel reader, when hangs are checked.
    pub fn heartbeat_stamp(&self) -> Option<Arc<Stamps>> {
        self.heartbeat.map(|_| self.stamps.clone())
    }
}

/// The `NOTIFY_SOCKET` a running process was started with, from `/proc/<pid>/environ`.
fn notify_socket_of(pid: u32) -> Option<std::path::PathBuf> {
    let env = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
    env.split(|b| *b == 0).find_map(|kv| {
        let v = kv.strip_prefix(b"NOTIFY_SOCKET=")?;
        Some(std::path::PathBuf::from(
            String::from_utf8_lossy(v).into_owned(),
        ))
    })
}

/// The preload beats four times per bound (at most once a second, at least every 50 ms), so
/// one late beat is not a hang and a hang is seen within the bound plus one beat.
fn beat_every(lag: Duration) -> Duration {
    (lag / 4).clamp(Duration::from_millis(50), Duration::from_secs(1))
}

impl Task {
    pub(super) fn prepare_checks(&self, info: &ProcInfo) -> Prepared {
        self.prepare_checks_for(info, None)
    }

    /// [`Task::prepare_checks`] for a child that runs already (`adopted`, its pid): its notify
    /// socket is bound again where its environment says, so its pings keep arriving.
    pub(super) fn prepare_checks_for(&self, info: &ProcInfo, adopted: Option<u32>) -> Prepared {
        // Checked by `start` (`checks::parse` there too), so an error here means none.
        let checks = checks::parse(&info.spec).unwrap_or_else(|e| {
            elog!("{}: {e}; its checks are off", info.shown_name());
            Checks::default()
        });
        let notify = checks
            .notify_socket
            .then(|| {
                let home = &self.ctx.home.root;
                let other = match super::spawn::identity(&info.spec) {
                    Ok(Some(id)) if id.uid != nix::unistd::geteuid().as_raw() => Some(id),
                    _ => None,
                };
                match (adopted.and_then(notify_socket_of), &other) {
                    (Some(path), _) => notify::bind_at(path, other.as_ref()),
                    (None, Some(id)) => {
                        notify::bind(&super::shared::dir(home)?, info.pm_id, Some(id))
                    }
                    (None, None) => notify::bind(home, info.pm_id, None),
                }
            })
            .and_then(|r| {
                r.map_err(|e| elog!("{}: cannot make its NOTIFY_SOCKET: {e}", info.shown_name()))
                    .ok()
            });
        let heartbeat = match (checks.max_event_loop_lag, info.launch.is_node) {
            (Some(lag), true) => Some(beat_every(lag)),
            (Some(_), false) => {
                elog!(
                    "{}: max_event_loop_lag needs a Node app (interpreter {}); not checked",
                    info.shown_name(),
                    info.launch.interpreter
                );
                None
            }
            (None, _) => None,
        };
        let routes = (info.launch.is_node && !checks.local_ports().is_empty()).then(|| {
            let primary = self.ctx.primary.clone();
            Arc::new(probe::Routes::new(move |port| primary.binds_tcp_port(port)))
        });
        Prepared {
            routes,
            gate: checks.gate(info.spec.wait_ready == Some(true)),
            checks,
            notify,
            stamps: Arc::new(Stamps::new()),
            heartbeat,
        }
    }

    /// Starts the child's checks; they end with its `Running`.
    pub(super) fn arm(&self, p: Prepared, info: &ProcInfo, pid: u32) -> Armed {
        let (tx, rx) = mpsc::channel(8);
        let mut tasks = Vec::new();
        let mut env = spawn::child_env(info, &self.ctx.home.root);
        env.extend(p.env());
        let probe_env = || ProbeEnv {
            env: env.clone(),
            cwd: info.spec.cwd.clone(),
            pid,
            routes: p.routes.clone(),
        };
        let c = &p.checks;
        let mut run = |probe: &checks::Probe, roles: Roles| {
            let fut = probe::run(
                probe.clone(),
                roles,
                probe_env(),
                self.info.clone(),
                tx.clone(),
            );
            tasks.push(AbortOnDrop(tokio::spawn(fut)));
        };
        match (&c.liveness, &c.readiness) {
            (Some(l), Some(_)) if c.shared => run(
                l,
                Roles {
                    live: true,
                    ready: true,
                },
            ),
            (l, r) => {
                if let Some(l) = l {
                    run(
                        l,
                        Roles {
                            live: true,
                            ready: false,
                        },
                    );
                }
                if let Some(r) = r {
                    run(
                        r,
                        Roles {
                            live: false,
                            ready: true,
                        },
                    );
                }
            }
        }
        let bounds = Bounds {
            watchdog: c.watchdog,
            heartbeat: p.heartbeat.map(|_| c.max_event_loop_lag).unwrap_or(None),
            output: c.no_output_timeout,
        };
        if bounds.any() {
            let fut = monitor::watch(bounds, p.stamps.clone(), tx.clone());
            tasks.push(AbortOnDrop(tokio::spawn(fut)));
        }
        let any = c.any();
        let gate = p.gate;
        if let Some(bound) = p.notify {
            let fut = notify::read(bound, p.stamps.clone(), self.info.clone(), tx.clone());
            tasks.push(AbortOnDrop(tokio::spawn(fut)));
        }
        self.with_info(|i| {
            i.health = any.then(|| HealthView {
                ready: gate == Gate::None,
                ..Default::default()
            })
        });
        Armed {
            gate,
            verdicts: rx,
            _keep: tx,
            _tasks: tasks,
        }
    }

    fn gate(&self) -> Option<Gate> {
        self.running.as_ref().map(|r| r.health.gate)
    }

    fn accepts(gate: Gate, src: Source) -> bool {
        match gate {
            Gate::Probe => src == Source::Probe,
            Gate::Notify | Gate::WaitReady => src != Source::Probe,
            Gate::None => true,
        }
    }

    fn passed_gate(&mut self) {
        self.with_info(|i| {
            if let Some(h) = i.health.as_mut() {
                h.ready = true;
            }
        });
        self.mark_online();
    }

    /// `process.send('ready')` (or, without wait_ready, a cluster worker listening).
    pub(super) fn on_ipc_ready(&mut self) {
        if self.gate().is_some_and(|g| Self::accepts(g, Source::Ipc)) {
            self.passed_gate();
        }
    }

    pub(super) async fn on_verdict(&mut self, v: Verdict) {
        match v {
            Verdict::Ready(src) => {
                if self.gate().is_some_and(|g| Self::accepts(g, src)) {
                    self.passed_gate();
                }
            }
            Verdict::Restart { reason, why } => {
                let name = self.with_info(|i| i.shown_name());
                elog!(
                    "[PM2][{}] Process {name} restarted: {why}",
                    reason.to_ascii_uppercase()
                );
                self.restart_in_place(reason).await;
            }
        }
    }

    /// Waits, at most `listen_timeout`, for the new child to pass its gate; false when a
    /// probe or notify gate did not pass in time (pm2's `wait_ready` still passes on timeout).
    pub(super) async fn await_gate(&mut self) -> bool {
        match self.gate() {
            None => return false,
            Some(Gate::None) => return true,
            Some(Gate::WaitReady) => {
                self.wait_ready_bounded().await;
                return true;
            }
            Some(_) => {}
        }
        let wait = Duration::from_millis(self.with_info(|i| i.spec.listen_timeout.unwrap_or(3000)));
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let Some(r) = self.running.as_mut() else {
                return false;
            };
            let gate = r.health.gate;
            let ready_rx = &mut self.ready_rx;
            let ipc = async {
                match ready_rx.as_mut() {
                    Some(rx) if gate == Gate::Notify => rx.recv().await,
                    _ => std::future::pending().await,
                }
            };
            enum Seen {
                Timeout,
                Ready,
                Other,
                Failed,
            }
            let seen = tokio::select! {
                _ = tokio::time::sleep_until(deadline) => Seen::Timeout,
                Some(()) = ipc => Seen::Ready,
                v = r.health.verdicts.recv() => match v {
                    Some(Verdict::Ready(src)) if Self::accepts(gate, src) => Seen::Ready,
                    Some(Verdict::Ready(_)) => Seen::Other,
                    Some(Verdict::Restart { .. }) | None => Seen::Failed,
                }
            };
            match seen {
                Seen::Timeout | Seen::Failed => return false,
                Seen::Ready => {
                    self.passed_gate();
                    return true;
                }
                Seen::Other => {}
            }
        }
    }

    /// A reload's second half when the old child still serves: once the new one passes its
    /// gate, the old one is retired. If it does not, the new one goes and the old one stays.
    pub(super) async fn replace_gated(&mut self, mut old: Running) -> Result<(), String> {
        let gated = matches!(self.gate(), Some(Gate::Probe | Gate::Notify));
        if !gated {
            self.replace(&mut old).await;
            return Ok(());
        }
        if self.await_gate().await {
            let spec = self.with_info(|i| i.spec.clone());
            let _ = child::terminate(&spec, &mut old, true).await;
            self.ctx.sampler.forget(old.pid());
            return Ok(());
        }
        let (spec, name, wait) = self.with_info(|i| {
            (
                i.spec.clone(),
                i.shown_name(),
                i.spec.listen_timeout.unwrap_or(3000),
            )
        });
        let mut new = self.running.take();
        let new_pid = new.as_ref().map(Running::pid).unwrap_or(0);
        if let Some(n) = new.as_mut() {
            // It may have taken connections from the shared socket: let it finish them.
            let _ = child::terminate(&spec, n, true).await;
            self.ctx.sampler.forget(n.pid());
        }
        let old_pid = old.pid();
        self.with_info(|i| {
            i.pid = Some(old_pid);
            i.status = Status::Online;
            i.connected = old.channel.is_some();
            if let Some(h) = i.health.as_mut() {
                h.ready = true;
            }
            let _ = crate::config::paths::write_replace(
                &i.paths.pid,
                old_pid.to_string().as_bytes(),
                false,
            );
        });
        self.running = Some(old);
        elog!("[PM2][RELOAD] {name}: new process {new_pid} not ready within {wait} ms; {old_pid} keeps serving");
        Err(format!(
            "reload of {name} stopped: its new process (pid {new_pid}) was not ready within listen_timeout ({wait} ms); the old process (pid {old_pid}) keeps serving"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn beats_four_times_per_bound_within_limits() {
        assert_eq!(beat_every(Duration::from_secs(5)), Duration::from_secs(1));
        assert_eq!(
            beat_every(Duration::from_secs(2)),
            Duration::from_millis(500)
        );
        assert_eq!(
            beat_every(Duration::from_millis(100)),
            Duration::from_millis(50)
        );
    }
}
