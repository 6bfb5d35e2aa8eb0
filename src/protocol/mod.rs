//! What the client and the daemon say to each other: one [`Request`] and one [`Response`] enum,
//! sent as length-prefixed serde_json frames (see [`frame`]).
//!
//! A connection starts with [`Request::Hello`] carrying [`PROTOCOL_VERSION`]; the daemon answers
//! with its own version so that a CLI from another release can say so instead of misreading
//! replies. Process lists travel in pm2's `jlist` shape (`serde_json::Value`), which is also what
//! the programmatic API returns, so there is exactly one rendering of a process.

pub mod app;
pub mod frame;
pub mod loose;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use app::{AppSpec, ExecMode, Instances};

/// Bumped whenever a request or response changes shape.
pub const PROTOCOL_VERSION: u32 = 1;

/// The package version, which the daemon reports and `pm --version` prints.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The caller's environment, captured by the CLI so apps get it (pm2 semantics: on start and on
/// `--update-env`, never on a plain restart).
pub type Env = Map<String, Value>;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "verb", rename_all = "snake_case")]
pub enum Request {
    Hello(Hello),
    Ping,
    Start(StartRequest),
    Stop(TargetRequest),
    Restart(RestartRequest),
    Delete(TargetRequest),
    Reset(TargetRequest),
    List,
    Flush(TargetRequest),
    ReloadLogs,
    SendSignal(SignalRequest),
    SendLine(SendLineRequest),
    SendData(SendDataRequest),
    /// Stop every app and exit; answered before the daemon goes away.
    Kill,
    /// Write the process list to `dump.pm2` (pm2's `save`/`dump`); answers with what was saved.
    Dump,
    /// `pm scale <name> <N|+N|-N>`.
    Scale(ScaleRequest),
    /// Turn this connection into a stream of [`Response::Event`] frames (pm2's `launchBus`).
    Subscribe,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Hello {
    pub protocol: u32,
    pub version: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StartRequest {
    /// Apps with `script` and `cwd` already made absolute by the client.
    pub apps: Vec<AppSpec>,
    /// The caller's environment at the time of the command.
    pub env: Env,
    /// `-f`: start again even when the same script already runs.
    #[serde(default)]
    pub force: bool,
}

/// A list of pm2 targets: ids, names, `all`, namespaces, script paths or `/regex/`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TargetRequest {
    pub targets: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RestartRequest {
    pub targets: Vec<String>,
    /// `--update-env`: the caller's environment replaces the one the app was started with.
    #[serde(default)]
    pub update_env: Option<Env>,
    /// The app's own `env` as an ecosystem file now gives it (restarting from the file).
    #[serde(default)]
    pub app_env: Option<Env>,
    /// `reload`: start the replacement before stopping the old instance.
    #[serde(default)]
    pub graceful: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScaleRequest {
    pub name: String,
    /// `N`, `+N` or `-N`.
    pub count: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SignalRequest {
    pub signal: String,
    pub targets: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SendLineRequest {
    pub target: String,
    pub line: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SendDataRequest {
    pub id: u32,
    pub data: Value,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Response {
    Hello(Hello),
    Pong {
        pid: u32,
    },
    /// Processes in pm2's jlist shape: the ones a verb acted on, or all of them for `List`.
    Procs {
        procs: Vec<Value>,
    },
    Done,
    Error {
        message: String,
    },
    /// One bus event: `process:event`, `log:out`, `log:err` or `process:msg`.
    Event {
        channel: String,
        data: Value,
    },
}

impl Response {
    pub fn error(message: impl Into<String>) -> Self {
        Response::Error {
            message: message.into(),
        }
    }
}
