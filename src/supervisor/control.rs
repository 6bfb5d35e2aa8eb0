//! The verbs a task answers ([`Control`]), one arm each, and stopping its child.

use nix::unistd::Pid;
use tokio::io::AsyncWriteExt;

use super::task::Task;
use super::{child, Control, Status};
use crate::process::policy::PolicyState;
use crate::process::Exit;
use crate::protocol::ExecMode;
use serde_json::Value;

impl Task {
    /// Handles one control message; returns true when the task should end.
    pub(super) async fn control(&mut self, ctl: Control) -> bool {
        match ctl {
            Control::Start(reply) => {
                if self.running.is_none() {
                    self.restart_at = None;
                    self.policy = PolicyState::default();
                    // pm2's bus announces a start before the process comes online.
                    self.publish("start");
                    self.launch().await;
                }
                let _ = reply.send(self.launch_result());
            }
            Control::Stop(reply) => {
                self.stop().await;
                let _ = reply.send(Ok(()));
            }
            Control::Restart {
                env,
                app_env,
                update,
                graceful,
                reply,
            } => {
                // pm2 counts a restart only when something was running.
                let was_running = self.running.is_some();
                // Overlap (new first, then the old one retired) needs the listening socket
                // to outlive the old process: a cluster worker's always does, a fork app's
                // when it listens through the daemon. Anything else restarts in place.
                let cluster = self.with_info(|i| i.spec.exec_mode()) == ExecMode::Cluster;
                let overlap = graceful
                    && self.running.as_ref().is_some_and(|r| {
                        r.worker
                            .as_ref()
                            .is_some_and(|w| cluster || self.ctx.primary.holds_sockets(w.id))
                    });
                let old = if overlap { self.running.take() } else { None };
                if old.is_none() {
                    self.stop_child().await;
                }
                self.with_info(|i| {
                    if let Some(env) = env {
                        i.env = std::sync::Arc::new(*env);
                    }
                    if let Some(app_env) = app_env {
                        std::sync::Arc::make_mut(&mut i.spec).env = *app_env;
                    }
                    if let Some(next) = update.as_ref().and_then(|u| u.apply(&i.spec).ok()) {
                        if let Some(name) = &next.name {
                            i.name = name.clone();
                        }
                        i.spec = std::sync::Arc::new(next);
                        let path = i
                            .env
                            .get("PATH")
                            .and_then(Value::as_str)
                            .map(str::to_string);
                        i.launch = super::spawn::resolve_launch(&i.spec, path.as_deref());
                    }
                    if was_running {
                        i.restart_time += 1;
                        i.restart_reason = Some("manual");
                    }
                });
                self.policy = PolicyState::default();
                if update.is_some() {
                    // Watching follows the new options: launch starts it again if they ask.
                    self.watcher = None;
                    self.watch_deadline = None;
                }
                self.launch().await;
                let mut gated = Ok(());
                if let Some(old) = old {
                    gated = self.replace_gated(old).await;
                } else if graceful && !self.await_gate().await && self.running.is_some() {
                    // A rolling reload of fork instances moves to the next one only once this
                    // one is ready (bounded by listen_timeout).
                    gated = Err(self.with_info(|i| format!(
                        "reload of {} stopped: the new process was not ready within listen_timeout ({} ms)",
                        i.name, i.spec.listen_timeout.unwrap_or(3000)
                    )));
                }
                self.publish("restart");
                let _ = reply.send(gated.and_then(|_| self.launch_result()));
            }
            Control::Signal(sig, reply) => {
                let res = match &self.running {
                    Some(r) => nix::sys::signal::kill(Pid::from_raw(r.pid() as i32), sig)
                        .map_err(|e| e.to_string()),
                    None => Err("process is not running".into()),
                };
                let _ = reply.send(res);
            }
            Control::Stdin(line, reply) => {
                let res = match self.running.as_mut().and_then(|r| r.stdin.as_mut()) {
                    Some(stdin) => {
                        let mut data = line.into_bytes();
                        data.push(b'\n');
                        stdin
                            .write_all(&data)
                            .await
                            .map_err(|e| format!("cannot write to the app's stdin: {e}"))
                    }
                    None => Err("process is not running".into()),
                };
                let _ = reply.send(res);
            }
            Control::Message(msg, reply) => {
                let res = match self.running.as_ref().and_then(|r| r.channel.clone()) {
                    Some(ch) => ch
                        .send_value(&msg)
                        .await
                        .map_err(|e| format!("cannot send to the app: {e}")),
                    None => {
                        Err("process has no IPC channel (not running, or not a Node app)".into())
                    }
                };
                let _ = reply.send(res);
            }
            Control::Delete(reply) => {
                self.stop().await;
                let _ = reply.send(Ok(()));
                return true;
            }
        }
        false
    }

    fn launch_result(&self) -> Result<(), String> {
        self.with_info(|i| match i.status {
            Status::Errored if i.pid.is_none() => Err(format!(
                "process {} failed to start (see pm logs {})",
                i.name, i.pm_id
            )),
            _ => Ok(()),
        })
    }

    /// `stop`: the child goes (see [`child::terminate`]), and so does file watching.
    async fn stop(&mut self) {
        self.watcher = None;
        self.watch_deadline = None;
        // pm2 shows a stopped app as not watching, and a plain start keeps it so.
        self.with_info(|i| {
            if !matches!(i.spec.watch, None | Some(Value::Bool(false))) {
                std::sync::Arc::make_mut(&mut i.spec).watch = Some(Value::Bool(false));
            }
        });
        self.stop_child().await;
        self.cron_at = self
            .with_info(|i| i.spec.cron_restart.clone())
            .as_deref()
            .and_then(crate::sys::cron::next_cron);
    }

    /// Stops the child, if any, and cancels whatever would start it again.
    pub(super) async fn stop_child(&mut self) {
        self.restart_at = None;
        self.cron_at = None;
        self.mem_check_at = None;
        let Some(mut running) = self.running.take() else {
            self.with_info(|i| {
                if i.status != Status::Errored || i.pid.is_none() {
                    i.status = Status::Stopped;
                }
            });
            return;
        };
        let spec = self.with_info(|i| {
            i.status = Status::Stopping;
            i.spec.clone()
        });
        let status = child::terminate(&spec, &mut running, false).await;
        self.ctx.sampler.forget(running.pid());
        let value = Exit::of(&status).pm2_value();
        self.with_info(|i| {
            i.status = Status::Stopped;
            i.pid = None;
            i.start_ticks = None;
            i.connected = false;
            i.exit_code = Some(value);
            let _ = std::fs::remove_file(&i.paths.pid);
        });
        self.publish("stop");
    }
}
