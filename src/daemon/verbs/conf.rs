//! `settings_changed`: `pm set` / `pm unset` wrote `module_conf.json`; the rotation policy it
//! holds applies before the client hears back, so the next line an app writes follows it.

use crate::daemon::Daemon;
use crate::protocol::Error;

pub fn settings_changed(d: &Daemon) -> Result<(), Error> {
    let rotation = crate::daemon::rotation::apply(d);
    crate::daemon::observe::apply(d)?;
    rotation
}
