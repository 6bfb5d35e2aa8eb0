//! Wiring the built-in log rotation into the daemon's life: the policy from `module_conf.json`
//! at start and on every `pm set`, the cron loop, the daemon's own `pm.log`, and SIGUSR2 for
//! those who keep system logrotate.

use std::sync::Arc;
use std::time::Duration;

use super::Daemon;
use crate::config::settings::{self, Settings};
use crate::protocol::Error;

/// Reads the settings and applies them. On a store that cannot be read or holds a value the
/// rotation cannot use, the policy in force stays (pm2-logrotate's defaults at start): a
/// fresh install rotates, and a bad edit never turns rotation off.
pub fn apply(d: &Daemon) -> Result<(), Error> {
    let path = settings::path(&d.ctx.home);
    let loaded = Settings::load(&path).and_then(|s| Ok((s.rotate_policy()?, s.worker_interval()?)));
    match loaded {
        Ok((policy, every)) => {
            d.ctx.logs.set_policy(Some(policy));
            *d.worker_interval.lock().unwrap_or_else(|p| p.into_inner()) = every;
            d.settings_changed.notify_waiters();
            Ok(())
        }
        Err(e) => {
            if d.ctx.logs.policy().is_none() {
                d.ctx.logs.set_policy(Some(Default::default()));
            }
            Err(Error::failed(format!("settings not applied: {e}")))
        }
    }
}

/// Starts what rotation needs for the daemon's lifetime; ends with `shutdown`.
pub fn start(d: &Arc<Daemon>, shutdown: Arc<tokio::sync::Notify>) {
    if let Err(e) = apply(d) {
        log(&e.to_string());
    }
    let files = d.ctx.logs.clone();
    let stop = shutdown.clone();
    tokio::spawn(crate::logs::rotate::run_cron(files, async move {
        stop.notified().await
    }));
    tokio::spawn(watch_daemon_log(d.clone()));
    tokio::spawn(on_sigusr2(d.clone()));
}

/// Sizes `pm.log` every `workerInterval` and rotates it past `max_size`.
async fn watch_daemon_log(d: Arc<Daemon>) {
    if d.daemon_log.is_none() {
        return;
    }
    loop {
        let changed = d.settings_changed.notified();
        let every: Duration = *d.worker_interval.lock().unwrap_or_else(|p| p.into_inner());
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = changed => continue,
        }
        let (Some(file), Some(policy)) = (d.daemon_log.as_ref(), d.ctx.logs.policy()) else {
            continue;
        };
        if let Err(e) = file.rotate_if_full(&d.ctx.logs, &policy) {
            log(&format!("log rotation: {e}"));
        }
    }
}

/// SIGUSR2: reopen every log at its path, as `pm reloadLogs` (pm2 does the same).
async fn on_sigusr2(d: Arc<Daemon>) {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut usr2) = signal(SignalKind::user_defined2()) else {
        return;
    };
    while usr2.recv().await.is_some() {
        if let Err(e) = reopen_all(&d) {
            log(&e.to_string());
        }
    }
}

/// Reopens the apps' logs and `pm.log`.
pub fn reopen_all(d: &Daemon) -> Result<(), Error> {
    if let Some(l) = &d.daemon_log {
        if let Err(e) = l.reopen() {
            log(&format!(
                "cannot reopen {}: {e}",
                d.ctx.home.daemon_log().display()
            ));
        }
    }
    d.ctx
        .logs
        .reopen_all()
        .map_err(|e| Error::failed(format!("cannot reopen logs: {e}")))
}

/// An app's own rotation settings, checked: a bad value refuses the start with one line.
pub fn app_override(spec: &crate::protocol::AppSpec) -> Result<crate::logs::RotateOverride, Error> {
    settings::app_override(&spec.rotate_settings()).map_err(|e| match e {
        settings::SettingsError::BadValue { key, value, reason } => Error::invalid(format!(
            "app {}: {key} = {value}: {reason}",
            spec.resolved_name()
        )),
        other => Error::invalid(format!("app {}: {other}", spec.resolved_name())),
    })
}

fn log(line: &str) {
    elog!("[{}] {line}", chrono::Local::now().to_rfc3339());
}
