//! What the daemon knows about one process: the view clients see (through jlist), kept apart
//! from the child handle, which only the process's own task touches.

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::Value;

use crate::protocol::{AppSpec, Env};
pub use crate::sys::clock::now_ms;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Launching,
    Online,
    Stopping,
    Stopped,
    Errored,
    WaitingRestart,
    /// A process that ran to completion with autorestart off (pm2's `one-launch-status`).
    OneLaunch,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Launching => "launching",
            Status::Online => "online",
            Status::Stopping => "stopping",
            Status::Stopped => "stopped",
            Status::Errored => "errored",
            Status::WaitingRestart => "waiting restart",
            Status::OneLaunch => "one-launch-status",
        }
    }

    pub fn is_running(self) -> bool {
        matches!(
            self,
            Status::Launching | Status::Online | Status::Stopping | Status::WaitingRestart
        )
    }
}

/// Where an instance's output and pid go; `None` means the user sent it to `/dev/null`.
#[derive(Debug, Clone, Default)]
pub struct Paths {
    pub out: Option<PathBuf>,
    pub err: Option<PathBuf>,
    pub combined: Option<PathBuf>,
    pub pid: PathBuf,
}

/// How the instance is launched, resolved once when it is created.
#[derive(Debug, Clone)]
pub struct Launch {
    /// pm2's `exec_interpreter`: `node`, `bash`, `none`, ...
    pub interpreter: String,
    pub program: String,
    pub args: Vec<String>,
    pub is_node: bool,
}

#[derive(Debug, Clone)]
pub struct ProcInfo {
    pub pm_id: u32,
    pub name: String,
    pub namespace: String,
    /// The spec with `script` and `cwd` absolute. Shared by the app's instances and by every
    /// snapshot (`jlist` takes one per instance per call): a clone is a reference count.
    pub spec: Arc<AppSpec>,
    /// The caller's environment at `start` (replaced on `--update-env`), shared the same way.
    pub env: Arc<Env>,
    pub instance: u32,
    pub unique_id: String,
    pub launch: Launch,
    pub paths: Paths,
    pub status: Status,
    pub pid: Option<u32>,
    /// The running child's start time (`/proc/<pid>/stat` field 22), for a successor daemon
    /// to tell it from a later process with the same pid.
    pub start_ticks: Option<u64>,
    /// The running child's id on the cluster primary (Node apps).
    pub worker_id: Option<u32>,
    pub restart_time: u32,
    pub unstable_restarts: u32,
    pub created_at: i64,
    pub pm_uptime: i64,
    pub exit_code: Option<Value>,
    /// Whether the child holds a Node IPC channel (`process.send` works).
    pub connected: bool,
    /// pm2's `version`: from the nearest package.json (`null` means the key is absent).
    pub version: Value,
    /// `process.versions.node` of the interpreter, for Node apps (pm2's `node_version`).
    pub node_version: Option<String>,
    /// Why the last restart happened: `exit`, `memory`, `cron`, `watch`, `health`,
    /// `watchdog`, `hang`, `no_output`, `manual`.
    pub restart_reason: Option<&'static str>,
    /// Probe results and what the app said on its notify socket (see `checks`).
    pub health: Option<HealthView>,
    /// Set by the log pumps while the app's output cannot be written (see `LogFile::fault`).
    pub log_error: Option<String>,
}

impl ProcInfo {
    /// The name as the daemon's log shows it: no secret of the app, no URL password (an app
    /// named after its command line carries whatever the line held).
    pub fn shown_name(&self) -> String {
        crate::protocol::secret::Secrets::of_app(&self.spec, &self.env).text(&self.name)
    }
}

/// The last run of one probe.
#[derive(Debug, Clone, Default)]
pub struct ProbeResult {
    pub kind: &'static str,
    pub target: String,
    pub ok: bool,
    pub at: i64,
    pub took_ms: u64,
    pub message: String,
    pub failures: u32,
    pub successes: u32,
}

/// What jlist shows under `pm2_env.health`.
#[derive(Debug, Clone, Default)]
pub struct HealthView {
    pub liveness: Option<ProbeResult>,
    pub readiness: Option<ProbeResult>,
    /// Whether this launch passed its readiness gate (probe, `READY=1` or `ready`).
    pub ready: bool,
    pub notify_ready: bool,
    pub notify_status: Option<String>,
    pub main_pid: Option<u32>,
    pub stopping: bool,
    pub last_watchdog: Option<i64>,
}

impl ProbeResult {
    fn to_json(&self) -> Value {
        serde_json::json!({
            "type": self.kind, "target": self.target, "ok": self.ok, "at": self.at,
            "took_ms": self.took_ms, "message": self.message,
            "failures": self.failures, "successes": self.successes,
        })
    }
}

impl HealthView {
    /// `healthy`, `unhealthy`, `starting`: the liveness probe's word, else readiness's.
    pub fn state(&self) -> &'static str {
        match self.liveness.as_ref().or(self.readiness.as_ref()) {
            Some(r) if r.ok => "healthy",
            Some(_) => "unhealthy",
            None => "starting",
        }
    }

    pub fn to_json(&self) -> Value {
        let mut m = serde_json::Map::new();
        if self.liveness.is_some() || self.readiness.is_some() {
            m.insert("status".into(), self.state().into());
        }
        m.insert("ready".into(), self.ready.into());
        if let Some(r) = &self.liveness {
            m.insert("liveness".into(), r.to_json());
        }
        if let Some(r) = &self.readiness {
            m.insert("readiness".into(), r.to_json());
        }
        let mut n = serde_json::Map::new();
        if self.notify_ready {
            n.insert("ready".into(), true.into());
        }
        if let Some(s) = &self.notify_status {
            n.insert("status".into(), s.clone().into());
        }
        if let Some(p) = self.main_pid {
            n.insert("main_pid".into(), p.into());
        }
        if self.stopping {
            n.insert("stopping".into(), true.into());
        }
        if let Some(w) = self.last_watchdog {
            n.insert("last_watchdog".into(), w.into());
        }
        if !n.is_empty() {
            m.insert("notify".into(), Value::Object(n));
        }
        Value::Object(m)
    }
}
