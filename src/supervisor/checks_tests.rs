//! Reading an app's checks: defaults, shapes, and one-line errors.

use super::*;
use serde_json::json;

fn spec(extra: Value) -> AppSpec {
    let Value::Object(extra) = extra else {
        panic!("object")
    };
    AppSpec {
        script: "/a.js".into(),
        extra,
        ..Default::default()
    }
}

#[test]
fn health_gives_both_roles_with_kubernetes_defaults() {
    let c = parse(&spec(
        json!({"health": {"http": {"port": 3000, "path": "/health"}}}),
    ))
    .expect("valid");
    let p = c.liveness.clone().expect("liveness");
    assert_eq!(c.readiness, Some(p.clone()));
    assert!(c.shared);
    assert_eq!(p.interval, Duration::from_secs(10));
    assert_eq!(p.timeout, Duration::from_secs(1));
    assert_eq!((p.failure_threshold, p.success_threshold), (3, 1));
    assert_eq!(
        p.target,
        Target::Http {
            host: "127.0.0.1".into(),
            port: Port::Fixed(3000),
            path: "/health".into(),
            status: vec![(200, 399)]
        }
    );
    assert_eq!(c.gate(false), Gate::Probe);
}

#[test]
fn urls_statuses_and_env_ports() {
    let c = parse(&spec(json!({
        "liveness": {"http": {"url": "http://localhost:8080/ok", "status": ["2xx", 301]}, "interval": "1s"},
        "readiness": {"tcp": {"port": "HEALTH_PORT"}, "interval": 500},
    })))
    .expect("valid");
    let l = c.liveness.expect("liveness");
    assert_eq!(
        l.target,
        Target::Http {
            host: "localhost".into(),
            port: Port::Fixed(8080),
            path: "/ok".into(),
            status: vec![(200, 299), (301, 301)]
        }
    );
    assert_eq!(l.interval, Duration::from_secs(1));
    let r = c.readiness.expect("readiness");
    assert_eq!(r.interval, Duration::from_millis(500));
    assert_eq!(
        r.target,
        Target::Tcp {
            host: "127.0.0.1".into(),
            port: Port::Env("HEALTH_PORT".into())
        }
    );
    assert!(!c.shared);
}

#[test]
fn bad_input_is_one_line_naming_the_key() {
    let err = |v: Value| parse(&spec(v)).expect_err("invalid");
    assert_eq!(
        err(json!({"health": {"grpc": {"port": 1}}})),
        "health: unknown key \"grpc\" (expected http, tcp, exec, interval, timeout, initial_delay, failure_threshold, success_threshold)"
    );
    assert_eq!(
        err(json!({"health": {"interval": "1s"}})),
        "health: needs one of http, tcp or exec"
    );
    assert_eq!(
        err(json!({"health": {"tcp": 80, "exec": "true"}})),
        "health: give one probe type, not tcp and exec"
    );
    assert_eq!(
        err(json!({"health": {"tcp": 80, "interval": -5}})),
        "health.interval: -5 is not a duration"
    );
    assert_eq!(
        err(json!({"health": {"tcp": 80, "interval": "1ms"}})),
        "health.interval: \"1ms\" is out of range (100ms to 24h)"
    );
    assert_eq!(
        err(json!({"health": {"tcp": 80, "failure_threshold": 0}})),
        "health.failure_threshold: 0 is not a count from 1 to 1000"
    );
    assert_eq!(
        err(json!({"health": {"tcp": 70000}})),
        "health.tcp.port: 70000 is not a port (1 to 65535)"
    );
    assert!(err(json!({"health": {"http": "https://x/"}})).contains("https is not supported"));
    assert!(
        err(json!({"health": {"http": {"port": 1, "status": "abc"}}}))
            .starts_with("health.http.status:")
    );
    assert_eq!(
        err(json!({"max_event_loop_lag": "forever"})),
        "max_event_loop_lag: \"forever\" is not a duration (use ms, or a number with s, m or h)"
    );
    assert!(err(json!({"health": {"tcp": 1}, "liveness": {"tcp": 1}})).contains("not both"));
}

#[test]
fn watchdog_sec_counts_seconds_like_systemd() {
    let c = parse(&spec(
        json!({"watchdog_sec": 2, "max_event_loop_lag": "5s"}),
    ))
    .expect("ok");
    assert_eq!(c.watchdog, Some(Duration::from_secs(2)));
    assert_eq!(c.max_event_loop_lag, Some(Duration::from_secs(5)));
    assert!(c.notify_socket && !c.notify_ready);
    let c = parse(&spec(json!({"notify": true}))).expect("ok");
    assert_eq!(c.gate(true), Gate::Notify);
    assert!(parse(&spec(json!({"notify": false, "watchdog_sec": 1}))).is_err());
    assert!(!parse(&spec(json!({}))).expect("ok").any());
}
