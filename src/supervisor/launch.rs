//! Starting an instance's child and wiring it up: its channel (and its place in the cluster
//! primary), its logs, its pid file, and the timers that depend on it.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::checks::Gate;
use super::health::Prepared;
use super::task::{next_memory_tick, Running, Task};
use super::{child, now_ms, spawn, watch, Status};
use crate::ipc;
use crate::protocol::ExecMode;

impl Task {
    pub(super) async fn launch(&mut self) {
        let info = self.with_info(|i| {
            i.status = Status::Launching;
            i.clone()
        });
        // Cluster-mode Node apps are workers of the daemon's primary (Node's own protocol).
        // Fork-mode Node apps speak it too, through the preload, for their listening sockets
        // only; they get an id on the primary but no NODE_UNIQUE_ID.
        let cluster = info.spec.exec_mode() == ExecMode::Cluster;
        let worker_id = info
            .launch
            .is_node
            .then(|| self.ctx.primary.next_worker_id());
        // fork/exec waits until the child has exec'd, which takes long when fifty apps start
        // at once on a loaded machine: off the runtime thread, the launches overlap.
        let checks = self.prepare_checks(&info);
        let spawned = {
            let (mut info, home) = (info.clone(), self.ctx.home.root.clone());
            for (k, v) in checks.env() {
                std::sync::Arc::make_mut(&mut info.spec)
                    .env
                    .insert(k, v.into());
            }
            let unique_id = worker_id.filter(|_| cluster);
            tokio::task::spawn_blocking(move || spawn::spawn(&info, &home, unique_id))
                .await
                .unwrap_or_else(|e| Err(std::io::Error::other(e)))
        };
        let spawned = match spawned {
            Ok(s) => s,
            Err(e) => {
                let msg = format!("Error: spawn {} failed: {e}\n", info.launch.program);
                if let Some(p) = info.paths.err.as_ref() {
                    if let Ok(f) = self.ctx.logs.get(p) {
                        f.write(msg.as_bytes());
                    }
                }
                elog!("[{}] {} {msg}", now_ms(), info.shown_name());
                self.with_info(|i| {
                    i.status = Status::Errored;
                    i.pid = None;
                });
                self.publish("errored");
                return;
            }
        };
        let mut child = spawned.child;
        let pid = child.pid();
        let born = Born {
            start_ticks: crate::sys::proc::start_time(pid),
            stdin: child.take_stdin().map(OwnedFd::from),
            stdout: child.take_stdout().map(OwnedFd::from),
            stderr: child.take_stderr().map(OwnedFd::from),
            channel: spawned.channel,
            worker_id,
            child,
        };
        self.wire(info, born, checks).await;
    }

    /// Wires up a child spawned just now or adopted from a dead daemon (`born.child`): the
    /// keeper's copies of its descriptors, logs, channel and cluster slot, pid file, timers and
    /// checks. An adopted child keeps its status and uptime, and passed its gate long ago.
    pub(super) async fn wire(&mut self, info: super::ProcInfo, born: Born, checks: Prepared) {
        let Born {
            child,
            stdin,
            stdout,
            stderr,
            channel,
            worker_id,
            start_ticks,
        } = born;
        let adopted = child.is_adopted();
        let pid = child.pid();
        let kept = self.keep(
            info.pm_id,
            pid,
            start_ticks,
            [&stdout, &stderr, &stdin, &channel],
        );
        let stdin = stdin.and_then(|s| tokio::net::unix::pipe::Sender::from_owned_fd(s).ok());
        self.attach_logs(&info, stdout, stderr, checks.output_stamp());
        let (ready_tx, ready_rx) = mpsc::channel(4);
        // Anything gating readiness (wait_ready, a readiness probe, notify) keeps the child
        // `launching` until it passes.
        let gate = checks.gate;
        let wait_ready = gate != Gate::None && !adopted;
        let mut worker = None;
        let channel = match channel.map(ipc::open) {
            Some(Ok((reader, writer))) => {
                worker = worker_id.map(|id| self.ctx.primary.attach(id, writer.clone()));
                tokio::spawn(child::read_channel(
                    reader,
                    writer.clone(),
                    child::Signals {
                        ready: ready_tx,
                        listening_is_ready: !wait_ready,
                        heartbeat: checks.heartbeat_stamp(),
                        routes: checks.routes(),
                    },
                    self.ctx.clone(),
                    (info.pm_id, info.name.clone(), info.namespace.clone()),
                    worker.clone(),
                ));
                Some(writer)
            }
            Some(Err(e)) => {
                elog!("{}: cannot open the IPC channel: {e}", info.shown_name());
                None
            }
            None => None,
        };
        let ready_deadline = (gate == Gate::WaitReady && !adopted).then(|| {
            tokio::time::Instant::now()
                + Duration::from_millis(info.spec.listen_timeout.unwrap_or(3000))
        });
        let _ =
            crate::config::paths::write_replace(&info.paths.pid, pid.to_string().as_bytes(), false);
        // An adopted child's uptime goes on from its first start (min_uptime judges it so).
        let started = match adopted {
            true => {
                let up = now_ms().saturating_sub(info.pm_uptime).max(0) as u64;
                Instant::now()
                    .checked_sub(Duration::from_millis(up))
                    .unwrap_or_else(Instant::now)
            }
            false => Instant::now(),
        };
        self.with_info(|i| {
            i.pid = Some(pid);
            i.start_ticks = start_ticks;
            i.worker_id = worker_id;
            i.connected = channel.is_some();
            if !adopted {
                self.ctx.code_metrics.clear(i.pm_id);
                i.pm_uptime = now_ms();
            }
            i.status = if wait_ready {
                Status::Launching
            } else {
                Status::Online
            };
        });
        self.ready_rx = Some(ready_rx);
        self.cron_at = info
            .spec
            .cron_restart
            .as_deref()
            .and_then(crate::sys::cron::next_cron);
        self.mem_check_at = info.spec.max_memory_restart.map(|_| next_memory_tick());
        if self.watcher.is_none() {
            let own: Vec<PathBuf> = [&info.paths.out, &info.paths.err, &info.paths.combined]
                .into_iter()
                .flatten()
                .cloned()
                .collect();
            match watch::start(&info.spec, own) {
                Ok(w) => self.watcher = w,
                Err(e) => elog!("{}: {e}", info.shown_name()),
            }
        }
        let health = self.arm(checks, &info, pid);
        if adopted {
            // It passed its readiness gate under the daemon that started it.
            self.with_info(|i| {
                if let Some(h) = i.health.as_mut() {
                    h.ready = true;
                }
            });
        }
        self.running = Some(Running {
            child,
            started,
            stdin,
            _kept: kept,
            channel,
            ready_deadline,
            worker,
            primary: self.ctx.primary.clone(),
            health,
        });
        self.publish(if wait_ready { "launching" } else { "online" });
    }

    /// Hands the keeper a copy of the child's descriptors, so they outlive this daemon.
    fn keep(
        &self,
        pm_id: u32,
        pid: u32,
        start_ticks: Option<u64>,
        fds: [&Option<OwnedFd>; 4],
    ) -> Option<Kept> {
        let keeper = &self.ctx.keeper;
        let start = start_ticks.filter(|_| keeper.is_enabled())?;
        let owner = crate::keeper::app_owner(pm_id, pid, start);
        let held: Vec<(&str, BorrowedFd<'_>)> = ["out", "err", "in", "chan"]
            .into_iter()
            .zip(fds)
            .filter_map(|(kind, fd)| fd.as_ref().map(|f| (kind, f.as_fd())))
            .collect();
        keeper.put(&owner, &held);
        Some(Kept {
            keeper: keeper.clone(),
            owner,
        })
    }
}

/// A child and its descriptors, before they are wired up.
pub(super) struct Born {
    pub child: crate::process::Child,
    pub stdin: Option<OwnedFd>,
    pub stdout: Option<OwnedFd>,
    pub stderr: Option<OwnedFd>,
    pub channel: Option<OwnedFd>,
    /// Its id on the cluster primary (Node apps).
    pub worker_id: Option<u32>,
    /// `/proc/<pid>/stat` field 22, which tells this process from a later one with its pid.
    pub start_ticks: Option<u64>,
}

/// What the keeper holds for one child; dropped with the child's `Running`, it tells the
/// keeper to close them (unless this daemon is handing its apps over, see `Keeper::freeze`).
pub(super) struct Kept {
    keeper: crate::keeper::Keeper,
    owner: String,
}

impl Drop for Kept {
    fn drop(&mut self) {
        self.keeper.forget(&self.owner);
    }
}
