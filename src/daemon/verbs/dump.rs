//! `save` / `dump`: the process list written for `pm resurrect`.

use crate::config::dump::{self, Saving};
use crate::daemon::Daemon;
use crate::protocol::{Error, Instances};
use crate::supervisor::ProcInfo;

/// Saves every app (one record per app, with its instance count), keeping the previous dump as
/// `dump.pm2.bak`. Answers with what was saved: nothing when the list is empty and not
/// `force`d, in which case the dump on disk is left as it was.
pub fn dump(d: &Daemon, force: bool) -> Result<Vec<ProcInfo>, Error> {
    let snaps = d.registry().snapshots();
    let mut apps: Vec<serde_json::Value> = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    for p in &snaps {
        if seen.contains(&p.name.as_str()) {
            continue;
        }
        seen.push(&p.name);
        let count = snaps.iter().filter(|q| q.name == p.name).count();
        let mut spec = (*p.spec).clone();
        if count > 1 || spec.instances != Instances::One {
            spec.instances = Instances::Count(count as u32);
        }
        spec.namespace = Some(p.namespace.clone());
        apps.push(dump::record(&spec, &p.env));
    }
    let path = d.ctx.home.dump_file();
    match dump::save(&path, &apps, force) {
        Ok(Saving::Written) => Ok(snaps),
        Ok(Saving::RefusedEmpty) => Ok(Vec::new()),
        Err(e) => Err(Error::failed(format!(
            "cannot write {}: {e}",
            path.display()
        ))),
    }
}
