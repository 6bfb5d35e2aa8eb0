//! The daemon's side of a child: the polite first steps of a stop before the core's
//! ([`crate::process::stop`]) takes over, and reading the child's IPC channel.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::task::Running;
use super::{now_ms, Ctx, Event};
use crate::ipc;
use crate::process::stop::{self, DEFAULT_KILL_TIMEOUT, DEFAULT_SIGNAL};
use crate::protocol::ExecMode;
use crate::sys::signal;

/// pm2's stop: `kill_signal` (or the `shutdown` message) to the whole group, SIGKILL after
/// `kill_timeout`, and the group is gone before this returns, grandchildren included. A worker
/// being replaced (`disconnect`) first gets Node's graceful disconnect, which closes its
/// servers and waits for open connections, and then `kill_signal` as pm2 sends it.
pub(super) async fn terminate(
    spec: &crate::protocol::AppSpec,
    running: &mut Running,
    disconnect: bool,
) -> std::io::Result<std::process::ExitStatus> {
    let timeout = Duration::from_millis(
        crate::queue::app::kill_timeout(spec).unwrap_or(DEFAULT_KILL_TIMEOUT),
    );
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
        } else if sent {
            // pm2 sends kill_signal to the old worker of a reload, and apps clean up in their
            // SIGINT handler. Node's disconnect closes the worker's servers first and its
            // channel after them: from then on it accepts nothing, and the signal loses no
            // request. A worker whose loop empties exits on its own before that.
            let w = w.clone();
            tokio::select! {
                _ = tokio::time::timeout_at(deadline, w.closed()) => {}
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
    let first = (!sent).then(|| {
        spec.kill_signal
            .as_deref()
            .and_then(|s| signal::parse(s).ok())
            .unwrap_or(DEFAULT_SIGNAL)
    });
    let scope = stop::Scope::from_treekill(spec.treekill);
    let status = stop::stop_scoped(&mut running.child, first, deadline, scope).await;
    if let Some(w) = running.worker.as_ref() {
        running.primary.worker_gone(w.id);
    }
    status
}

/// Where the channel reader reports readiness and heartbeats.
pub(super) struct Signals {
    pub ready: mpsc::Sender<()>,
    /// Without wait_ready, a cluster worker that listens is ready (what a reload waits for).
    pub listening_is_ready: bool,
    /// Stamped by the preload's heartbeats, when `max_event_loop_lag` is checked.
    pub heartbeat: Option<Arc<super::monitor::Stamps>>,
    /// Where the preload's probe twins are recorded, when the child's probes dial its own ports.
    pub routes: Option<Arc<super::probe::Routes>>,
}

/// Reads the child's IPC messages: answers handles (Node stalls the channel until it does),
/// reports `ready` and heartbeats, and puts `process:msg` messages on the bus.
pub(super) async fn read_channel(
    mut reader: ipc::Reader,
    writer: ipc::Writer,
    signals: Signals,
    ctx: Arc<Ctx>,
    (pm_id, name, namespace): (u32, String, String),
    worker: Option<ipc::cluster::WorkerRef>,
) {
    let Signals {
        ready,
        listening_is_ready,
        heartbeat,
        routes,
    } = signals;
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
        // The preload's heartbeat (max_event_loop_lag): a stamp, nothing on the bus.
        if value.as_str() == Some("pm-native:beat") {
            if let Some(s) = &heartbeat {
                super::monitor::Stamps::touch(&s.heartbeat);
            }
            continue;
        }
        // The preload's private twin of a probed port (see probe::Routes).
        if value.get("pm-native").and_then(Value::as_str) == Some("probe-port") {
            let public = value
                .get("port")
                .and_then(Value::as_u64)
                .and_then(|n| u16::try_from(n).ok());
            let twin = value.get("via").and_then(Value::as_str).map(str::to_string);
            if let (Some(r), Some(public)) = (&routes, public) {
                r.via(public, twin);
            }
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
            match (kind, payload.as_object()) {
                ("axm:monitor", Some(report)) => ctx.code_metrics.update(pm_id, report),
                ("axm:action", Some(_)) => ctx.code_metrics.add_action(pm_id, payload),
                _ => {}
            }
            let data = json!({ "at": now_ms(), "data": payload, "process": { "pm_id": pm_id, "name": name, "rev": null, "namespace": namespace } });
            let _ = ctx.bus.send(Event {
                channel: kind.to_string(),
                data,
            });
        }
    }
    if let Some(w) = worker {
        ctx.primary.worker_gone(w.id);
        w.channel_closed();
    }
}
