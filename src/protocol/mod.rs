//! What the client and the daemon say to each other: one [`Request`] and one [`Response`] enum,
//! sent as length-prefixed serde_json frames (see [`frame`]).
//!
//! A connection starts with [`Request::Hello`] carrying [`PROTOCOL_VERSION`]; the daemon answers
//! with its own version so that a CLI from another release can say so instead of misreading
//! replies. Process lists travel as [`ProcView`]s, whose JSON is pm2's `jlist` shape, which is
//! also what the programmatic API returns, so there is exactly one rendering of a process.

pub mod app;
pub mod apply;
pub mod error;
pub mod event;
pub mod frame;
pub mod loose;
pub mod queue;
pub mod secret;
pub mod update;
pub mod view;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use app::{AppSpec, ExecMode, Instances};
pub use apply::{AppReport, ApplyRequest, OnExisting, Outcome};
pub use error::Error;
pub use event::BusEvent;
pub use update::SpecUpdate;
pub use view::{Brief, Monit, Pm2Env, ProcView};

/// Bumped whenever a request or response changes shape.
pub const PROTOCOL_VERSION: u32 = 13;

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
    /// What `pm ls` prints of every process and nothing else (no env, no options): answered
    /// with [`Response::Briefs`], a tenth of `List`'s bytes.
    Brief,
    /// The processes pm2's targets name, as `list` shows them (`pm logs <target>`).
    Select(TargetRequest),
    /// The processes with this name or id, none when nothing matches (`describe`, `pid`).
    Describe(DescribeRequest),
    Flush(TargetRequest),
    ReloadLogs,
    SendSignal(SignalRequest),
    SendLine(SendLineRequest),
    SendData(SendDataRequest),
    /// Call an action an app's agent registered (`io.action`); answered with the processes it
    /// was sent to (their replies come on the bus as `axm:reply`).
    Trigger(TriggerRequest),
    /// Stop every app and exit; answered before the daemon goes away.
    Kill,
    /// Write the process list to `dump.pm2` (pm2's `save`/`dump`); answers with what was saved.
    Dump(DumpRequest),
    /// `pm scale <name> <N|+N|-N>`.
    Scale(ScaleRequest),
    /// `module_conf.json` changed (`pm set`, `pm unset`): read it again. Answered once the new
    /// settings apply, or with the error that kept them from applying.
    SettingsChanged,
    /// Turn this connection into a stream of [`Response::Event`] frames (pm2's `launchBus`).
    Subscribe,
    /// Restart the apps that already run and start the rest; answered with [`Response::Applied`].
    Apply(ApplyRequest),
    /// A message-queue operation; the first one turns the connection into a queue session
    /// (see [`queue`]).
    Queue(queue::QueueOp),
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

/// A list of pm2 targets: ids, names, `all`, namespaces, script paths or `/regex/`. The daemon
/// resolves them (one resolver, in `daemon::registry`); clients pass them on as typed.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TargetRequest {
    pub targets: Vec<String>,
    /// The caller's working directory, for script paths given relative to it.
    #[serde(default)]
    pub cwd: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RestartRequest {
    pub targets: Vec<String>,
    #[serde(default)]
    pub cwd: Option<String>,
    /// `--update-env`: the caller's environment replaces the one the app was started with.
    #[serde(default)]
    pub update_env: Option<Env>,
    /// The app's own `env` as an ecosystem file now gives it (restarting from the file).
    #[serde(default)]
    pub app_env: Option<Env>,
    /// `reload`: start the replacement before stopping the old instance.
    #[serde(default)]
    pub graceful: bool,
    /// Options the restart changes (`--node-args`, `--name`, `--watch`, ...).
    #[serde(default)]
    pub update: SpecUpdate,
}

/// `pm save [--force]`. Without `force`, an empty process list leaves the saved one alone.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct DumpRequest {
    pub force: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DescribeRequest {
    pub target: String,
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
    #[serde(default)]
    pub cwd: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SendLineRequest {
    pub target: String,
    #[serde(default)]
    pub cwd: Option<String>,
    pub line: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SendDataRequest {
    pub id: u32,
    pub data: Value,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TriggerRequest {
    /// An id, or a name, script file name, namespace or `all` (pm2's `msgProcess`).
    pub target: String,
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<Value>,
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
        procs: Vec<ProcView>,
    },
    /// [`Request::Brief`]'s answer, in id order.
    Briefs {
        procs: Vec<Brief>,
    },
    Done,
    /// A refused or failed request: `code` (and its fields) for clients to match on,
    /// `message` for people.
    Error {
        #[serde(flatten)]
        error: Error,
        message: String,
    },
    /// One bus event: `process:event`, `log:out`, `log:err`, `pm2:kill` or an app's message.
    Event(BusEvent),
    /// What [`Request::Apply`] did, one report per app, restarted ones first.
    Applied {
        apps: Vec<AppReport>,
    },
    /// A queue session's answer or delivery (see [`queue`]).
    Queue(queue::QueueReply),
}

impl Response {
    pub fn error(error: Error) -> Self {
        Response::Error {
            message: error.to_string(),
            error,
        }
    }
}

#[cfg(test)]
mod dump_request_tests {
    use super::*;

    #[test]
    fn a_dump_request_without_fields_still_parses() {
        // Clients from before `--force` send the bare verb.
        let r: Request = serde_json::from_str(r#"{"verb":"dump"}"#).expect("bare dump");
        assert!(matches!(r, Request::Dump(DumpRequest { force: false })));
        let r: Request = serde_json::from_str(r#"{"verb":"dump","force":true}"#).expect("forced");
        assert!(matches!(r, Request::Dump(DumpRequest { force: true })));
    }
}
