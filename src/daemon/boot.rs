//! Coming up under a service manager. `pm daemon --resurrect` restores `dump.pm2` itself before
//! it reports ready, so a boot-time service (systemd's `ExecStart`) is one foreground process,
//! not a CLI that forks a daemon and exits; systemd hears `READY=1` once the socket serves and
//! the saved apps have been started, then `WATCHDOG=1` while the daemon's loop is alive.

use super::Daemon;
use crate::config::dump;
use crate::protocol::StartRequest;
use crate::sys::notify::Notifier;

/// How this daemon was started.
pub struct Options {
    /// Start the apps in `dump.pm2` before reporting ready.
    pub resurrect: bool,
    /// systemd's notify socket; a no-op when the daemon was not started by systemd.
    pub notify: Notifier,
    /// Keep children's descriptors in the fd keeper and adopt a dead predecessor's apps (not
    /// in container mode, whose daemon dies only with the container).
    pub keep: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            resurrect: false,
            notify: Notifier::disabled(),
            keep: false,
        }
    }
}

/// Restores the saved apps if asked, reports ready, then feeds the watchdog. Never returns:
/// the caller races it against shutdown, so a stop during a long restore is not held up.
pub async fn up(daemon: &Daemon, opts: &Options) {
    if opts.resurrect {
        restore(daemon).await;
        // What READY announces is known to a successor: a daemon killed right after it must
        // not leave the restored apps for the next one to start a second time.
        if opts.keep {
            super::live::save(daemon).await;
        }
    }
    opts.notify.ready();
    let Some(every) = opts.notify.watchdog_interval() else {
        return std::future::pending().await;
    };
    let mut tick = tokio::time::interval(every);
    // After a stall, one ping is the truth; a burst of catch-up pings would hide the stall.
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        opts.notify.watchdog();
    }
}

/// Starts every saved app, as `pm resurrect` does, with the same fallback to `dump.pm2.bak`.
/// Nothing here keeps the daemon from becoming ready: a missing dump means nothing to restore,
/// and a broken dump or an app that fails to start is one log line.
async fn restore(daemon: &Daemon) {
    let path = daemon.ctx.home.dump_file();
    let loaded = match dump::load(&path, true) {
        Ok(loaded) => loaded,
        Err(errors) if errors.len() == 1 && errors[0].is_missing() => return,
        Err(errors) => {
            for e in errors {
                log(&format!("resurrect: {e}"));
            }
            return;
        }
    };
    if let Some(e) = &loaded.skipped {
        log(&format!("resurrect: {e}"));
    }
    log(&format!("resurrecting from {}", loaded.from.display()));
    // Dependencies (`depends_on`) first; `start` waits for their condition.
    let mut apps = loaded.apps;
    let specs: Vec<_> = apps.iter().map(|a| a.spec.clone()).collect();
    let everyone = specs.iter().map(|s| s.resolved_name()).collect();
    if let Ok(order) = super::verbs::depends::order(&specs, &everyone) {
        let mut slots: Vec<Option<_>> = apps.into_iter().map(Some).collect();
        apps = order.into_iter().filter_map(|i| slots[i].take()).collect();
    }
    for app in apps {
        let real = app.spec.resolved_name();
        let name = crate::protocol::secret::Secrets::of_app(&app.spec, &app.env).text(&real);
        if daemon.registry().snapshots().iter().any(|p| p.name == real) {
            log(&format!("resurrect: {name} already runs, skipped"));
            continue;
        }
        let req = StartRequest {
            apps: vec![app.spec],
            env: app.env,
            force: false,
        };
        match super::verbs::start::start(daemon, req).await {
            Ok(_) => log(&format!("restored {name}")),
            Err(e) => log(&format!("resurrect: {name}: {e}")),
        }
    }
}

fn log(line: &str) {
    elog!("[{}] {line}", chrono::Local::now().to_rfc3339());
}
