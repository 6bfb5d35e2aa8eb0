//! What the daemon knows about one process: the view clients see (through jlist), kept apart
//! from the child handle, which only the process's own task touches.

use std::path::PathBuf;

use serde_json::Value;

use crate::protocol::{AppSpec, Env};

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
    /// The spec with `script` and `cwd` absolute.
    pub spec: AppSpec,
    /// The caller's environment at `start` (replaced on `--update-env`).
    pub env: Env,
    pub instance: u32,
    pub unique_id: String,
    pub launch: Launch,
    pub paths: Paths,
    pub status: Status,
    pub pid: Option<u32>,
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
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
