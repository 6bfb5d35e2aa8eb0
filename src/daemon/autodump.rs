//! pm2's `pm2:autodump` setting (`pm set pm2:autodump true`): the dump follows every change to
//! the process list (start, delete, scale, a restart that changes an app's environment), so a
//! crash or a reboot restores what ran, not what ran at the last `pm save`. Off by default, as
//! in pm2, where saving is the user's explicit act.

use std::sync::Arc;
use std::time::Duration;

use super::Daemon;
use crate::config::settings;

/// Quiet time after the last change before the dump is written: `pm start` of ten apps, or a
/// `pm scale`, writes once, not once per instance.
const DEBOUNCE: Duration = Duration::from_millis(500);

/// Waits for changes ([`Daemon::list_changed`]), and writes the dump once they have stopped
/// for [`DEBOUNCE`], if the setting is on. The setting is read then, so a `pm set` takes effect
/// at the next change without telling the daemon.
pub(super) async fn run(daemon: Arc<Daemon>) {
    loop {
        daemon.changed.notified().await;
        while tokio::time::timeout(DEBOUNCE, daemon.changed.notified())
            .await
            .is_ok()
        {}
        if !enabled(&daemon.ctx.home) {
            continue;
        }
        // Forced: an empty list after `pm delete all` is the truth the user asked to keep.
        if let Err(e) = super::verbs::dump_now(&daemon) {
            elog!("[{}] autodump: {}", chrono::Local::now().to_rfc3339(), e);
        }
    }
}

/// `pm2:autodump` is `true` in the settings (a store that cannot be read counts as off).
fn enabled(home: &crate::config::Home) -> bool {
    let Ok(s) = settings::Settings::load(&settings::path(home)) else {
        return false;
    };
    match s.get("pm2:autodump") {
        Ok(Some(serde_json::Value::String(v))) => v == "true",
        Ok(Some(serde_json::Value::Bool(b))) => *b,
        _ => false,
    }
}

impl Daemon {
    /// The process list or an app's configuration changed (see [`run`]).
    pub(super) fn list_changed(&self) {
        self.changed.notify_one();
        self.ctx.live.notify_one();
    }
}
