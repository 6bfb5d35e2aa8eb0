//! The Prometheus text format of what the daemon knows, under the metric names of the pm2
//! Prometheus exporters (`pm2_up`, `pm2_cpu`, ...), so dashboards built on them work unchanged.
//! The input is plain data, filled by the daemon from its process views.

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

use crate::protocol::queue::QueueStats;

/// One process, as the exporters label it.
#[derive(Debug, Clone, Default)]
pub struct AppSample {
    pub id: u32,
    pub name: String,
    pub instance: u32,
    pub interpreter: String,
    pub status: String,
    pub cpu: f64,
    pub memory: u64,
    /// Seconds since the process went online; 0 when it is not.
    pub uptime: u64,
    pub restarts: u32,
    pub instances: u32,
    /// The app's numeric code metrics (`Heap Size`, `HTTP`, ...) in the units it reported.
    pub metrics: Vec<(String, f64)>,
}

/// The daemon's own health.
#[derive(Debug, Clone, Default)]
pub struct DaemonSample {
    pub rss: u64,
    pub open_fds: u64,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AppLabels {
    id: String,
    name: String,
    instance: String,
    interpreter: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabels {
    status: String,
}

type FGauge = Gauge<f64, AtomicU64>;

/// The exporters' name for a code metric: `pm2_` and the name with anything but letters and
/// digits as `_`, lower-cased (`Used Heap Size` → `pm2_used_heap_size`).
pub fn metric_name(key: &str) -> String {
    let mut out = String::from("pm2_");
    let mut last_us = true;
    for c in key.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
            last_us = false;
        } else if !last_us {
            out.push('_');
            last_us = true;
        }
    }
    while out.ends_with('_') {
        out.pop();
    }
    out
}

/// Names the fixed gauges take, which a code metric must not shadow.
const FIXED: [&str; 6] = [
    "pm2_up",
    "pm2_cpu",
    "pm2_memory",
    "pm2_uptime",
    "pm2_instances",
    "pm2_restarts",
];

/// The body of a `/metrics` answer.
pub fn render(apps: &[AppSample], daemon: &DaemonSample, queues: &[QueueStats]) -> String {
    let mut reg = Registry::default();
    let fixed: [(&str, &str, Family<AppLabels, FGauge>); 6] = [
        (
            FIXED[0],
            "Whether the process is online (1) or not (0)",
            Default::default(),
        ),
        (
            FIXED[1],
            "Process CPU usage, percent of one core",
            Default::default(),
        ),
        (
            FIXED[2],
            "Process resident memory in bytes",
            Default::default(),
        ),
        (
            FIXED[3],
            "Seconds since the process went online",
            Default::default(),
        ),
        (FIXED[4], "Instances of the app", Default::default()),
        (FIXED[5], "Restarts of the process", Default::default()),
    ];
    let mut custom: Vec<(String, Family<AppLabels, FGauge>)> = Vec::new();
    for a in apps {
        let labels = AppLabels {
            id: a.id.to_string(),
            name: a.name.clone(),
            instance: a.instance.to_string(),
            interpreter: a.interpreter.clone(),
        };
        let values = [
            if a.status == "online" { 1.0 } else { 0.0 },
            a.cpu,
            a.memory as f64,
            a.uptime as f64,
            a.instances as f64,
            a.restarts as f64,
        ];
        for ((_, _, fam), v) in fixed.iter().zip(values) {
            fam.get_or_create(&labels).set(v);
        }
        for (key, v) in &a.metrics {
            let name = metric_name(key);
            if name == "pm2" || FIXED.contains(&name.as_str()) || !v.is_finite() {
                continue;
            }
            let fam = match custom.iter().position(|(n, _)| *n == name) {
                Some(i) => &custom[i].1,
                None => {
                    custom.push((name, Family::default()));
                    &custom[custom.len() - 1].1
                }
            };
            fam.get_or_create(&labels).set(*v);
        }
    }
    for (name, help, fam) in fixed {
        reg.register(name, help, fam);
    }
    for (name, fam) in custom {
        reg.register(name, "Code metric reported by the app", fam);
    }
    let by_status: Family<StatusLabels, Gauge> = Family::default();
    for s in ["online", "stopped", "errored", "launching", "stopping"] {
        by_status
            .get_or_create(&StatusLabels { status: s.into() })
            .set(0);
    }
    for a in apps {
        by_status
            .get_or_create(&StatusLabels {
                status: a.status.clone(),
            })
            .inc();
    }
    reg.register("pm_native_apps", "Processes by status", by_status);
    let rss: Gauge = Gauge::default();
    rss.set(daemon.rss as i64);
    reg.register(
        "pm_native_daemon_resident_memory_bytes",
        "Resident memory of the pm-native daemon",
        rss,
    );
    let fds: Gauge = Gauge::default();
    fds.set(daemon.open_fds as i64);
    reg.register(
        "pm_native_daemon_open_fds",
        "Open file descriptors of the pm-native daemon",
        fds,
    );
    register_queues(&mut reg, queues);
    let mut out = String::new();
    // Writing into a String cannot fail; an encoder error would only be a bug in the crate.
    if let Err(e) = encode(&mut out, &reg) {
        out = format!("# encoding failed: {e}\n# EOF\n");
    }
    out
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QueueLabels {
    queue: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QueueStateLabels {
    queue: String,
    state: String,
}

/// The daemon's message queues (`queue(name)`): jobs by state and consumers now, and what was
/// pushed, acked, nacked and redelivered since the daemon started; no series at all while no
/// queue exists.
fn register_queues(reg: &mut Registry, queues: &[QueueStats]) {
    if queues.is_empty() {
        return;
    }
    let jobs: Family<QueueStateLabels, Gauge> = Family::default();
    let consumers: Family<QueueLabels, Gauge> = Family::default();
    // Gauges, as pm2_restarts is: the body must parse as the classic text format too (see
    // observe::metrics_connection), where an OpenMetrics counter's `_total` samples have no HELP.
    let counters: [(&str, &str, Family<QueueLabels, Gauge>); 4] = [
        (
            "pm_native_queue_pushed",
            "Jobs pushed since the daemon started",
            Default::default(),
        ),
        (
            "pm_native_queue_acked",
            "Jobs acknowledged",
            Default::default(),
        ),
        (
            "pm_native_queue_nacked",
            "Jobs refused (nack)",
            Default::default(),
        ),
        (
            "pm_native_queue_redelivered",
            "Deliveries after the first (timeouts, requeues, consumers that died)",
            Default::default(),
        ),
    ];
    for q in queues {
        for (state, n) in [
            ("ready", q.ready),
            ("delayed", q.delayed),
            ("in_flight", q.in_flight),
        ] {
            jobs.get_or_create(&QueueStateLabels {
                queue: q.name.clone(),
                state: state.into(),
            })
            .set(n as i64);
        }
        let labels = QueueLabels {
            queue: q.name.clone(),
        };
        consumers.get_or_create(&labels).set(q.consumers as i64);
        for ((_, _, fam), v) in counters
            .iter()
            .zip([q.pushed, q.acked, q.nacked, q.redelivered])
        {
            fam.get_or_create(&labels).set(v as i64);
        }
    }
    reg.register("pm_native_queue_jobs", "Jobs in the queue by state", jobs);
    reg.register(
        "pm_native_queue_consumers",
        "Consumers attached to the queue",
        consumers,
    );
    for (name, help, fam) in counters {
        reg.register(name, help, fam);
    }
}

/// The daemon's own health, read from `/proc/self`.
pub fn daemon_sample() -> DaemonSample {
    DaemonSample {
        rss: crate::sys::proc::rss_bytes(std::process::id()).unwrap_or(0),
        open_fds: std::fs::read_dir("/proc/self/fd")
            .map(|d| d.count() as u64)
            .unwrap_or(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exporter_names_and_labels() {
        let app = AppSample {
            id: 3,
            name: "api".into(),
            instance: 1,
            interpreter: "node".into(),
            status: "online".into(),
            cpu: 12.5,
            memory: 1024,
            uptime: 7,
            restarts: 2,
            instances: 2,
            metrics: vec![("Used Heap Size".into(), 5.5), ("HTTP".into(), 60.0)],
        };
        let text = render(
            &[app],
            &DaemonSample {
                rss: 1,
                open_fds: 2,
            },
            &[QueueStats {
                name: "jobs".into(),
                ready: 4,
                in_flight: 1,
                consumers: 2,
                pushed: 9,
                acked: 4,
                redelivered: 1,
                ..Default::default()
            }],
        );
        let line = r#"{id="3",name="api",instance="1",interpreter="node"}"#;
        for want in [
            format!("pm2_up{line} 1.0"),
            format!("pm2_cpu{line} 12.5"),
            format!("pm2_memory{line} 1024.0"),
            format!("pm2_restarts{line} 2.0"),
            format!("pm2_used_heap_size{line} 5.5"),
            format!("pm2_http{line} 60.0"),
            r#"pm_native_apps{status="online"} 1"#.to_string(),
            r#"pm_native_apps{status="stopped"} 0"#.to_string(),
            "pm_native_daemon_open_fds 2".to_string(),
            r#"pm_native_queue_jobs{queue="jobs",state="ready"} 4"#.to_string(),
            r#"pm_native_queue_jobs{queue="jobs",state="in_flight"} 1"#.to_string(),
            r#"pm_native_queue_jobs{queue="jobs",state="delayed"} 0"#.to_string(),
            r#"pm_native_queue_consumers{queue="jobs"} 2"#.to_string(),
            r#"pm_native_queue_pushed{queue="jobs"} 9"#.to_string(),
            r#"pm_native_queue_acked{queue="jobs"} 4"#.to_string(),
            r#"pm_native_queue_redelivered{queue="jobs"} 1"#.to_string(),
        ] {
            assert!(text.contains(&want), "missing {want} in\n{text}");
        }
        assert!(text.ends_with("# EOF\n"));
    }

    #[test]
    fn metric_names_are_prometheus_safe() {
        assert_eq!(
            metric_name("Event Loop Latency p95"),
            "pm2_event_loop_latency_p95"
        );
        assert_eq!(
            metric_name("HTTP Mean Latency (ms)"),
            "pm2_http_mean_latency_ms"
        );
        assert_eq!(metric_name("été"), "pm2_t");
        assert_eq!(metric_name("%%"), "pm2", "nothing left: skipped by render");
    }
}
