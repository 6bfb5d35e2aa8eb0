//! The process table: ids, and pm2's rules for turning targets into ids.

use std::collections::BTreeMap;

use std::path::Path;

use regex::Regex;

use crate::protocol::Error;
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

    /// The id the next process will get.
    pub fn next_id(&self) -> u32 {
        self.next_id
    }

    /// Ids go on from where a dead daemon stopped handing them out.
    pub fn resume_ids(&mut self, next: u32) {
        self.next_id = self.next_id.max(next);
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

    /// Resolves pm2 targets into instances, in id order and without duplicates (see
    /// [`resolve_ids`]); `cwd` is the caller's, for script paths given relative to it.
    pub fn resolve(&self, targets: &[String], cwd: Option<&str>) -> Result<Vec<Instance>, Error> {
        let ids = resolve_ids(&self.candidates(), targets, cwd)?;
        Ok(ids.into_iter().filter_map(|id| self.get(id)).collect())
    }

    /// pm2's `describe` and `pid` rule: the processes with this name or id, none when nothing
    /// matches.
    pub fn by_name_or_id(&self, target: &str) -> Vec<Instance> {
        let t = target.trim();
        self.candidates()
            .iter()
            .filter(|c| c.name == t || t.parse() == Ok(c.pm_id))
            .filter_map(|c| self.get(c.pm_id))
            .collect()
    }

    /// The processes `pm start <word>` restarts instead of starting a script (see
    /// [`start_word_ids`]).
    pub fn by_start_word(&self, word: &str) -> Vec<Instance> {
        start_word_ids(&self.candidates(), word)
            .into_iter()
            .filter_map(|id| self.get(id))
            .collect()
    }

    /// Every instance of the app with exactly this name.
    pub fn by_name(&self, name: &str) -> Vec<Instance> {
        self.procs
            .values()
            .filter(|i| i.peek(|p| p.name == name))
            .cloned()
            .collect()
    }

    fn candidates(&self) -> Vec<Candidate> {
        self.procs
            .values()
            .map(|i| {
                i.peek(|p| Candidate {
                    pm_id: p.pm_id,
                    name: p.name.clone(),
                    namespace: p.namespace.clone(),
                    script: p.spec.script.clone(),
                })
            })
            .collect()
    }
}

/// What pm2's targeting rules look at in a process.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub pm_id: u32,
    pub name: String,
    pub namespace: String,
    /// Absolute, as the daemon stores it.
    pub script: String,
}

/// pm2's targets, each one of: `all`, an id, `/regex/` on names, a name, a namespace, or a
/// script path (relative to the caller's `cwd`). The result is in id order without
/// duplicates. A target that matches nothing is an error naming it, so a typo never silently
/// acts on nothing.
pub fn resolve_ids(
    cands: &[Candidate],
    targets: &[String],
    cwd: Option<&str>,
) -> Result<Vec<u32>, Error> {
    let mut ids: Vec<u32> = Vec::new();
    for t in targets {
        let found = match_target(cands, t, cwd)?;
        if found.is_empty() && t.trim() == "all" {
            return Err(Error::NoProcess);
        }
        if found.is_empty() {
            return Err(Error::NotFound { target: t.clone() });
        }
        ids.extend(found);
    }
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

/// pm2's `start <word>` (`_startScript`): the processes with that name, else that namespace,
/// `all` for every process, a number for that id. Narrower than [`resolve_ids`] (no regex, no
/// script path), and matching nothing is no error: then the word is a script to start.
pub fn start_word_ids(cands: &[Candidate], word: &str) -> Vec<u32> {
    let ids = |f: &dyn Fn(&Candidate) -> bool| -> Vec<u32> {
        let mut ids: Vec<u32> = cands.iter().filter(|c| f(c)).map(|c| c.pm_id).collect();
        ids.sort_unstable();
        ids
    };
    if let Ok(id) = word.parse::<u32>() {
        return ids(&|c| c.pm_id == id);
    }
    let by_name = ids(&|c| c.name == word);
    if !by_name.is_empty() {
        return by_name;
    }
    if word == "all" {
        return ids(&|_| true);
    }
    ids(&|c| c.namespace == word)
}

fn match_target(cands: &[Candidate], t: &str, cwd: Option<&str>) -> Result<Vec<u32>, Error> {
    let t = t.trim();
    let ids = |f: &dyn Fn(&Candidate) -> bool| -> Vec<u32> {
        cands.iter().filter(|c| f(c)).map(|c| c.pm_id).collect()
    };
    if t == "all" {
        return Ok(ids(&|_| true));
    }
    if let Ok(id) = t.parse::<u32>() {
        // pm2 (`_operate`, #1937): a number is an app's name first, then a namespace, then an id.
        let by_name = ids(&|c| c.name == t);
        if !by_name.is_empty() {
            return Ok(by_name);
        }
        let by_ns = ids(&|c| c.namespace == t);
        if !by_ns.is_empty() {
            return Ok(by_ns);
        }
        return Ok(ids(&|c| c.pm_id == id));
    }
    if t.len() >= 2 && t.starts_with('/') && t.ends_with('/') {
        let re = Regex::new(&t[1..t.len() - 1])
            .map_err(|e| Error::invalid(format!("invalid regex {t}: {e}")))?;
        return Ok(ids(&|c| re.is_match(&c.name)));
    }
    let by_name = ids(&|c| c.name == t);
    if !by_name.is_empty() {
        return Ok(by_name);
    }
    let by_ns = ids(&|c| c.namespace == t);
    if !by_ns.is_empty() {
        return Ok(by_ns);
    }
    let full = match cwd {
        Some(cwd) => crate::config::paths::resolve(Path::new(cwd), t),
        // The daemon's own working directory is `/`, which is no caller's.
        None => crate::config::paths::absolute(Path::new(t)),
    };
    Ok(ids(&|c| Path::new(&c.script) == full))
}

#[cfg(test)]
mod tests;
