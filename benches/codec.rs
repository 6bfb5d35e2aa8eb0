//! Client↔daemon frame codec: `frame::encode`/`frame::decode` and the async `frame::write`/
//! `frame::read` pair over an in-memory buffer, for a tiny request and for `jlist`-sized
//! responses (20 and 200 processes in pm2's jlist shape).
//!
//! Run: `cargo bench --bench codec` (add `-- --quick` for a fast pass).

use std::hint::black_box;
use std::io::Cursor;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use pm_native::protocol::frame;
use pm_native::protocol::{Request, Response, TargetRequest};
use serde_json::{json, Map, Value};

/// Keys of `pm2_env` in a rendered process (pm2 7 order), not counting the ones built below.
const PM2_ENV_KEYS: usize = 60;
/// Variables in each process's `env` map.
const ENV_VARS: usize = 40;

/// A process's captured environment: what a shell typically exports, plus app settings.
fn env_map(i: usize) -> Map<String, Value> {
    let mut env = Map::new();
    let common = [
        ("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/home/deploy/.nvm/versions/node/v22.11.0/bin".to_string()),
        ("HOME", "/home/deploy".to_string()),
        ("USER", "deploy".to_string()),
        ("LOGNAME", "deploy".to_string()),
        ("SHELL", "/bin/bash".to_string()),
        ("LANG", "en_US.UTF-8".to_string()),
        ("TERM", "xterm-256color".to_string()),
        ("PWD", format!("/srv/apps/service-{i}")),
        ("NODE_ENV", "production".to_string()),
        ("PORT", (3000 + i).to_string()),
        ("HOSTNAME", "app-host-01.internal.example.com".to_string()),
        ("DATABASE_URL", format!("postgres://svc:secret@db.internal:5432/service_{i}")),
        ("REDIS_URL", "redis://cache.internal:6379/0".to_string()),
        ("LOG_LEVEL", "info".to_string()),
        ("SSH_CONNECTION", "10.0.0.5 51234 10.0.0.10 22".to_string()),
        ("XDG_RUNTIME_DIR", "/run/user/1000".to_string()),
        ("NVM_DIR", "/home/deploy/.nvm".to_string()),
        ("NODE_OPTIONS", "--max-old-space-size=2048".to_string()),
    ];
    for (k, v) in common {
        env.insert(k.into(), v.into());
    }
    let mut n = 0;
    while env.len() < ENV_VARS - 1 {
        env.insert(
            format!("APP_SETTING_{n:02}"),
            format!("value-{i}-{n}-{}", "x".repeat(n % 23)).into(),
        );
        n += 1;
    }
    env.insert(
        "unique_id".into(),
        format!("5f0c1a2e-8b4d-4c7e-9a1f-{:012x}", i * 7919).into(),
    );
    env
}

/// One process as the daemon renders it for `jlist`.
fn jlist_proc(i: usize) -> Value {
    let name = format!("service-{i}");
    let cwd = format!("/srv/apps/{name}");
    let env = env_map(i);
    let mut e = Map::new();
    let fields = [
        ("name", json!(name)),
        ("filter_env", json!([])),
        ("namespace", json!("default")),
        ("env", Value::Object(env.clone())),
        ("max_memory_restart", json!(536_870_912)),
        ("merge_logs", json!(true)),
        ("vizion", json!(true)),
        ("autostart", json!(true)),
        ("autorestart", json!(true)),
        ("watch", json!(false)),
        ("instance_var", json!("NODE_APP_INSTANCE")),
        ("pmx", json!(true)),
        ("automation", json!(true)),
        ("treekill", json!(true)),
        ("username", json!("deploy")),
        ("windowsHide", json!(true)),
        ("kill_retry_time", json!(100)),
        (
            "args",
            json!(["--port", (3000 + i).to_string(), "--verbose"]),
        ),
        ("log_date_format", json!("YYYY-MM-DD HH:mm:ss Z")),
        ("restart_delay", json!(0)),
        ("kill_timeout", json!(1600)),
        ("listen_timeout", json!(3000)),
        ("min_uptime", json!(1000)),
        ("max_restarts", json!(16)),
        ("node_args", json!(["--enable-source-maps"])),
        ("pm_exec_path", json!(format!("{cwd}/dist/server.js"))),
        ("pm_cwd", json!(cwd)),
        ("exec_interpreter", json!("node")),
        ("exec_mode", json!("fork_mode")),
        ("instances", json!(1)),
        (
            "pm_out_log_path",
            json!(format!("/home/deploy/.pm2/logs/{name}-out.log")),
        ),
        (
            "pm_err_log_path",
            json!(format!("/home/deploy/.pm2/logs/{name}-error.log")),
        ),
        (
            "pm_pid_path",
            json!(format!("/home/deploy/.pm2/pids/{name}-{i}.pid")),
        ),
        ("km_link", json!(false)),
        ("vizion_running", json!(false)),
        ("NODE_APP_INSTANCE", json!(0)),
        ("unique_id", env["unique_id"].clone()),
        ("status", json!("online")),
        ("pm_uptime", json!(1_735_689_600_000u64 + i as u64 * 1000)),
        ("axm_actions", json!([])),
        ("axm_monitor", json!({})),
        ("axm_options", json!({})),
        ("axm_dynamic", json!({})),
        ("created_at", json!(1_735_689_000_000u64 + i as u64 * 1000)),
        ("pm_id", json!(i)),
        ("restart_time", json!(i % 5)),
        ("unstable_restarts", json!(0)),
        ("version", json!("1.4.2")),
    ];
    for (k, v) in fields {
        e.insert(k.into(), v);
    }
    // pm2 lifts scalar env entries to the top level of pm2_env; take enough to reach the target.
    for (k, v) in &env {
        if e.len() >= PM2_ENV_KEYS {
            break;
        }
        e.entry(k.clone()).or_insert_with(|| v.clone());
    }
    json!({
        "pid": 40_000 + i,
        "name": name,
        "pm2_env": e,
        "pm_id": i,
        "monit": { "memory": 58_720_256 + i * 4096, "cpu": 0.7 },
    })
}

fn procs(n: usize) -> Response {
    Response::Procs {
        procs: (0..n)
            .map(|i| serde_json::from_value(jlist_proc(i)).expect("a jlist element"))
            .collect(),
    }
}

fn bench_request(c: &mut Criterion) {
    let req = Request::Stop(TargetRequest {
        targets: vec!["web".into()],
        cwd: None,
    });
    let frame_bytes = frame::encode(&req).expect("encodes");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");

    let mut g = c.benchmark_group("codec/request_stop");
    g.throughput(Throughput::Bytes(frame_bytes.len() as u64));
    g.bench_function("encode", |b| {
        b.iter(|| frame::encode(black_box(&req)).expect("encodes"))
    });
    g.bench_function("decode", |b| {
        b.iter(|| frame::decode::<Request>(black_box(&frame_bytes[4..])).expect("decodes"))
    });
    g.bench_function("encode+decode", |b| {
        b.iter(|| {
            let bytes = frame::encode(black_box(&req)).expect("encodes");
            frame::decode::<Request>(&bytes[4..]).expect("decodes")
        })
    });
    g.bench_function("async_write+read", |b| {
        let mut buf = Vec::with_capacity(frame_bytes.len());
        b.iter(|| {
            rt.block_on(async {
                buf.clear();
                frame::write(&mut buf, black_box(&req))
                    .await
                    .expect("writes");
                let mut cursor = Cursor::new(&buf[..]);
                frame::read::<_, Request>(&mut cursor).await.expect("reads")
            })
        })
    });
    g.finish();
}

fn bench_procs(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut g = c.benchmark_group("codec/response_procs");
    for n in [20usize, 200] {
        let resp = procs(n);
        let frame_bytes = frame::encode(&resp).expect("encodes");
        g.throughput(Throughput::Bytes(frame_bytes.len() as u64));
        g.bench_with_input(BenchmarkId::new("encode", n), &resp, |b, resp| {
            b.iter(|| frame::encode(black_box(resp)).expect("encodes"))
        });
        g.bench_with_input(BenchmarkId::new("decode", n), &frame_bytes, |b, bytes| {
            b.iter(|| frame::decode::<Response>(black_box(&bytes[4..])).expect("decodes"))
        });
        g.bench_with_input(BenchmarkId::new("encode+decode", n), &resp, |b, resp| {
            b.iter(|| {
                let bytes = frame::encode(black_box(resp)).expect("encodes");
                frame::decode::<Response>(&bytes[4..]).expect("decodes")
            })
        });
        g.bench_with_input(BenchmarkId::new("async_write+read", n), &resp, |b, resp| {
            let mut buf = Vec::with_capacity(frame_bytes.len());
            b.iter(|| {
                rt.block_on(async {
                    buf.clear();
                    frame::write(&mut buf, black_box(resp))
                        .await
                        .expect("writes");
                    let mut cursor = Cursor::new(&buf[..]);
                    frame::read::<_, Response>(&mut cursor)
                        .await
                        .expect("reads")
                })
            })
        });
    }
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = bench_request, bench_procs
}
criterion_main!(benches);
