//! `sendSignal`: a signal, parsed once here, to each target's process group.

use crate::daemon::Daemon;
use crate::protocol::{Error, SignalRequest};
use crate::supervisor::{Control, ProcInfo};

pub async fn send_signal(d: &Daemon, r: &SignalRequest) -> Result<Vec<ProcInfo>, Error> {
    let sig = crate::sys::signal::parse(&r.signal)
        .map_err(|_| Error::invalid(format!("Unknown signal: {}", r.signal)))?;
    d.each(d.resolve(&r.targets, r.cwd.as_deref())?, move |reply| {
        Control::Signal(sig, reply)
    })
    .await
}
