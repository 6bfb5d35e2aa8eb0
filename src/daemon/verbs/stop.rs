//! `stop`: each target's supervisor stops its process (kill_signal, then SIGKILL after
//! kill_timeout) and keeps its entry.

use crate::daemon::Daemon;
use crate::protocol::{Error, TargetRequest};
use crate::supervisor::{Control, ProcInfo};

pub async fn stop(d: &Daemon, t: &TargetRequest) -> Result<Vec<ProcInfo>, Error> {
    // Dependants (`depends_on`) stop before what they depend on.
    let groups = super::depends::stop_groups(d.resolve(&t.targets, t.cwd.as_deref())?);
    let mut done = Vec::new();
    for group in groups {
        done.extend(d.each(group, Control::Stop).await?);
    }
    done.sort_by_key(|p| p.pm_id);
    Ok(done)
}
