//! Starting one Node child for `fork()`, through the process core ([`crate::process`]): Node's
//! IPC channel on fd 3, its own process group, and the stdio `silent` asks for.

use std::io;
use std::process::Stdio;
use std::sync::Arc;

use crate::process::{self, Child};

/// What to run: the same for every restart.
#[derive(Debug, Clone)]
pub struct LaunchConfig {
    /// The Node binary (`process.execPath` by default).
    pub exec_path: String,
    /// Everything after it: `execArgv`, the module path, then the module's arguments.
    pub args: Vec<String>,
    pub cwd: Option<String>,
    /// The complete environment (the JS side starts from `process.env`, as Node's fork does).
    pub env: Vec<(String, String)>,
    /// `silent: true`: stdout and stderr come back as pipes instead of sharing the parent's.
    pub silent: bool,
}

/// A running child and the parent's end of its channel.
pub struct Launched {
    pub child: Child,
    /// The parent's end of the channel, until the supervisor takes it.
    pub channel: Option<super::outbox::Channel>,
}

pub fn launch(cfg: &LaunchConfig) -> io::Result<Launched> {
    let mut cmd = process::Command::new(&cfg.exec_path);
    cmd.args(&cfg.args)
        .envs(cfg.env.iter().map(|(k, v)| (k, v)))
        .channel();
    if cfg.silent {
        cmd.stdio(Stdio::null(), Stdio::piped(), Stdio::piped());
    }
    if let Some(cwd) = cfg.cwd.as_deref() {
        cmd.cwd(cwd);
    }
    let spawned = cmd.spawn()?;
    Ok(Launched {
        child: spawned.child,
        channel: spawned.channel.map(Arc::new),
    })
}
