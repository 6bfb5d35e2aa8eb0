//! `flush` (empty log files) and `reloadLogs` (reopen them after logrotate moved them).

use crate::daemon::Daemon;
use crate::protocol::{Error, TargetRequest};
use crate::supervisor::ProcInfo;

/// No targets means every app and the daemon's own log, as pm2's `flush` with no argument.
pub fn flush(d: &Daemon, t: &TargetRequest) -> Result<Vec<ProcInfo>, Error> {
    let list = if t.targets.is_empty() {
        d.registry().all()
    } else {
        d.resolve(&t.targets, t.cwd.as_deref())?
    };
    if t.targets.is_empty() {
        let _ = std::fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(d.ctx.home.daemon_log());
    }
    let snaps: Vec<ProcInfo> = list.iter().map(|i| i.snapshot()).collect();
    for p in &snaps {
        for path in [&p.paths.out, &p.paths.err, &p.paths.combined]
            .into_iter()
            .flatten()
        {
            let cannot = |e| Error::failed(format!("cannot flush {}: {e}", path.display()));
            d.ctx
                .logs
                .get(path)
                .map_err(cannot)?
                .truncate()
                .map_err(cannot)?;
        }
    }
    Ok(snaps)
}

/// The apps' logs and the daemon's own `pm.log`.
pub fn reload_logs(d: &Daemon) -> Result<(), Error> {
    crate::daemon::rotation::reopen_all(d)
}
