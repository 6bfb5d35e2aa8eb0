//! `scale <name> <N|+N|-N>`: more instances like the existing ones, or fewer (the newest go).

use super::start::{create_instances, Template};
use crate::daemon::Daemon;
use crate::protocol::app::bounded_count;
use crate::protocol::Error;
use crate::supervisor::{Control, ProcInfo};

/// `pm scale <name> <N|+N|-N>`: adds instances like the existing ones, or removes the newest,
/// leaving the others untouched.
pub async fn scale(d: &Daemon, name: &str, how: &str) -> Result<Vec<ProcInfo>, Error> {
    let _serial = d.start_lock.lock().await;
    let mut current: Vec<ProcInfo> = d
        .registry()
        .snapshots()
        .into_iter()
        .filter(|p| p.name == name)
        .collect();
    let Some(first) = current.first().cloned() else {
        return Err(Error::NotFound {
            target: name.to_string(),
        });
    };
    let have = current.len() as i64;
    let delta: i64 = how
        .trim()
        .parse()
        .map_err(|_| Error::invalid(format!("scale takes a number, +N or -N, got \"{how}\"")))?;
    let want = if how.trim().starts_with(['+', '-']) {
        have.saturating_add(delta)
    } else {
        delta
    };
    if want < 1 {
        return Err(Error::invalid(format!(
            "cannot scale {name} to {want} instances (use pm delete {name})"
        )));
    }
    // Refused before anything starts: a huge count would keep the daemon's one thread
    // spawning for minutes.
    bounded_count(want).map_err(|e| Error::invalid(format!("cannot scale {name}: {e}")))?;
    if want > have {
        let t = Template {
            name: first.name.clone(),
            namespace: first.namespace.clone(),
            spec: first.spec.clone(),
            env: first.env.clone(),
            launch: first.launch.clone(),
            version: first.version.clone(),
            node_version: first.node_version.clone(),
            multi: true,
        };
        let added = add_instances(d, &t, (want - have) as u32).await?;
        ready_or_say(d, &t, &added).await?;
    } else if want < have {
        // pm2 removes the oldest instances; their NODE_APP_INSTANCE numbers are reused by
        // the next scale-up.
        current.sort_by_key(|p| p.pm_id);
        let doomed: Vec<_> = current
            .iter()
            .take((have - want) as usize)
            .filter_map(|p| d.registry().get(p.pm_id))
            .collect();
        super::delete::delete_instances(d, doomed).await?;
    }
    Ok(d.registry()
        .snapshots()
        .into_iter()
        .filter(|p| p.name == name)
        .collect())
}

/// A scale-up of an app with a readiness gate (a readiness probe, `notify: true`) answers once
/// the new instances pass it, bounded by `listen_timeout`; those still `launching` then are
/// kept (they may yet get ready) and the answer says so.
async fn ready_or_say(d: &Daemon, t: &Template, added: &[ProcInfo]) -> Result<(), Error> {
    use crate::supervisor::checks::{self, Gate};
    let gated = checks::parse(&t.spec)
        .map(|c| matches!(c.gate(false), Gate::Probe | Gate::Notify))
        .unwrap_or(false);
    if !gated || added.is_empty() {
        return Ok(());
    }
    let ids: Vec<u32> = added.iter().map(|p| p.pm_id).collect();
    let wait = std::time::Duration::from_millis(t.spec.listen_timeout.unwrap_or(3000));
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let waiting: Vec<u32> = d
            .registry()
            .snapshots()
            .into_iter()
            .filter(|p| ids.contains(&p.pm_id) && p.status != crate::supervisor::Status::Online)
            .map(|p| p.pm_id)
            .collect();
        if waiting.is_empty() {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            let list: Vec<String> = waiting.iter().map(u32::to_string).collect();
            return Err(Error::failed(format!(
                "scale of {}: instance(s) {} not ready within listen_timeout ({} ms); they keep starting",
                t.name,
                list.join(", "),
                wait.as_millis()
            )));
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Creates and starts `count` instances.
async fn add_instances(d: &Daemon, t: &Template, count: u32) -> Result<Vec<ProcInfo>, Error> {
    d.each(create_instances(d, t, count), Control::Start).await
}
