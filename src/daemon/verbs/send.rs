//! `send` (a line on the app's stdin), `sendDataToProcessId` (a message on its IPC channel)
//! and `trigger` (an action the app's agent registered, called over that channel).

use crate::daemon::Daemon;
use serde_json::{json, Value};

use crate::protocol::{Error, SendDataRequest, SendLineRequest, TriggerRequest};
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

/// pm2's `msgProcess`: by id, the process must have the action and run; by name (or script
/// file name, namespace, `all`), every running process that has it, none being no error (the
/// caller says nobody received it). The action goes as its name alone, or `{ msg, opts }`
/// with parameters, which is what `@pm2/io` listens for.
pub async fn trigger(d: &Daemon, r: &TriggerRequest) -> Result<Vec<ProcInfo>, Error> {
    let msg = match &r.params {
        None => Value::String(r.action.clone()),
        Some(p) => json!({ "msg": r.action, "opts": p }),
    };
    let online = |i: &ProcInfo| {
        matches!(
            i.status,
            crate::supervisor::Status::Online | crate::supervisor::Status::Launching
        )
    };
    let targets = if let Ok(id) = r.target.parse::<u32>() {
        let inst = d.registry().get(id).ok_or(Error::UnknownId { id })?;
        let info = inst.snapshot();
        if !d.agent(&info).has_action(&r.action) {
            return Err(Error::InvalidInput {
                reason: format!("Action doesn't exist {} for {}", r.action, info.name),
            });
        }
        if !online(&info) {
            return Err(Error::Failed {
                reason: format!("{id} : id offline"),
            });
        }
        vec![inst]
    } else {
        d.registry()
            .all()
            .into_iter()
            .filter(|inst| {
                let i = inst.snapshot();
                let file = std::path::Path::new(&i.spec.script)
                    .file_name()
                    .and_then(|f| f.to_str());
                (r.target == "all"
                    || i.name == r.target
                    || i.namespace == r.target
                    || file == Some(r.target.as_str()))
                    && online(&i)
                    && d.agent(&i).has_action(&r.action)
            })
            .collect()
    };
    d.each(targets, move |reply| Control::Message(msg.clone(), reply))
        .await
}
