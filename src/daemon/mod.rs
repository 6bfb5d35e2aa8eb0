//! The daemon: a tokio program with no V8 inside. It owns the process table, answers the RPC
//! socket, and leaves each process to its supervisor task.

mod autodump;
pub mod boot;
pub mod jlist;
mod lifecycle;
pub mod live;
pub mod observe;
pub mod registry;
mod rotation;
pub mod server;
mod verbs;

use std::sync::{Arc, Mutex};

use tokio::sync::{broadcast, Notify};

use crate::config::Home;
use crate::logs::LogFiles;
use crate::metrics::Sampler;
use crate::protocol::{Error, Response};
use crate::supervisor::{self, Control, Ctx, Instance, ProcInfo};
pub use lifecycle::{main, run, Leave};
use registry::Registry;

pub struct Daemon {
    ctx: Arc<Ctx>,
    registry: Mutex<Registry>,
    /// Serialises `start`, so two concurrent starts of the same script cannot both pass the
    /// "already launched" check.
    start_lock: tokio::sync::Mutex<()>,
    shutdown: Notify,
    /// Poked after each request; see [`give_back_memory`].
    settled: Notify,
    /// Poked when the process list changes; see [`autodump`].
    changed: Notify,
    /// `node --version` per interpreter, asked once (pm2 shows it as `node_version`).
    node_versions: Mutex<std::collections::HashMap<String, String>>,
    /// `pm.log`, when it is this daemon's stdout and stderr (see [`rotation`]).
    daemon_log: Option<crate::logs::stderr::DaemonLog>,
    /// How often `pm.log` is sized (pm2-logrotate's `workerInterval`).
    worker_interval: Mutex<std::time::Duration>,
    /// Wakes the `pm.log` watcher when the settings are read again.
    settings_changed: Notify,
    /// Each process's `jlist` JSON from the last list (see [`jlist::Views`]).
    views: Mutex<jlist::Views>,
    /// Code metrics, `/metrics` and the dashboard (see [`observe`]).
    observe: observe::Observe,
    /// Orders the writes of `live.json` (see [`live::save`]).
    live_writer: live::Writer,
}

impl Daemon {
    /// `keeper`: where children's descriptors are kept across this daemon's death (a disabled
    /// one in container mode, where the daemon's death is the container's).
    pub fn new(home: Home, keeper: crate::keeper::Keeper) -> Self {
        let (bus, _) = broadcast::channel(1024);
        let home_log = home.daemon_log();
        let primary = crate::ipc::cluster::Primary::default();
        primary.set_keeper(keeper.clone());
        Daemon {
            ctx: Arc::new(Ctx {
                home,
                logs: LogFiles::default(),
                bus,
                sampler: Sampler::default(),
                code_metrics: Default::default(),
                primary,
                keeper,
                live: Notify::new(),
            }),
            registry: Mutex::new(Registry::default()),
            start_lock: tokio::sync::Mutex::new(()),
            shutdown: Notify::new(),
            settled: Notify::new(),
            changed: Notify::new(),
            node_versions: Mutex::new(Default::default()),
            daemon_log: crate::logs::stderr::DaemonLog::detect(&home_log),
            worker_interval: Mutex::new(std::time::Duration::from_secs(30)),
            settings_changed: Notify::new(),
            views: Mutex::new(Default::default()),
            observe: Default::default(),
            live_writer: Default::default(),
        }
    }

    fn registry(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The version of a Node interpreter, if it was asked already.
    fn known_node_version(&self, program: &str) -> Option<String> {
        self.node_versions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(program)
            .cloned()
    }

    /// The version of a Node interpreter, without the `v`, asked once per interpreter.
    async fn node_version(&self, program: &str, path_var: Option<&str>) -> Option<String> {
        if let Some(v) = self
            .node_versions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(program)
        {
            return Some(v.clone());
        }
        let mut cmd = tokio::process::Command::new(program);
        cmd.arg("--version")
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        if let Some(p) = path_var {
            cmd.env("PATH", p);
        }
        let out = tokio::time::timeout(std::time::Duration::from_secs(5), cmd.output())
            .await
            .ok()?
            .ok()?;
        let v = String::from_utf8_lossy(&out.stdout)
            .trim()
            .trim_start_matches('v')
            .to_string();
        if v.is_empty() {
            return None;
        }
        self.node_versions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(program.to_string(), v.clone());
        Some(v)
    }

    pub fn subscribe(&self) -> broadcast::Receiver<supervisor::Event> {
        self.ctx.bus.subscribe()
    }

    pub fn request_shutdown(&self) {
        self.shutdown.notify_one();
    }

    /// A request was answered: memory may be given back once things are quiet.
    pub fn request_done(&self) {
        self.settled.notify_one();
    }

    fn usage(&self, i: &ProcInfo) -> crate::metrics::Usage {
        match i.pid {
            Some(pid) => self.ctx.sampler.sample(pid),
            None => Default::default(),
        }
    }

    fn render(&self, infos: &[ProcInfo]) -> Vec<crate::protocol::ProcView> {
        infos
            .iter()
            .map(|i| {
                let mut view = jlist::render(i, self.usage(i), &i.version);
                let agent = self.agent(i);
                view.pm2_env.axm_monitor = agent.monitor;
                view.pm2_env.axm_actions = agent.actions;
                view
            })
            .collect()
    }

    /// An app's last code metrics and its actions; none for a stopped process, whose agent was
    /// a process now gone.
    pub(crate) fn agent(&self, i: &ProcInfo) -> crate::metrics::code::Agent {
        i.pid
            .filter(|_| i.status.is_running())
            .and_then(|_| self.ctx.code_metrics.get(i.pm_id))
            .unwrap_or_default()
    }

    /// The `List` answer's frame, serialised from the kept views: byte for byte the frame of
    /// `Response::Procs` with every process rendered afresh, without rendering them.
    fn list_frame(&self) -> Vec<u8> {
        let all = self.registry().all();
        let mut views = self.views.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = Vec::with_capacity(64 + all.len() * 4096);
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(br#"{"kind":"procs","procs":["#);
        let mut ids = Vec::with_capacity(all.len());
        for (n, inst) in all.iter().enumerate() {
            if n > 0 {
                out.push(b',');
            }
            inst.peek(|i| {
                ids.push(i.pm_id);
                views.write(&mut out, i, self.usage(i), self.agent(i));
            });
        }
        out.extend_from_slice(b"]}");
        views.retain(|id| ids.binary_search(&id).is_ok());
        let len = out.len() - 4;
        if len > crate::protocol::frame::MAX_FRAME {
            let too_big = Response::error(Error::failed(format!(
                "the process list is {len} bytes, over the frame limit"
            )));
            return crate::protocol::frame::encode(&too_big).unwrap_or_default();
        }
        out[..4].copy_from_slice(&(len as u32).to_be_bytes());
        out
    }

    /// `pm ls`'s rows, read under each instance's lock without a snapshot.
    fn briefs(&self) -> Vec<crate::protocol::Brief> {
        let all = self.registry().all();
        all.iter()
            .map(|inst| inst.peek(|i| jlist::brief(i, self.usage(i))))
            .collect()
    }

    fn resolve(&self, targets: &[String], cwd: Option<&str>) -> Result<Vec<Instance>, Error> {
        self.registry().resolve(targets, cwd)
    }

    /// Sends one control message to many instances at once and collects their snapshots.
    async fn each(
        &self,
        instances: Vec<Instance>,
        make: impl Fn(supervisor::Reply) -> Control + Clone + Send + 'static,
    ) -> Result<Vec<ProcInfo>, Error> {
        let mut set = tokio::task::JoinSet::new();
        for inst in instances {
            let make = make.clone();
            set.spawn(async move {
                let res = inst.call(make).await;
                (inst.snapshot(), res)
            });
        }
        let mut out = Vec::new();
        let mut errors = Vec::new();
        while let Some(joined) = set.join_next().await {
            match joined {
                Ok((snap, Ok(()))) => out.push(snap),
                Ok((snap, Err(e))) => {
                    errors.push(Error::failed(e));
                    out.push(snap);
                }
                Err(e) => errors.push(Error::failed(e.to_string())),
            }
        }
        out.sort_by_key(|p| p.pm_id);
        match errors.into_iter().next() {
            Some(e) => Err(e),
            None => Ok(out),
        }
    }

    async fn stop_all(&self) {
        let all = self.registry().all();
        let _ = self.each(all, Control::Stop).await;
    }
}
