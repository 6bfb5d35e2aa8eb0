//! `delete`: stops the targets and forgets them.

use crate::daemon::registry::Registry;
use crate::daemon::Daemon;
use crate::protocol::{Error, TargetRequest};
use crate::supervisor::{Control, ProcInfo};

pub async fn delete(d: &Daemon, t: &TargetRequest) -> Result<Vec<ProcInfo>, Error> {
    let list = d.resolve(&t.targets, t.cwd.as_deref())?;
    delete_instances(d, list).await
}

/// Stops these instances and forgets them.
pub(super) async fn delete_instances(
    d: &Daemon,
    list: Vec<crate::supervisor::Instance>,
) -> Result<Vec<ProcInfo>, Error> {
    let done = d.each(list, Control::Delete).await?;
    let mut reg = d.registry();
    for p in &done {
        reg.remove(p.pm_id);
    }
    if reg.is_empty() {
        // pm2 numbers from 0 again once the list is empty.
        *reg = Registry::default();
    }
    // The deleted processes' kept jlist bytes go with them (ids may now be handed out again).
    d.views
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .retain(|id| reg.get(id).is_some());
    drop(reg);
    d.ctx.logs.release_unused();
    Ok(done)
}
