//! What lets people look at their processes from outside the CLI: the apps' code metrics
//! (kept from their `axm:monitor` messages), Prometheus `/metrics` and the local dashboard,
//! each served on loopback when `module_conf.json` asks for it (`pm metrics`, `pm dashboard`
//! write the `pm-native:*` keys), so a daemon started again serves them again.

mod dashboard;
pub mod http;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock, Weak};

use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};

use super::Daemon;
use crate::config::settings::{self, Settings};
use crate::metrics::prometheus::{self, AppSample};
use crate::protocol::{Error, ProcView};

/// The settings section; keys `metrics_port`, `metrics_host`, `dashboard_port`, ...
pub const SECTION: &str = settings::PM_NATIVE;
/// The pm2 Prometheus exporters' port.
pub const DEFAULT_METRICS_PORT: u16 = 9209;
pub const DEFAULT_HOST: &str = "127.0.0.1";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    Metrics,
    Dashboard,
}

impl Service {
    fn key(self) -> &'static str {
        match self {
            Service::Metrics => "metrics",
            Service::Dashboard => "dashboard",
        }
    }
}

struct Served {
    addr: SocketAddr,
    token: Option<String>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Served {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[derive(Default)]
pub struct Observe {
    me: OnceLock<Weak<Daemon>>,
    servers: Mutex<HashMap<Service, Served>>,
}

/// The code-metrics sampler the app preload requires from the home (`lib/app-metrics.js`).
use crate::supervisor::spawn::{APP_METRICS, APP_METRICS_FILE};

/// Writes the app metrics file and starts the servers the settings ask for.
pub fn start(d: &Arc<Daemon>) {
    let file = d.ctx.home.root.join(APP_METRICS_FILE);
    if let Err(e) = crate::config::paths::write_atomic_mode(&file, APP_METRICS.as_bytes(), 0o644) {
        // Apps still run, without code metrics.
        elog!("cannot write {}: {e}", file.display());
    }
    let _ = d.observe.me.set(Arc::downgrade(d));
    if let Err(e) = apply(d) {
        elog!("[{}] {e}", chrono::Local::now().to_rfc3339());
    }
}

/// What the settings ask one service for: its address (None: off) and its token.
fn wanted(s: &Settings, svc: Service) -> Result<Option<(SocketAddr, Option<String>)>, Error> {
    let get = |k: &str| -> Option<String> {
        match s
            .get(&format!("{SECTION}:{}_{k}", svc.key()))
            .ok()
            .flatten()
        {
            Some(Value::String(v)) if !v.is_empty() => Some(v.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        }
    };
    let Some(port) = get("port") else {
        return Ok(None);
    };
    let port: u16 = port.parse().map_err(|_| {
        Error::invalid(format!(
            "{SECTION}:{}_port = {port}: not a port number",
            svc.key()
        ))
    })?;
    let host = get("host").unwrap_or_else(|| DEFAULT_HOST.into());
    let ip: std::net::IpAddr = host.parse().map_err(|_| {
        Error::invalid(format!(
            "{SECTION}:{}_host = {host}: not an IP address",
            svc.key()
        ))
    })?;
    Ok(Some((SocketAddr::new(ip, port), get("token"))))
}

/// Reads the `pm-native:*` settings and (re)binds or stops each server to match.
pub fn apply(d: &Daemon) -> Result<(), Error> {
    let s = Settings::load(&settings::path(&d.ctx.home))
        .map_err(|e| Error::failed(format!("settings not applied: {e}")))?;
    let mut first_error = None;
    for svc in [Service::Metrics, Service::Dashboard] {
        let want = match wanted(&s, svc) {
            Ok(w) => w,
            Err(e) => {
                first_error.get_or_insert(e);
                continue;
            }
        };
        let mut servers = d.observe.servers.lock().unwrap_or_else(|p| p.into_inner());
        let same = match (&want, servers.get(&svc)) {
            (Some((addr, token)), Some(cur)) => {
                // Port 0 means any port: the bound one stays.
                (cur.addr == *addr || (addr.port() == 0 && cur.addr.ip() == addr.ip()))
                    && cur.token == *token
            }
            (None, None) => true,
            _ => false,
        };
        if same {
            continue;
        }
        servers.remove(&svc);
        let Some((addr, token)) = want else {
            continue;
        };
        match bind(d, svc, addr, token) {
            Ok(served) => {
                servers.insert(svc, served);
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Where a service listens now, for `pm metrics` and `pm dashboard` to print.
pub fn bound(d: &Daemon, svc: Service) -> Option<SocketAddr> {
    d.observe
        .servers
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&svc)
        .map(|s| s.addr)
}

fn bind(
    d: &Daemon,
    svc: Service,
    addr: SocketAddr,
    token: Option<String>,
) -> Result<Served, Error> {
    let fail =
        |e: std::io::Error| Error::failed(format!("cannot serve {} on {addr}: {e}", svc.key()));
    let std_listener = std::net::TcpListener::bind(addr).map_err(fail)?;
    std_listener.set_nonblocking(true).map_err(fail)?;
    let bound = std_listener.local_addr().map_err(fail)?;
    let listener = TcpListener::from_std(std_listener).map_err(fail)?;
    let me = d.observe.me.get().cloned().unwrap_or_default();
    let task = tokio::spawn(accept(listener, me, svc, token.clone()));
    Ok(Served {
        addr: bound,
        token,
        task,
    })
}

async fn accept(listener: TcpListener, me: Weak<Daemon>, svc: Service, token: Option<String>) {
    let token: Arc<str> = token.unwrap_or_default().into();
    loop {
        let stream = match listener.accept().await {
            Ok((s, _)) => s,
            Err(_) => {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let Some(d) = me.upgrade() else { return };
        let token = token.clone();
        tokio::spawn(async move {
            match svc {
                Service::Metrics => metrics_connection(stream, d, token).await,
                Service::Dashboard => dashboard::connection(stream, d, token).await,
            }
        });
    }
}

async fn metrics_connection(mut stream: TcpStream, d: Arc<Daemon>, token: Arc<str>) {
    let Some(req) = http::read_request(&mut stream).await else {
        return;
    };
    // No token: served open, as `pm metrics --no-token` asked.
    if !token.is_empty() && !dashboard::same_token(dashboard::token_of(&req), &token) {
        return http::respond(
            &mut stream,
            401,
            "text/plain",
            b"a valid token is needed: Authorization: Bearer <token> (pm metrics prints it)\n",
        )
        .await;
    }
    if req.method != "GET" && req.method != "HEAD" {
        return http::respond(&mut stream, 405, "text/plain", b"GET only\n").await;
    }
    if req.path != "/metrics" {
        return http::respond(&mut stream, 404, "text/plain", b"see /metrics\n").await;
    }
    let body = metrics_text(&d).await;
    d.request_done();
    // The body parses as both formats (promtool reads it as the classic text); the classic
    // type is for scrapers and tools that do not ask for OpenMetrics.
    let content_type = if req
        .header("accept")
        .is_some_and(|a| a.contains("application/openmetrics-text"))
    {
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    } else {
        "text/plain; version=0.0.4; charset=utf-8"
    };
    let body = if req.method == "HEAD" { "" } else { &body };
    http::respond(&mut stream, 200, content_type, body.as_bytes()).await;
}

/// The `/metrics` body: every process, from the same views `jlist` shows.
pub async fn metrics_text(d: &Daemon) -> String {
    let queues = crate::queue::broker::stats(d.ctx.home.queue_journal()).await;
    let views = d.render(&d.registry().snapshots());
    prometheus::render(&samples(&views), &prometheus::daemon_sample(), &queues)
}

fn samples(views: &[ProcView]) -> Vec<AppSample> {
    // Label values are read by people (Grafana legends): a name with a secret in it shows
    // none.
    let views: Vec<ProcView> = views.iter().map(crate::protocol::secret::shown).collect();
    let views = &views[..];
    let now = crate::sys::clock::now_ms();
    let mut per_name: HashMap<&str, u32> = HashMap::new();
    for v in views {
        *per_name.entry(v.name.as_str()).or_default() += 1;
    }
    views
        .iter()
        .map(|v| {
            let e = &v.pm2_env;
            AppSample {
                id: v.pm_id,
                name: v.name.clone(),
                instance: e.instance,
                interpreter: e.exec_interpreter.clone(),
                status: e.status.clone(),
                cpu: v.monit.cpu,
                memory: v.monit.memory,
                uptime: if e.is_online() {
                    (now.saturating_sub(e.pm_uptime).max(0) / 1000) as u64
                } else {
                    0
                },
                restarts: e.restart_time,
                instances: per_name.get(v.name.as_str()).copied().unwrap_or(1),
                metrics: e
                    .axm_monitor
                    .iter()
                    .filter_map(|(k, m)| Some((k.clone(), number(m.get("value").unwrap_or(m))?)))
                    .collect(),
            }
        })
        .collect()
}

/// A metric's value as a number (`@pm2/io` sends some as strings, `"12.34"`).
pub fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        Value::Bool(b) => Some(f64::from(u8::from(*b))),
        _ => None,
    }
}
