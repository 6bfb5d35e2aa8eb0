//! The process table: ids, and pm2's rules for turning targets into ids.

use std::collections::BTreeMap;

use regex::Regex;

use crate::supervisor::{Instance, ProcInfo};

#[derive(Default)]
pub struct Registry {
    procs: BTreeMap<u32, Instance>,
    next_id: u32,
}

impl Registry {
    /// The next pm_id. pm2 hands out ids in order and never reuses one while the daemon lives.
    pub fn allocate_id(&mut self) -> u32 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    pub fn insert(&mut self, id: u32, inst: Instance) {
        self.procs.insert(id, inst);
    }

    pub fn remove(&mut self, id: u32) -> Option<Instance> {
        self.procs.remove(&id)
    }

    pub fn get(&self, id: u32) -> Option<Instance> {
        self.procs.get(&id).cloned()
    }

    pub fn all(&self) -> Vec<Instance> {
        self.procs.values().cloned().collect()
    }

    pub fn is_empty(&self) -> bool {
        self.procs.is_empty()
    }

    pub fn snapshots(&self) -> Vec<ProcInfo> {
        self.procs.values().map(|i| i.snapshot()).collect()
    }

    /// Resolves pm2 targets (`all`, an id, `/regex/`, a name, a namespace, a script path) into
    /// instances, in id order and without duplicates. Any target that matches nothing is an
    /// error naming it, so a typo never silently acts on nothing.
    pub fn resolve(&self, targets: &[String]) -> Result<Vec<Instance>, String> {
        let snaps = self.snapshots();
        let mut ids: Vec<u32> = Vec::new();
        for t in targets {
            let found = match_target(&snaps, t)?;
            if found.is_empty() && t.trim() == "all" {
                return Err("No process found".into());
            }
            if found.is_empty() {
                return Err(format!("Process or Namespace {t} not found"));
            }
            ids.extend(found);
        }
        ids.sort_unstable();
        ids.dedup();
        Ok(ids.into_iter().filter_map(|id| self.get(id)).collect())
    }
}

fn match_target(snaps: &[ProcInfo], t: &str) -> Result<Vec<u32>, String> {
    let t = t.trim();
    if t == "all" {
        return Ok(snaps.iter().map(|p| p.pm_id).collect());
    }
    if let Ok(id) = t.parse::<u32>() {
        return Ok(snaps
            .iter()
            .filter(|p| p.pm_id == id)
            .map(|p| p.pm_id)
            .collect());
    }
    if t.len() >= 2 && t.starts_with('/') && t.ends_with('/') {
        let re = Regex::new(&t[1..t.len() - 1]).map_err(|e| format!("invalid regex {t}: {e}"))?;
        return Ok(snaps
            .iter()
            .filter(|p| re.is_match(&p.name))
            .map(|p| p.pm_id)
            .collect());
    }
    let by_name: Vec<u32> = snaps
        .iter()
        .filter(|p| p.name == t)
        .map(|p| p.pm_id)
        .collect();
    if !by_name.is_empty() {
        return Ok(by_name);
    }
    let by_ns: Vec<u32> = snaps
        .iter()
        .filter(|p| p.namespace == t)
        .map(|p| p.pm_id)
        .collect();
    if !by_ns.is_empty() {
        return Ok(by_ns);
    }
    let full = crate::config::paths::absolute(std::path::Path::new(t));
    Ok(snaps
        .iter()
        .filter(|p| std::path::Path::new(&p.spec.script) == full)
        .map(|p| p.pm_id)
        .collect())
}
