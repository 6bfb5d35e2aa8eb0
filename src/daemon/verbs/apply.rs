//! `apply`: pm2's start-or-restart. Apps whose name already runs are restarted (or reloaded)
//! and the rest started, in one request, so the decision is made where the process list is and
//! two clients cannot both start the same missing app.

use std::collections::HashSet;

use crate::daemon::Daemon;
use crate::protocol::{AppReport, AppSpec, ApplyRequest, Error, OnExisting, Outcome, SpecUpdate};
use crate::supervisor::ProcInfo;

/// What happens to one app of the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Restart { graceful: bool },
    Start,
}

/// pm2's rule (`_startJson`): an app is matched to running processes by its name alone; apps
/// from a file are restarted even by a plain `start`.
fn decide(
    running: &HashSet<String>,
    apps: &[AppSpec],
    on_existing: OnExisting,
    from_file: bool,
) -> Vec<Step> {
    let mode = match on_existing {
        OnExisting::Start if from_file => OnExisting::Restart,
        m => m,
    };
    apps.iter()
        .map(|app| match mode {
            OnExisting::Start => Step::Start,
            _ if !running.contains(&app.resolved_name()) => Step::Start,
            m => Step::Restart {
                graceful: m == OnExisting::Reload,
            },
        })
        .collect()
}

pub async fn apply(
    d: &Daemon,
    mut r: ApplyRequest,
) -> Result<Vec<(String, Outcome, Vec<ProcInfo>)>, Error> {
    super::start::check_apps(d, &mut r.apps, &r.env)?;
    let _serial = d.start_lock.lock().await;
    if let Some(word) = &r.word {
        let named = d.registry().by_start_word(word);
        if !named.is_empty() {
            let env = r.update_env.then(|| r.env.clone());
            let update = r.update.clone();
            let procs =
                super::restart::restart_instances(d, named, env, None, update, false).await?;
            return Ok(vec![(word.clone(), Outcome::Restarted, procs)]);
        }
        if r.apps.is_empty() {
            return Ok(vec![(word.clone(), Outcome::Skipped, Vec::new())]);
        }
    }
    let running: HashSet<String> = d
        .registry()
        .snapshots()
        .into_iter()
        .map(|p| p.name)
        .collect();
    let steps = decide(&running, &r.apps, r.on_existing, r.from_file);
    let mut reports = Vec::new();
    let mut to_start = Vec::new();
    for (app, step) in r.apps.into_iter().zip(steps) {
        let name = app.resolved_name();
        match step {
            Step::Start => to_start.push(app),
            Step::Restart { graceful } => {
                let list = d.registry().by_name(&name);
                // From a file, the app takes the file's options too, as pm2's restart does.
                let update = SpecUpdate {
                    replace: r.from_file.then(|| Box::new(app.clone())),
                    ..Default::default()
                };
                let app_env = r.from_file.then_some(app.env);
                let procs = super::restart::restart_instances(
                    d,
                    list,
                    Some(r.env.clone()),
                    app_env,
                    update,
                    graceful,
                )
                .await?;
                reports.push((name, Outcome::Restarted, procs));
            }
        }
    }
    let names: Vec<String> = to_start.iter().map(AppSpec::resolved_name).collect();
    let started = super::depends::start_ordered(d, to_start, &r.env, r.force, &r.update).await?;
    for (name, (_, procs)) in names.into_iter().zip(started) {
        reports.push((name, Outcome::Started, procs));
    }
    Ok(reports)
}

impl Daemon {
    pub(super) fn reports(&self, done: Vec<(String, Outcome, Vec<ProcInfo>)>) -> Vec<AppReport> {
        done.into_iter()
            .map(|(name, outcome, procs)| AppReport {
                name,
                outcome,
                procs: self.render(&procs),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(name: &str) -> AppSpec {
        AppSpec {
            script: format!("/srv/{name}.js"),
            name: Some(name.into()),
            ..Default::default()
        }
    }

    fn running(names: &[&str]) -> HashSet<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    const RESTART: Step = Step::Restart { graceful: false };
    const RELOAD: Step = Step::Restart { graceful: true };

    #[test]
    fn an_app_that_runs_by_name_is_restarted_or_reloaded() {
        let apps = [app("api")];
        let up = running(&["api"]);
        assert_eq!(decide(&up, &apps, OnExisting::Restart, false), [RESTART]);
        assert_eq!(decide(&up, &apps, OnExisting::Reload, true), [RELOAD]);
    }

    #[test]
    fn a_missing_app_is_started() {
        let apps = [app("api")];
        let up = running(&["worker"]);
        assert_eq!(decide(&up, &apps, OnExisting::Restart, true), [Step::Start]);
        assert_eq!(decide(&up, &apps, OnExisting::Reload, true), [Step::Start]);
    }

    #[test]
    fn a_mixed_file_restarts_some_and_starts_the_rest() {
        let apps = [app("api"), app("worker"), app("mailer")];
        let up = running(&["worker", "other"]);
        assert_eq!(
            decide(&up, &apps, OnExisting::Restart, true),
            [Step::Start, RESTART, Step::Start]
        );
    }

    #[test]
    fn a_plain_start_restarts_only_apps_from_a_file() {
        let apps = [app("api")];
        let up = running(&["api"]);
        // `pm start app.js` while it runs is refused later (already running), not restarted.
        assert_eq!(decide(&up, &apps, OnExisting::Start, false), [Step::Start]);
        assert_eq!(decide(&up, &apps, OnExisting::Start, true), [RESTART]);
    }

    #[test]
    fn the_name_is_the_apps_resolved_name() {
        // No `name`: pm2 names the app after its script, and matches by that.
        let apps = [AppSpec {
            script: "/srv/api.js".into(),
            ..Default::default()
        }];
        let up = running(&["api"]);
        assert_eq!(decide(&up, &apps, OnExisting::Restart, true), [RESTART]);
    }
}
