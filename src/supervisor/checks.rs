//! What an app asks the daemon to check beyond "the process exists": probes (`health`, or
//! `liveness` and `readiness` apart), systemd's notify protocol (`notify`, `watchdog_sec`),
//! a blocked Node event loop (`max_event_loop_lag`) and silence (`no_output_timeout`).
//!
//! These keys are not pm2's, so they travel in [`AppSpec::extra`] as the user wrote them and
//! are read here, once at start (a bad value is one line naming the key, before anything
//! starts) and again by each launch (the same function, so it cannot disagree).

use std::time::Duration;

use serde_json::{Map, Value};

use crate::protocol::loose::parse_duration_ms;
use crate::protocol::AppSpec;

/// Probes run at least this far apart: more often is load, not health.
const MIN_INTERVAL: Duration = Duration::from_millis(100);
/// And at most this far: beyond a day nobody is watching.
const MAX_INTERVAL: Duration = Duration::from_secs(86_400);
const MAX_THRESHOLD: u64 = 1000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Port {
    Fixed(u16),
    /// The name of a variable in the instance's environment (with `increment_var`, each
    /// instance has its own port, so a probe reaches that instance and not a sibling).
    Env(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Http {
        host: String,
        port: Port,
        path: String,
        /// Accepted status ranges, inclusive; Kubernetes' 200-399 when not given.
        status: Vec<(u16, u16)>,
    },
    Tcp {
        host: String,
        port: Port,
    },
    /// A shell command; exit status 0 is success.
    Exec(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    pub target: Target,
    pub interval: Duration,
    pub timeout: Duration,
    pub initial_delay: Duration,
    pub failure_threshold: u32,
    pub success_threshold: u32,
}

/// What gates `launching` → `online`, strongest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// The readiness probe must pass; nothing else counts.
    Probe,
    /// `READY=1` on the notify socket, or `process.send('ready')`.
    Notify,
    /// pm2's `wait_ready`: `ready`, or `listen_timeout` passing.
    WaitReady,
    None,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Checks {
    pub liveness: Option<Probe>,
    pub readiness: Option<Probe>,
    /// `health` gives both roles to one probe, run once.
    pub shared: bool,
    /// The app gets a `NOTIFY_SOCKET` (unless `notify: false`).
    pub notify_socket: bool,
    /// `notify: true`: the app is ready once it says `READY=1` (systemd's `Type=notify`).
    pub notify_ready: bool,
    pub watchdog: Option<Duration>,
    pub max_event_loop_lag: Option<Duration>,
    pub no_output_timeout: Option<Duration>,
}

impl Checks {
    pub fn gate(&self, wait_ready: bool) -> Gate {
        if self.readiness.is_some() {
            Gate::Probe
        } else if self.notify_ready {
            Gate::Notify
        } else if wait_ready {
            Gate::WaitReady
        } else {
            Gate::None
        }
    }

    /// The ports of this machine that TCP and HTTP probes dial: a Node app's preload opens a
    /// private twin of each of its servers listening on one (see [`super::probe::Routes`]).
    pub fn local_ports(&self) -> Vec<&Port> {
        let mut out: Vec<&Port> = Vec::new();
        for p in [&self.liveness, &self.readiness].into_iter().flatten() {
            if let Some(port) = p.target.local_port() {
                if !out.contains(&port) {
                    out.push(port);
                }
            }
        }
        out
    }

    /// Whether anything here shows in jlist's `health`.
    pub fn any(&self) -> bool {
        self.liveness.is_some()
            || self.readiness.is_some()
            || self.notify_ready
            || self.watchdog.is_some()
            || self.max_event_loop_lag.is_some()
            || self.no_output_timeout.is_some()
    }
}

impl Target {
    /// The port a TCP or HTTP probe dials on this machine (loopback or any address).
    pub fn local_port(&self) -> Option<&Port> {
        match self {
            Target::Http { host, port, .. } | Target::Tcp { host, port } if is_local(host) => {
                Some(port)
            }
            _ => None,
        }
    }
}

pub fn is_local(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<std::net::IpAddr>() {
        Ok(ip) => ip.is_loopback() || ip.is_unspecified(),
        Err(_) => bare.eq_ignore_ascii_case("localhost"),
    }
}

/// Reads an app's checks; `Err` is one line naming the key.
pub fn parse(spec: &AppSpec) -> Result<Checks, String> {
    let x = &spec.extra;
    let mut c = Checks {
        notify_socket: true,
        ..Default::default()
    };
    let health = x.get("health").filter(|v| !v.is_null());
    if let Some(h) = health {
        if x.contains_key("liveness") || x.contains_key("readiness") {
            return Err(
                "health: give either health (both roles) or liveness/readiness, not both".into(),
            );
        }
        let p = probe("health", h)?;
        c.liveness = Some(p.clone());
        c.readiness = Some(p);
        c.shared = true;
    }
    if let Some(v) = x.get("liveness").filter(|v| !v.is_null()) {
        c.liveness = Some(probe("liveness", v)?);
    }
    if let Some(v) = x.get("readiness").filter(|v| !v.is_null()) {
        c.readiness = Some(probe("readiness", v)?);
    }
    match x.get("notify") {
        None | Some(Value::Null) => {}
        Some(v) => match crate::protocol::loose::parse_bool(v) {
            Some(b) => {
                c.notify_socket = b;
                c.notify_ready = b;
            }
            None => return Err(format!("notify: expected true or false, got {v}")),
        },
    }
    c.watchdog = opt_duration(x, "watchdog_sec", true)?;
    if c.watchdog.is_some() && !c.notify_socket {
        return Err("watchdog_sec: needs the notify socket, but notify is false".into());
    }
    c.max_event_loop_lag = opt_duration(x, "max_event_loop_lag", false)?;
    c.no_output_timeout = opt_duration(x, "no_output_timeout", true)?;
    Ok(c)
}

/// `watchdog_sec` is systemd's `WatchdogSec=`: a bare number means seconds there, and here.
fn opt_duration(
    x: &Map<String, Value>,
    key: &str,
    bare_secs: bool,
) -> Result<Option<Duration>, String> {
    let Some(v) = x.get(key).filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let d = duration(key, v, bare_secs)?;
    if d < MIN_INTERVAL || d > MAX_INTERVAL {
        return Err(format!("{key}: {} is out of range (100ms to 24h)", show(v)));
    }
    Ok(Some(d))
}

fn show(v: &Value) -> String {
    match v {
        Value::String(s) => format!("\"{s}\""),
        other => other.to_string(),
    }
}

/// A duration: a string with a unit (`"5s"`, `"500ms"`), or a number (milliseconds, or
/// seconds where `bare_secs`).
fn duration(key: &str, v: &Value, bare_secs: bool) -> Result<Duration, String> {
    let ms = match v {
        Value::Number(n) => match n.as_f64() {
            Some(f) if f >= 0.0 && f.is_finite() => {
                if bare_secs {
                    f * 1000.0
                } else {
                    f
                }
            }
            _ => return Err(format!("{key}: {n} is not a duration")),
        },
        Value::String(s) => {
            let t = s.trim();
            if bare_secs && !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
                t.parse::<f64>()
                    .map_err(|_| format!("{key}: \"{s}\" is not a duration"))?
                    * 1000.0
            } else {
                parse_duration_ms(s).map_err(|e| format!("{key}: {e}"))? as f64
            }
        }
        other => return Err(format!("{key}: expected a duration, got {other}")),
    };
    Ok(Duration::from_millis(ms as u64))
}

const PROBE_KEYS: &[&str] = &[
    "http",
    "tcp",
    "exec",
    "interval",
    "timeout",
    "initial_delay",
    "failure_threshold",
    "success_threshold",
];

fn probe(role: &str, v: &Value) -> Result<Probe, String> {
    let Value::Object(o) = v else {
        return Err(format!("{role}: expected an object with http, tcp or exec"));
    };
    if let Some(k) = o.keys().find(|k| !PROBE_KEYS.contains(&k.as_str())) {
        return Err(format!(
            "{role}: unknown key \"{k}\" (expected {})",
            PROBE_KEYS.join(", ")
        ));
    }
    let kinds: Vec<&str> = ["http", "tcp", "exec"]
        .into_iter()
        .filter(|k| o.get(*k).is_some_and(|v| !v.is_null()))
        .collect();
    let target = match kinds.as_slice() {
        ["http"] => http(role, &o["http"])?,
        ["tcp"] => tcp(role, &o["tcp"])?,
        ["exec"] => match &o["exec"] {
            Value::String(s) if !s.trim().is_empty() => Target::Exec(s.clone()),
            other => {
                return Err(format!(
                    "{role}.exec: expected a command string, got {other}"
                ))
            }
        },
        [] => return Err(format!("{role}: needs one of http, tcp or exec")),
        many => {
            return Err(format!(
                "{role}: give one probe type, not {}",
                many.join(" and ")
            ))
        }
    };
    let dur = |k: &str, default: Duration, min: Duration| -> Result<Duration, String> {
        let key = format!("{role}.{k}");
        match o.get(k).filter(|v| !v.is_null()) {
            None => Ok(default),
            Some(v) => {
                let d = duration(&key, v, false)?;
                if d < min || d > MAX_INTERVAL {
                    Err(format!(
                        "{key}: {} is out of range ({} to 24h)",
                        show(v),
                        if min.is_zero() {
                            "0".to_string()
                        } else {
                            format!("{}ms", min.as_millis())
                        }
                    ))
                } else {
                    Ok(d)
                }
            }
        }
    };
    let count = |k: &str, default: u32| -> Result<u32, String> {
        match o.get(k).filter(|v| !v.is_null()) {
            None => Ok(default),
            Some(v) => {
                let n = match v {
                    Value::Number(n) => n.as_u64(),
                    Value::String(s) => s.trim().parse::<u64>().ok(),
                    _ => None,
                };
                match n {
                    Some(n) if (1..=MAX_THRESHOLD).contains(&n) => Ok(n as u32),
                    _ => Err(format!(
                        "{role}.{k}: {} is not a count from 1 to {MAX_THRESHOLD}",
                        show(v)
                    )),
                }
            }
        }
    };
    Ok(Probe {
        target,
        interval: dur("interval", Duration::from_secs(10), MIN_INTERVAL)?,
        timeout: dur("timeout", Duration::from_secs(1), Duration::from_millis(1))?,
        initial_delay: dur("initial_delay", Duration::ZERO, Duration::ZERO)?,
        failure_threshold: count("failure_threshold", 3)?,
        success_threshold: count("success_threshold", 1)?,
    })
}

fn host_of(role: &str, o: &Map<String, Value>) -> Result<String, String> {
    match o.get("host") {
        None | Some(Value::Null) => Ok("127.0.0.1".into()),
        Some(Value::String(h)) if !h.trim().is_empty() => Ok(h.trim().to_string()),
        Some(other) => Err(format!("{role}.host: expected a host name, got {other}")),
    }
}

fn port_of(key: &str, v: Option<&Value>) -> Result<Port, String> {
    match v {
        Some(Value::Number(n)) => match n.as_u64() {
            Some(p) if (1..=65535).contains(&p) => Ok(Port::Fixed(p as u16)),
            _ => Err(format!("{key}: {n} is not a port (1 to 65535)")),
        },
        Some(Value::String(s)) => match s.trim().parse::<u64>() {
            Ok(p) if (1..=65535).contains(&p) => Ok(Port::Fixed(p as u16)),
            Ok(_) => Err(format!("{key}: {s} is not a port (1 to 65535)")),
            Err(_) if is_env_name(s.trim()) => Ok(Port::Env(s.trim().to_string())),
            Err(_) => Err(format!(
                "{key}: \"{s}\" is neither a port nor an environment variable name"
            )),
        },
        Some(other) => Err(format!("{key}: expected a port, got {other}")),
        None => Err(format!("{key}: missing")),
    }
}

fn is_env_name(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn tcp(role: &str, v: &Value) -> Result<Target, String> {
    let key = format!("{role}.tcp");
    match v {
        Value::Object(o) => Ok(Target::Tcp {
            host: host_of(&key, o)?,
            port: port_of(&format!("{key}.port"), o.get("port"))?,
        }),
        port => Ok(Target::Tcp {
            host: "127.0.0.1".into(),
            port: port_of(&format!("{key}.port"), Some(port))?,
        }),
    }
}

fn http(role: &str, v: &Value) -> Result<Target, String> {
    let key = format!("{role}.http");
    let o = match v {
        Value::Object(o) => o.clone(),
        Value::String(s) => {
            let mut o = Map::new();
            o.insert("url".into(), s.clone().into());
            o
        }
        other => return Err(format!("{key}: expected an object or a URL, got {other}")),
    };
    let (host, port, path) = match o.get("url").filter(|v| !v.is_null()) {
        Some(Value::String(url)) => {
            if o.contains_key("port") {
                return Err(format!("{key}: give url or port, not both"));
            }
            parse_url(url).map_err(|e| format!("{key}.url: {e}"))?
        }
        Some(other) => return Err(format!("{key}.url: expected a string, got {other}")),
        None => {
            let path = match o.get("path") {
                None | Some(Value::Null) => "/".to_string(),
                Some(Value::String(p)) if p.starts_with('/') => p.clone(),
                Some(other) => {
                    return Err(format!(
                        "{key}.path: expected a path starting with /, got {other}"
                    ))
                }
            };
            (
                host_of(&key, &o)?,
                port_of(&format!("{key}.port"), o.get("port"))?,
                path,
            )
        }
    };
    let status = match o.get("status") {
        None | Some(Value::Null) => vec![(200, 399)],
        Some(v) => statuses(&format!("{key}.status"), v)?,
    };
    if path.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("{key}.path: \"{path}\" contains spaces"));
    }
    Ok(Target::Http {
        host,
        port,
        path,
        status,
    })
}

/// `200`, `[200, 204]`, `"2xx"`, `"200-299"`.
fn statuses(key: &str, v: &Value) -> Result<Vec<(u16, u16)>, String> {
    let one = |v: &Value| -> Result<(u16, u16), String> {
        let bad = || {
            format!(
                "{key}: {} is not an HTTP status (200, \"2xx\" or \"200-299\")",
                show(v)
            )
        };
        let code = |s: &str| {
            s.trim()
                .parse::<u16>()
                .ok()
                .filter(|c| (100..=599).contains(c))
        };
        match v {
            Value::Number(n) => n
                .as_u64()
                .and_then(|c| code(&c.to_string()))
                .map(|c| (c, c))
                .ok_or_else(bad),
            Value::String(s) => {
                let s = s.trim();
                if let Some(d) = s.strip_suffix("xx").and_then(|d| d.parse::<u16>().ok()) {
                    if (1..=5).contains(&d) {
                        return Ok((d * 100, d * 100 + 99));
                    }
                }
                if let Some((a, b)) = s.split_once('-') {
                    if let (Some(a), Some(b)) = (code(a), code(b)) {
                        if a <= b {
                            return Ok((a, b));
                        }
                    }
                }
                code(s).map(|c| (c, c)).ok_or_else(bad)
            }
            _ => Err(bad()),
        }
    };
    match v {
        Value::Array(items) if !items.is_empty() => items.iter().map(one).collect(),
        Value::Array(_) => Err(format!("{key}: the list is empty")),
        v => Ok(vec![one(v)?]),
    }
}

/// `http://host:port/path`: plain HTTP only (a probe speaks to the app on its own machine).
fn parse_url(url: &str) -> Result<(String, Port, String), String> {
    let rest = if let Some(r) = url.strip_prefix("http://") {
        r
    } else if url.starts_with("https://") {
        return Err(format!(
            "\"{url}\": https is not supported; probe the app's plain HTTP port"
        ));
    } else {
        return Err(format!("\"{url}\" is not an http:// URL"));
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].to_string()),
        None => (rest, "/".to_string()),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || authority.starts_with('[') => {
            let port = p
                .parse::<u16>()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| format!("\"{url}\": \"{p}\" is not a port"))?;
            (h.trim_start_matches('[').trim_end_matches(']'), port)
        }
        _ => (authority, 80),
    };
    if host.is_empty() {
        return Err(format!("\"{url}\" has no host"));
    }
    Ok((host.to_string(), Port::Fixed(port), path))
}

#[cfg(test)]
#[path = "checks_tests.rs"]
mod tests;
