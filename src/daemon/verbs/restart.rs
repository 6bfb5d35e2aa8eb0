//! `restart` and `reload` (a graceful restart): the same request, `graceful` picking whether
//! the replacement starts before the old process stops.

use crate::daemon::Daemon;
use crate::protocol::{Env, Error, RestartRequest, SpecUpdate};
use crate::supervisor::{Control, Instance, ProcInfo};

pub async fn restart(d: &Daemon, r: RestartRequest) -> Result<Vec<ProcInfo>, Error> {
    let list = d.resolve(&r.targets, r.cwd.as_deref())?;
    let mut app_env = r.app_env;
    let extra = module_env(&d.ctx.home, &r.targets);
    if !extra.is_empty() {
        let base = app_env
            .take()
            .or_else(|| list.first().map(|i| i.snapshot().spec.env.clone()))
            .unwrap_or_default();
        app_env = Some(base.into_iter().chain(extra).collect());
    }
    restart_instances(d, list, r.update_env, app_env, r.update, r.graceful).await
}

/// pm2's module configuration (`Modularizer.getAdditionalConf`): an app restarted by a name that
/// has a section in module_conf.json (`pm set <name>.<key> <value>`) gets the section's keys as
/// variables, and the whole section as JSON in a variable named after the app.
fn module_env(home: &crate::config::Home, targets: &[String]) -> Env {
    use crate::config::settings;
    let mut env = Env::new();
    let named: Vec<&String> = targets
        .iter()
        .filter(|t| t.as_str() != "all" && t.parse::<u32>().is_err())
        .collect();
    if named.is_empty() {
        return env;
    }
    let Ok(s) = settings::Settings::load(&settings::path(home)) else {
        return env;
    };
    for name in named {
        // The built-in rotation's settings are no app's configuration.
        if name.as_str() == settings::LOGROTATE {
            continue;
        }
        if let Ok(Some(serde_json::Value::Object(section))) = s.get(name) {
            for (k, v) in section {
                env.insert(k.clone(), v.clone());
            }
            let whole = serde_json::Value::Object(section.clone()).to_string();
            env.insert(name.clone(), whole.into());
        }
    }
    env
}

/// Restarts these instances; `env` replaces the caller's environment they were started with,
/// `app_env` their app's own `env`, and `update` changes their options. An update that does not
/// fit an instance fails the request before any of them restarts.
pub(super) async fn restart_instances(
    d: &Daemon,
    list: Vec<Instance>,
    env: Option<Env>,
    app_env: Option<Env>,
    update: SpecUpdate,
    graceful: bool,
) -> Result<Vec<ProcInfo>, Error> {
    for inst in &list {
        update
            .apply(&inst.snapshot().spec)
            .map_err(Error::invalid)?;
    }
    let update = (!update.is_empty()).then(|| Box::new(update));
    let make = move |reply| Control::Restart {
        env: env.clone().map(Box::new),
        app_env: app_env.clone().map(Box::new),
        update: update.clone(),
        graceful,
        reply,
    };
    if !graceful {
        return d.each(list, make).await;
    }
    // A rolling reload: one instance at a time, so the others keep serving.
    let mut done = Vec::new();
    for inst in list {
        done.extend(d.each(vec![inst], make.clone()).await?);
    }
    Ok(done)
}
