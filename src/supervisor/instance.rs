//! The daemon's side of an instance: the [`Instance`] handle, the [`Control`] verbs it sends,
//! and the [`Ctx`] every task shares.

use std::sync::{Arc, Mutex};

use nix::sys::signal::Signal;
use serde_json::Value;
use tokio::sync::{broadcast, mpsc, oneshot};

use super::launch::Born;
use super::task::{First, Task};
use super::{Event, ProcInfo};
use crate::config::Home;
use crate::ipc;
use crate::logs::LogFiles;
use crate::metrics::Sampler;
use crate::protocol::Env;

/// What every instance task shares with the daemon.
pub struct Ctx {
    pub home: Home,
    pub logs: LogFiles,
    pub bus: broadcast::Sender<Event>,
    pub sampler: Sampler,
    /// What each process last reported in `axm:monitor` (pm2's `axm_monitor`).
    pub code_metrics: crate::metrics::code::CodeMetrics,
    /// The Node cluster primary for every cluster-mode worker: shared listening sockets.
    pub primary: ipc::cluster::Primary,
    /// Holds a copy of every child's descriptors so they outlive this daemon.
    pub keeper: crate::keeper::Keeper,
    /// Poked whenever an instance changes what the live state records (see `daemon::live`).
    pub live: tokio::sync::Notify,
}

pub type Reply<T = ()> = oneshot::Sender<Result<T, String>>;

pub enum Control {
    Start(Reply),
    Stop(Reply),
    Restart {
        /// `--update-env`: the caller's environment replaces the stored one. Boxed, as is
        /// `app_env`: every instance's queue allocates slots of the largest variant.
        env: Option<Box<Env>>,
        /// From an ecosystem file: the app's `env` replaces the stored one.
        app_env: Option<Box<Env>>,
        /// Options the restart changes, checked by the daemon before it is sent.
        update: Option<Box<crate::protocol::SpecUpdate>>,
        /// `reload`: start the replacement before stopping the old process.
        graceful: bool,
        reply: Reply,
    },
    Signal(Signal, Reply),
    Stdin(String, Reply),
    Message(Value, Reply),
    /// Stop, then end the task.
    Delete(Reply),
}

/// The daemon's handle to one instance.
#[derive(Clone)]
pub struct Instance {
    pub info: Arc<Mutex<ProcInfo>>,
    ctl: mpsc::Sender<Control>,
}

impl Instance {
    pub fn snapshot(&self) -> ProcInfo {
        self.info.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Reads one thing without copying the rest (a snapshot clones every string).
    pub fn peek<R>(&self, f: impl FnOnce(&ProcInfo) -> R) -> R {
        f(&self.info.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Sends a control message and waits for the task's answer.
    pub async fn call<T>(&self, make: impl FnOnce(Reply<T>) -> Control) -> Result<T, String> {
        let (tx, rx) = oneshot::channel();
        self.ctl
            .send(make(tx))
            .await
            .map_err(|_| "process task has ended".to_string())?;
        rx.await.map_err(|_| "process task has ended".to_string())?
    }
}

/// Creates the task for an instance and, when `start` is set, launches it.
pub fn create(ctx: Arc<Ctx>, info: ProcInfo, start: bool) -> Instance {
    let first = if start { First::Launch } else { First::Wait };
    spawn_task(ctx, info, first)
}

fn spawn_task(ctx: Arc<Ctx>, info: ProcInfo, first: First) -> Instance {
    let info = Arc::new(Mutex::new(info));
    let (tx, rx) = mpsc::channel(32);
    tokio::spawn(Task::new(ctx, info.clone(), rx).run(first));
    Instance { info, ctl: tx }
}

/// A running process of a daemon that died, and the descriptors the keeper kept for it
/// (`out`, `err`, `in`, `chan`).
pub struct Adoption {
    pub pid: u32,
    pub start_ticks: u64,
    pub fds: std::collections::BTreeMap<String, std::os::fd::OwnedFd>,
    pub worker_id: Option<u32>,
}

/// Supervises `a.pid` as the instance `info` describes: same pid, its logs read from the kept
/// pipes, its channel answered again. Fails when the process cannot be watched (it is gone).
pub fn adopt(ctx: Arc<Ctx>, info: ProcInfo, mut a: Adoption) -> std::io::Result<Instance> {
    let child = crate::process::Child::adopt(a.pid)?;
    let born = Born {
        child,
        stdin: a.fds.remove("in"),
        stdout: a.fds.remove("out"),
        stderr: a.fds.remove("err"),
        channel: a.fds.remove("chan"),
        worker_id: a.worker_id,
        start_ticks: Some(a.start_ticks),
    };
    Ok(spawn_task(ctx, info, First::Adopt(Box::new(born))))
}
