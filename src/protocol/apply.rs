//! `pm start <file | word>`, `startOrRestart`, `startOrReload` and `restart <file>`: the client
//! sends every app it loaded, and the daemon decides per app whether to restart what already runs
//! or start what is missing, and says which it did, so clients only format the answer.

use serde::{Deserialize, Serialize};

use super::{AppSpec, Env, ProcView};

/// What to do with an app whose name already runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnExisting {
    /// `pm start`: start it (refused while the same script runs, unless `force`). Apps from a
    /// file are restarted anyway, as pm2 does.
    #[default]
    Start,
    /// `startOrRestart`, `restart <file>`.
    Restart,
    /// `startOrReload`, `reload <file>`: the replacement starts before the old instance stops.
    Reload,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApplyRequest {
    /// Apps with `script` and `cwd` already made absolute by the client; may be empty when `word`
    /// is given and names no script the client could find.
    pub apps: Vec<AppSpec>,
    /// The caller's environment at the time of the command.
    pub env: Env,
    /// `-f`: start again even when the same script already runs.
    #[serde(default)]
    pub force: bool,
    #[serde(default)]
    pub on_existing: OnExisting,
    /// The apps come from an ecosystem file (or JSON): a restart takes each app's `env` from it.
    #[serde(default)]
    pub from_file: bool,
    /// `pm start <word>` where no file has that name: the word as typed. pm2 restarts the
    /// processes it names (name, namespace, id or `all`), and only starts `apps` when it names none.
    #[serde(default)]
    pub word: Option<String>,
    /// `--update-env` for the restart `word` leads to (a restart from a file always updates it).
    #[serde(default)]
    pub update_env: bool,
    /// Options given with the flags of a start that turns into a restart (of what `word`
    /// names, or of the stopped instances of the same script).
    #[serde(default)]
    pub update: super::SpecUpdate,
}

/// What the daemon did with one app (or with `word`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Restarted,
    Started,
    /// `word` named no process and there was no app to start.
    Skipped,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AppReport {
    /// The app's name, or `word` as typed.
    pub name: String,
    pub outcome: Outcome,
    /// The processes acted on, in pm_id order.
    pub procs: Vec<ProcView>,
}
