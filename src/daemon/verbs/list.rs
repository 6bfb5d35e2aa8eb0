//! `list` (pm2's `getMonitorData`) and its filtered forms: every process, those some targets
//! name (`pm logs <target>`), or those with one name or id (`describe`, `pid`).

use crate::daemon::Daemon;
use crate::protocol::{Error, TargetRequest};
use crate::supervisor::ProcInfo;

pub fn list(d: &Daemon) -> Vec<ProcInfo> {
    d.registry().snapshots()
}

pub fn select(d: &Daemon, t: &TargetRequest) -> Result<Vec<ProcInfo>, Error> {
    let list = d.resolve(&t.targets, t.cwd.as_deref())?;
    Ok(list.iter().map(|i| i.snapshot()).collect())
}

pub fn describe(d: &Daemon, target: &str) -> Vec<ProcInfo> {
    let list = d.registry().by_name_or_id(target);
    list.iter().map(|i| i.snapshot()).collect()
}
