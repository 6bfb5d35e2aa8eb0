//! `send` (a line on the app's stdin) and `sendDataToProcessId` (a message on its IPC channel).

use crate::daemon::Daemon;
use crate::protocol::{Error, SendDataRequest, SendLineRequest};
use crate::supervisor::{Control, ProcInfo};

pub async fn send_line(d: &Daemon, r: &SendLineRequest) -> Result<Vec<ProcInfo>, Error> {
    let list = d.resolve(std::slice::from_ref(&r.target), r.cwd.as_deref())?;
    let line = r.line.clone();
    d.each(list, move |reply| Control::Stdin(line.clone(), reply))
        .await
}

pub async fn send_data(d: &Daemon, r: &SendDataRequest) -> Result<Vec<ProcInfo>, Error> {
    let inst = d
        .registry()
        .get(r.id)
        .ok_or(Error::UnknownId { id: r.id })?;
    let data = r.data.clone();
    d.each(vec![inst], move |reply| {
        Control::Message(data.clone(), reply)
    })
    .await
}
