//! The local web dashboard: one embedded page (no CDN, no build step), a JSON list (with the
//! queues' depth and rates), a log tail, restart / reload / stop, and a server-sent event
//! stream (the list every second, log lines as they come). Every path answers 401 without the token `pm dashboard` printed.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::net::TcpStream;

use super::http::{self, Request};
use crate::daemon::Daemon;
use crate::protocol::{self, BusEvent, ProcView, Response, RestartRequest, TargetRequest};

const PAGE: &str = include_str!("dashboard.html");
/// Log lines sent per stream per flush; a flood beyond that is counted, not sent.
const MAX_LINES_PER_FLUSH: usize = 200;
const LOG_FLUSH: Duration = Duration::from_millis(250);
const LIST_EVERY: Duration = Duration::from_secs(1);

/// Compares in time independent of where the strings differ.
pub(super) fn same_token(given: &str, want: &str) -> bool {
    if want.is_empty() || given.len() != want.len() {
        return false;
    }
    given
        .bytes()
        .zip(want.bytes())
        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
        == 0
}

/// `?token=` or `Authorization: Bearer` (what Prometheus sends with `authorization:` in a
/// scrape config).
pub(super) fn token_of(req: &Request) -> &str {
    if let Some(t) = req.param("token") {
        return t;
    }
    req.header("authorization")
        .and_then(|h| h.strip_prefix("Bearer "))
        .unwrap_or("")
}

pub async fn connection(mut stream: TcpStream, d: Arc<Daemon>, token: Arc<str>) {
    let Some(req) = http::read_request(&mut stream).await else {
        return;
    };
    if !same_token(token_of(&req), &token) {
        return http::respond(
            &mut stream,
            401,
            "text/plain",
            b"a valid token is needed: run pm dashboard for the URL\n",
        )
        .await;
    }
    let parts: Vec<&str> = req.path.trim_matches('/').split('/').collect();
    match (req.method.as_str(), parts.as_slice()) {
        ("GET", [""]) => {
            http::respond(
                &mut stream,
                200,
                "text/html; charset=utf-8",
                PAGE.as_bytes(),
            )
            .await
        }
        ("GET", ["api", "list"]) => {
            let body = list_json(&d).await.to_string();
            d.request_done();
            http::respond(&mut stream, 200, "application/json", body.as_bytes()).await
        }
        ("GET", ["api", "logs", id]) => {
            let body = tail(&d, id).to_string();
            http::respond(&mut stream, 200, "application/json", body.as_bytes()).await
        }
        ("POST", ["api", verb @ ("restart" | "reload" | "stop"), id]) => {
            let (status, body) = act(&d, verb, id).await;
            d.request_done();
            http::respond(
                &mut stream,
                status,
                "application/json",
                body.to_string().as_bytes(),
            )
            .await
        }
        ("GET", ["api", "events"]) => events(stream, d).await,
        _ => http::respond(&mut stream, 404, "text/plain", b"not found\n").await,
    }
}

fn brief(v: &ProcView) -> Value {
    let v = &protocol::secret::shown(v);
    let e = &v.pm2_env;
    json!({
        "pm_id": v.pm_id, "name": v.name, "namespace": e.namespace, "status": e.status,
        "pid": v.pid, "cpu": v.monit.cpu, "memory": v.monit.memory,
        "restarts": e.restart_time, "pm_uptime": e.pm_uptime, "mode": e.exec_mode.as_str(),
        "interpreter": e.exec_interpreter, "metrics": e.axm_monitor,
        "queue": crate::queue::app::parse_value(e.options.get(crate::queue::app::KEY))
            .ok()
            .flatten()
            .map(|c| json!({ "name": c.name, "concurrency": c.concurrency, "redis": c.redis })),
    })
}

/// The list, and the daemon's queues (depth, consumers, rates) when there are any.
async fn list_json(d: &Daemon) -> Value {
    let queues = crate::queue::broker::stats(d.ctx.home.queue_journal()).await;
    let views = d.render(&d.registry().snapshots());
    json!({
        "at": crate::sys::clock::now_ms(),
        "procs": views.iter().map(brief).collect::<Vec<_>>(),
        "queues": queues,
    })
}

fn tail(d: &Daemon, id: &str) -> Value {
    let views = d.render(
        &d.registry()
            .by_name_or_id(id)
            .iter()
            .map(|i| i.snapshot())
            .collect::<Vec<_>>(),
    );
    let Some(v) = views.first() else {
        return json!({ "lines": [] });
    };
    let read =
        |p: &str| crate::logs::tail::last_lines(std::path::Path::new(p), 100).unwrap_or_default();
    let mut lines: Vec<Value> = read(&v.pm2_env.pm_out_log_path)
        .into_iter()
        .map(|l| json!({ "err": false, "line": l }))
        .collect();
    lines.extend(
        read(&v.pm2_env.pm_err_log_path)
            .into_iter()
            .map(|l| json!({ "err": true, "line": l })),
    );
    json!({ "pm_id": v.pm_id, "lines": lines })
}

async fn act(d: &Daemon, verb: &str, id: &str) -> (u16, Value) {
    if id.parse::<u32>().is_err() {
        return (400, json!({ "error": format!("{id}: not a process id") }));
    }
    let targets = vec![id.to_string()];
    let req = match verb {
        "stop" => protocol::Request::Stop(TargetRequest { targets, cwd: None }),
        _ => protocol::Request::Restart(RestartRequest {
            targets,
            cwd: None,
            update_env: None,
            app_env: None,
            update: Default::default(),
            graceful: verb == "reload",
        }),
    };
    match d.handle(req).await {
        Response::Error { message, .. } => (400, json!({ "error": message })),
        _ => (200, json!({ "ok": true })),
    }
}

/// The stream: the list every second, log lines every 250 ms (at most a few hundred).
async fn events(mut stream: TcpStream, d: Arc<Daemon>) {
    use tokio::io::AsyncReadExt;
    use tokio::sync::broadcast::error::RecvError;
    if http::start_sse(&mut stream).await.is_err() {
        return;
    }
    let mut rx = d.subscribe();
    let mut list_tick = tokio::time::interval(LIST_EVERY);
    let mut flush_tick = tokio::time::interval(LOG_FLUSH);
    let mut lines: Vec<Value> = Vec::new();
    let mut skipped = 0usize;
    let mut probe = [0u8; 64];
    loop {
        tokio::select! {
            _ = list_tick.tick() => {
                let body = list_json(&d).await.to_string();
                d.request_done();
                if http::sse_event(&mut stream, "list", &body).await.is_err() {
                    return;
                }
            }
            _ = flush_tick.tick() => {
                if lines.is_empty() && skipped == 0 {
                    continue;
                }
                let body = json!({ "lines": std::mem::take(&mut lines), "skipped": skipped }).to_string();
                skipped = 0;
                if http::sse_event(&mut stream, "logs", &body).await.is_err() {
                    return;
                }
            }
            ev = rx.recv() => match ev {
                Ok(ev) => {
                    if ev.channel != protocol::event::LOG_OUT && ev.channel != protocol::event::LOG_ERR {
                        continue;
                    }
                    let (err, l) = match BusEvent::from_parts(ev.channel, ev.data) {
                        Ok(BusEvent::Out(l)) => (false, l),
                        Ok(BusEvent::Err(l)) => (true, l),
                        _ => continue,
                    };
                    if lines.len() < MAX_LINES_PER_FLUSH {
                        lines.push(json!({ "pm_id": l.process.pm_id, "err": err, "line": l.data.trim_end() }));
                    } else {
                        skipped += 1;
                    }
                }
                Err(RecvError::Lagged(n)) => skipped += n as usize,
                Err(RecvError::Closed) => return,
            },
            // The browser went away (or sent something): end the stream.
            n = stream.read(&mut probe) => {
                if matches!(n, Ok(0) | Err(_)) {
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn tokens_must_match_exactly() {
        assert!(super::same_token("abc", "abc"));
        assert!(!super::same_token("abd", "abc"));
        assert!(!super::same_token("ab", "abc"));
        assert!(!super::same_token("", ""), "an empty token opens nothing");
    }
}
