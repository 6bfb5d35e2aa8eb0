//! What happens on a child's side of the supervisor: reading its IPC channel and ending it.

use std::sync::Arc;
use std::time::Duration;

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::{now_ms, policy, signal, Ctx, Event, Running};
use crate::ipc;
use crate::protocol::ExecMode;

/// pm2's stop: `kill_signal` (or the `shutdown` message) to the whole group, SIGKILL after
/// `kill_timeout`, and the group is gone before this returns, grandchildren included. A cluster
/// worker being replaced (`disconnect`) first gets Node's graceful disconnect, which closes
/// its servers and waits for open connections.
pub(super) async fn terminate(
    spec: &crate::protocol::AppSpec,
    running: &mut Running,
    disconnect: bool,
) -> std::io::Result<std::process::ExitStatus> {
    let pgid = Pid::from_raw(running.pid as i32);
    let timeout = Duration::from_millis(spec.kill_timeout.unwrap_or(policy::DEFAULT_KILL_TIMEOUT));
    let mut deadline = tokio::time::Instant::now() + timeout;
    let mut sent = false;
    if let (true, Some(w)) = (disconnect, running.worker.as_ref()) {
        sent = running.primary.disconnect(w).await.is_ok();
        if sent && spec.exec_mode() != ExecMode::Cluster {
            // A fork app does not exit when its servers close: wait (at most kill_timeout)
            // for it to have drained them, then stop it as usual, with its own kill_timeout.
            let w = w.clone();
            tokio::select! {
                _ = tokio::time::timeout_at(deadline, w.drained()) => {}
                st = running.child.wait() => {
                    running.primary.worker_gone(w.id);
                    return st;
                }
            }
            sent = false;
            deadline = tokio::time::Instant::now() + timeout;
        }
    }
    if !sent && spec.shutdown_with_message == Some(true) {
        if let Some(ch) = running.channel.as_ref() {
            sent = ch.send_value(&Value::from("shutdown")).await.is_ok();
        }
    }
    if !sent {
        let sig = spec
            .kill_signal
            .as_deref()
            .and_then(|s| signal::parse(s).ok())
            .unwrap_or(Signal::SIGINT);
        let _ = killpg(pgid, sig);
    }
    let status = match tokio::time::timeout_at(deadline, running.child.wait()).await {
        Ok(st) => st,
        Err(_) => {
            let _ = killpg(pgid, Signal::SIGKILL);
            running.child.wait().await
        }
    };
    // The leader is gone; anything left in its group (a grandchild ignoring the signal) gets
    // the rest of the grace period, then SIGKILL.
    signal::end_group(pgid, deadline).await;
    if let Some(w) = running.worker.as_ref() {
        running.primary.worker_gone(w.id);
    }
    status
}

/// Reads the child's IPC messages: answers handles (Node stalls the channel until it does),
/// reports `ready`, and puts `process:msg` messages on the bus.
pub(super) async fn read_channel(
    mut reader: ipc::Reader,
    writer: ipc::Writer,
    ready: mpsc::Sender<()>,
    ctx: Arc<Ctx>,
    (pm_id, name): (u32, String),
    worker: Option<ipc::cluster::WorkerRef>,
    listening_is_ready: bool,
) {
    while let Ok(Some(msg)) = reader.recv().await {
        let value: Value = match serde_json::from_str(&msg.line) {
            Ok(v) => v,
            Err(_) => continue,
        };
        if let Some(w) = worker
            .as_ref()
            .filter(|_| ipc::cluster::Primary::is_cluster_message(&value))
        {
            let event = ctx.primary.on_message(w, &value).await;
            // Without wait_ready, a worker that listens is ready (what a reload waits for).
            if listening_is_ready
                && matches!(event, Some(ipc::cluster::ClusterEvent::Listening { .. }))
            {
                let _ = ready.try_send(());
            }
            continue;
        }
        if value.get("cmd").and_then(Value::as_str) == Some("NODE_HANDLE") {
            let _ = writer.answer_handle(msg.fd.is_some()).await;
            continue;
        }
        if value
            .get("cmd")
            .and_then(Value::as_str)
            .is_some_and(|c| c.starts_with("NODE_"))
        {
            continue;
        }
        if value.as_str() == Some("ready") {
            let _ = ready.try_send(());
            continue;
        }
        // pm2's rule: a message with `type` and `data` goes on the bus under its type
        // (`process:msg` by convention), carrying the data and who sent it.
        if let (Some(kind), Some(payload)) =
            (value.get("type").and_then(Value::as_str), value.get("data"))
        {
            let data = json!({ "at": now_ms(), "data": payload, "process": { "pm_id": pm_id, "name": name } });
            let _ = ctx.bus.send(Event {
                channel: kind.to_string(),
                data,
            });
        }
    }
    if let Some(w) = worker {
        ctx.primary.worker_gone(w.id);
    }
}
