//! The supervisor's requests to its own daemon, made as the CLI makes them: through the
//! socket, with the blocking client on a blocking thread (the daemon answers on the runtime's
//! only thread, so a blocking call there would wait for itself).

use anyhow::anyhow;
use serde_json::Value;

use crate::cli::args::StartArgs;
use crate::cli::client::Client;
use crate::config::Home;
use crate::protocol::{ProcView, Request, Response, SignalRequest, TargetRequest};

/// A blocking client call, off the runtime's only thread (the daemon answers on it).
async fn call(home: &Home, req: Request) -> anyhow::Result<Response> {
    let home = home.clone();
    tokio::task::spawn_blocking(move || {
        let mut c = Client::connect_existing(&home)?
            .ok_or_else(|| anyhow!("the supervisor's socket is gone"))?;
        c.call_ok(&req)
    })
    .await?
}

async fn list(home: &Home) -> anyhow::Result<Vec<ProcView>> {
    match call(home, Request::List).await? {
        Response::Procs { procs } => Ok(procs),
        other => Err(anyhow!("unexpected answer from the supervisor: {other:?}")),
    }
}

/// `pm start` itself, quietly; returns how many processes exist afterwards.
pub(super) async fn start(home: &Home, args: StartArgs) -> anyhow::Result<usize> {
    let h = home.clone();
    tokio::task::spawn_blocking(move || {
        let out = crate::cli::Out {
            silent: true,
            mini: false,
        };
        crate::cli::start::start(&h, args, crate::cli::start::Mode::Start, &out)
    })
    .await??;
    Ok(list(home).await?.len())
}

pub(super) async fn any_running(home: &Home) -> bool {
    match list(home).await {
        Ok(procs) => procs.iter().any(|p| {
            matches!(
                p.pm2_env.status.as_str(),
                "online" | "launching" | "stopping" | "waiting restart"
            )
        }),
        // The daemon not answering is no reason to kill the apps.
        Err(_) => true,
    }
}

pub(super) async fn forward(home: &Home, sig: &str) {
    let req = Request::SendSignal(SignalRequest {
        signal: sig.into(),
        targets: vec!["all".into()],
        cwd: None,
    });
    if let Err(e) = call(home, req).await {
        elog!("[PM2][WARN] {sig}: {e:#}");
    }
}

/// Stops every app as `pm stop all` would (kill_signal, kill_timeout), then reads how they
/// ended.
pub(super) async fn stop_all(home: &Home) -> i32 {
    let req = Request::Stop(TargetRequest {
        targets: vec!["all".into()],
        cwd: None,
    });
    let _ = call(home, req).await;
    match list(home).await {
        Ok(procs) => exit_code(&procs),
        Err(_) => 1,
    }
}

/// The first non-zero exit status, in pm_id order, as sh would report it.
fn exit_code(procs: &[ProcView]) -> i32 {
    procs
        .iter()
        .map(|p| status_of(p.pm2_env.exit_code.as_ref()))
        .find(|c| *c != 0)
        .unwrap_or(0)
}

/// pm2's `exit_code` (a number, or a signal's name) as a shell's `$?`.
fn status_of(v: Option<&Value>) -> i32 {
    match v {
        Some(Value::Number(n)) => n.as_i64().map_or(1, |n| (n & 0xff) as i32),
        Some(Value::String(s)) => crate::sys::signal::parse(s).map_or(1, |sig| 128 + sig as i32),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::status_of;
    use serde_json::json;

    #[test]
    fn exit_status_as_sh_reports_it() {
        assert_eq!(status_of(None), 0);
        assert_eq!(status_of(Some(&json!(3))), 3);
        assert_eq!(status_of(Some(&json!("SIGINT"))), 130);
        assert_eq!(status_of(Some(&json!("SIGKILL"))), 137);
        assert_eq!(status_of(Some(&json!(null))), 0);
    }
}
