//! `depends_on`: start order between apps. `["db", { name: "api", condition: "healthy" }]`
//! starts an app only once each dependency has started (`started`, the default), is online and
//! passing its probes (`healthy`), or has run to completion with exit code 0 (`completed`).
//! The order is checked before anything starts (an unknown name or a cycle is one line), and
//! `stop` stops dependants before what they depend on.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use serde_json::Value;

use crate::daemon::Daemon;
use crate::protocol::{AppSpec, Env, Error};
use crate::supervisor::{Instance, ProcInfo, Status};

/// How long a dependant waits for its dependencies' condition.
const WAIT: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    Started,
    Healthy,
    Completed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dep {
    pub name: String,
    pub condition: Condition,
}

/// An app's `depends_on`, or the one line that says what is wrong with it.
pub fn deps(spec: &AppSpec) -> Result<Vec<Dep>, String> {
    let one = |v: &Value| -> Result<Dep, String> {
        match v {
            Value::String(n) if !n.trim().is_empty() => Ok(Dep {
                name: n.trim().to_string(),
                condition: Condition::Started,
            }),
            Value::Object(o) => {
                let name = match o.get("name") {
                    Some(Value::String(n)) if !n.trim().is_empty() => n.trim().to_string(),
                    _ => return Err("depends_on: each entry needs a \"name\"".into()),
                };
                let condition = match o.get("condition") {
                    None | Some(Value::Null) => Condition::Started,
                    Some(Value::String(c)) => match c.as_str() {
                        "started" => Condition::Started,
                        "healthy" => Condition::Healthy,
                        "completed" => Condition::Completed,
                        other => {
                            return Err(format!(
                            "depends_on: condition \"{other}\" (expected started, healthy or completed)"
                        ))
                        }
                    },
                    Some(other) => {
                        return Err(format!("depends_on: condition must be a string, got {other}"))
                    }
                };
                if let Some(k) = o.keys().find(|k| *k != "name" && *k != "condition") {
                    return Err(format!(
                        "depends_on: unknown key \"{k}\" (expected name, condition)"
                    ));
                }
                Ok(Dep { name, condition })
            }
            other => Err(format!(
                "depends_on: expected an app name or {{ name, condition }}, got {other}"
            )),
        }
    };
    match spec.extra.get("depends_on") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items.iter().map(one).collect(),
        Some(v @ (Value::String(_) | Value::Object(_))) => Ok(vec![one(v)?]),
        Some(other) => Err(format!(
            "depends_on: expected a list of app names, got {other}"
        )),
    }
}

/// The request's apps in start order (dependencies first, else file order), or why not: an
/// unknown name (neither in the request nor already known to the daemon) or a cycle.
pub fn order(apps: &[AppSpec], known: &HashSet<String>) -> Result<Vec<usize>, Error> {
    let names: Vec<String> = apps.iter().map(AppSpec::resolved_name).collect();
    let index: HashMap<&str, usize> = names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), i))
        .collect();
    let mut edges: Vec<Vec<usize>> = Vec::with_capacity(apps.len());
    for (i, spec) in apps.iter().enumerate() {
        let ds = deps(spec).map_err(|e| Error::invalid(format!("app {}: {e}", names[i])))?;
        let mut mine = Vec::new();
        for d in ds {
            if d.name == names[i] {
                return Err(Error::invalid(format!(
                    "app {}: depends_on: an app cannot depend on itself",
                    names[i]
                )));
            }
            match index.get(d.name.as_str()) {
                Some(&j) => mine.push(j),
                None if known.contains(&d.name) => {}
                None => {
                    return Err(Error::invalid(format!(
                        "app {}: depends_on: no app named \"{}\"",
                        names[i], d.name
                    )))
                }
            }
        }
        edges.push(mine);
    }
    // Depth-first, in file order: 0 unvisited, 1 on the path, 2 placed.
    fn visit(
        i: usize,
        edges: &[Vec<usize>],
        state: &mut [u8],
        path: &mut Vec<usize>,
        out: &mut Vec<usize>,
        names: &[String],
    ) -> Result<(), Error> {
        match state[i] {
            2 => return Ok(()),
            1 => {
                let from = path.iter().position(|&p| p == i).unwrap_or(0);
                let mut cycle: Vec<&str> =
                    path[from..].iter().map(|&p| names[p].as_str()).collect();
                cycle.push(names[i].as_str());
                return Err(Error::invalid(format!(
                    "depends_on: cycle {}",
                    cycle.join(" → ")
                )));
            }
            _ => {}
        }
        state[i] = 1;
        path.push(i);
        for &j in &edges[i] {
            visit(j, edges, state, path, out, names)?;
        }
        path.pop();
        state[i] = 2;
        out.push(i);
        Ok(())
    }
    let mut state = vec![0u8; apps.len()];
    let mut out = Vec::with_capacity(apps.len());
    for i in 0..apps.len() {
        visit(i, &edges, &mut state, &mut Vec::new(), &mut out, &names)?;
    }
    Ok(out)
}

fn met(c: Condition, procs: &[ProcInfo]) -> Result<bool, String> {
    if procs.is_empty() {
        return Ok(false);
    }
    Ok(match c {
        Condition::Started => procs
            .iter()
            .all(|p| p.pid.is_some() || p.status == Status::OneLaunch),
        Condition::Healthy => procs.iter().all(|p| {
            p.status == Status::Online
                && p.health
                    .as_ref()
                    .is_none_or(|h| h.ready && (h.liveness.is_none() || h.state() == "healthy"))
        }),
        Condition::Completed => {
            let done = |p: &ProcInfo| {
                p.pid.is_none() && matches!(p.status, Status::Stopped | Status::OneLaunch)
            };
            let ok = |p: &ProcInfo| p.exit_code.as_ref().and_then(Value::as_i64) == Some(0);
            if let Some(bad) = procs.iter().find(|p| done(p) && !ok(p)) {
                return Err(format!(
                    "it exited with {}",
                    bad.exit_code.clone().unwrap_or(Value::Null)
                ));
            }
            procs.iter().all(|p| done(p) && ok(p))
        }
    })
}

/// Waits until every dependency of `spec` meets its condition (bounded).
pub async fn wait_for(d: &Daemon, spec: &AppSpec) -> Result<(), Error> {
    let name = spec.resolved_name();
    let ds = deps(spec).map_err(|e| Error::invalid(format!("app {name}: {e}")))?;
    for dep in ds {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let procs: Vec<ProcInfo> = d
                .registry()
                .by_name(&dep.name)
                .iter()
                .map(Instance::snapshot)
                .collect();
            match met(dep.condition, &procs) {
                Ok(true) => break,
                Ok(false) => {}
                Err(why) => {
                    return Err(Error::failed(format!(
                        "app {name} not started: its dependency {} did not complete ({why})",
                        dep.name
                    )))
                }
            }
            if tokio::time::Instant::now() >= deadline {
                let word = match dep.condition {
                    Condition::Started => "started",
                    Condition::Healthy => "healthy",
                    Condition::Completed => "completed",
                };
                return Err(Error::failed(format!(
                    "app {name} not started: its dependency {} was not {word} within {} s",
                    dep.name,
                    WAIT.as_secs()
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    Ok(())
}

/// [`super::start::start_apps`] in dependency order: with no `depends_on` in the request,
/// exactly it (all at once); else one app at a time, each once its dependencies are ready.
/// Results come back in the request's order. The caller holds `start_lock`.
pub(super) async fn start_ordered(
    d: &Daemon,
    apps: Vec<AppSpec>,
    env: &Env,
    force: bool,
    update: &crate::protocol::SpecUpdate,
) -> Result<Vec<(bool, Vec<ProcInfo>)>, Error> {
    let has_deps = apps.iter().any(|a| a.extra.contains_key("depends_on"));
    if !has_deps {
        return super::start::start_apps(d, apps, env, force, update).await;
    }
    let known: HashSet<String> = d
        .registry()
        .snapshots()
        .into_iter()
        .map(|p| p.name)
        .collect();
    let order = order(&apps, &known)?;
    let mut results: Vec<Option<(bool, Vec<ProcInfo>)>> = vec![None; apps.len()];
    for i in order {
        wait_for(d, &apps[i]).await?;
        let mut one =
            super::start::start_apps(d, vec![apps[i].clone()], env, force, update).await?;
        results[i] = one.pop();
    }
    Ok(results.into_iter().flatten().collect())
}

/// Groups instances for `stop`: dependants before what they depend on, each group stopped at
/// once. Without `depends_on` among them, one group.
pub(super) fn stop_groups(list: Vec<Instance>) -> Vec<Vec<Instance>> {
    let specs: Vec<ProcInfo> = list.iter().map(Instance::snapshot).collect();
    if !specs
        .iter()
        .any(|p| p.spec.extra.contains_key("depends_on"))
    {
        return vec![list];
    }
    // One spec per app name, in first-seen order.
    let mut names: Vec<String> = Vec::new();
    let mut apps: Vec<AppSpec> = Vec::new();
    for p in &specs {
        if !names.contains(&p.name) {
            names.push(p.name.clone());
            let mut s = (*p.spec).clone();
            s.name = Some(p.name.clone());
            apps.push(s);
        }
    }
    // A dependency outside the stopped set orders nothing here.
    let all: HashSet<String> = apps
        .iter()
        .flat_map(|a| deps(a).unwrap_or_default())
        .map(|d| d.name)
        .collect();
    let Ok(order) = order(&apps, &all) else {
        return vec![list];
    };
    let mut groups: Vec<Vec<Instance>> = Vec::new();
    for i in order.into_iter().rev() {
        let group: Vec<Instance> = list
            .iter()
            .zip(&specs)
            .filter(|(_, p)| p.name == names[i])
            .map(|(inst, _)| inst.clone())
            .collect();
        groups.push(group);
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn app(name: &str, deps: Value) -> AppSpec {
        let mut extra = serde_json::Map::new();
        if !deps.is_null() {
            extra.insert("depends_on".into(), deps);
        }
        AppSpec {
            name: Some(name.into()),
            script: format!("/{name}.js"),
            extra,
            ..Default::default()
        }
    }

    #[test]
    fn dependencies_start_first_else_file_order() {
        let apps = [
            app("web", json!(["api"])),
            app("api", json!([{"name": "db", "condition": "healthy"}])),
            app("db", Value::Null),
            app("cron", Value::Null),
        ];
        let o = order(&apps, &HashSet::new()).expect("ordered");
        let names: Vec<_> = o.iter().map(|&i| apps[i].resolved_name()).collect();
        assert_eq!(names, ["db", "api", "web", "cron"]);
    }

    #[test]
    fn cycles_unknown_names_and_bad_entries_are_one_line() {
        let apps = [
            app("a", json!(["b"])),
            app("b", json!(["c"])),
            app("c", json!(["a"])),
        ];
        assert_eq!(
            order(&apps, &HashSet::new())
                .expect_err("cycle")
                .to_string(),
            "depends_on: cycle a → b → c → a"
        );
        let apps = [app("a", json!(["ghost"]))];
        assert_eq!(
            order(&apps, &HashSet::new())
                .expect_err("unknown")
                .to_string(),
            "app a: depends_on: no app named \"ghost\""
        );
        let known = HashSet::from_iter(["ghost".to_string()]);
        assert!(
            order(&apps, &known).is_ok(),
            "an app the daemon already runs"
        );
        let bad = app("a", json!([{"name": "b", "condition": "ready"}]));
        assert!(deps(&bad).expect_err("bad").contains("condition \"ready\""));
        assert!(deps(&app("a", json!(3))).is_err());
    }
}
