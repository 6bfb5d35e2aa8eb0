//! `reset`: zeroes the restart counters pm2 shows (`↺`, unstable restarts).

use crate::daemon::Daemon;
use crate::protocol::{Error, TargetRequest};
use crate::supervisor::ProcInfo;

pub fn reset(d: &Daemon, t: &TargetRequest) -> Result<Vec<ProcInfo>, Error> {
    let list = d.resolve(&t.targets, t.cwd.as_deref())?;
    for i in &list {
        let mut g = i.info.lock().unwrap_or_else(|p| p.into_inner());
        g.restart_time = 0;
        g.unstable_restarts = 0;
    }
    Ok(list.iter().map(|i| i.snapshot()).collect())
}
