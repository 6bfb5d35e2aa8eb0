use super::*;

fn sample() -> ProcView {
    let mut env = Env::new();
    env.insert("HOME".into(), "/root".into());
    env.insert("unique_id".into(), "u-1".into());
    let mut options = Map::new();
    options.insert("args".into(), serde_json::json!(["--port", "3000"]));
    options.insert("kill_timeout".into(), 3000.into());
    let mut lifted = Map::new();
    lifted.insert("HOME".into(), "/root".into());
    lifted.insert("NODE_ENV".into(), "production".into());
    ProcView {
        pid: 4242,
        name: "api".into(),
        pm2_env: Pm2Env {
            name: "api".into(),
            namespace: "default".into(),
            env,
            instances: 1.into(),
            merge_logs: Some(true),
            vizion: true,
            autostart: true,
            autorestart: true,
            watch: false.into(),
            instance_var: "NODE_APP_INSTANCE".into(),
            treekill: true,
            username: "root".into(),
            options,
            node_args: Some(vec![]),
            pm_exec_path: "/srv/api.js".into(),
            pm_cwd: "/srv".into(),
            exec_interpreter: "node".into(),
            exec_mode: ExecMode::Fork,
            pm_out_log_path: "/h/logs/api-out.log".into(),
            pm_err_log_path: "/h/logs/api-error.log".into(),
            pm_pid_path: "/h/pids/api-0.pid".into(),
            lifted,
            unique_id: "u-1".into(),
            status: "online".into(),
            pm_uptime: 1000,
            created_at: 900,
            restart_time: 2,
            version: Some("1.0.0".into()),
            node_version: Some("20.20.0".into()),
            ..Default::default()
        },
        pm_id: 0,
        monit: Monit {
            memory: 1024,
            cpu: 0.0,
        },
    }
}

fn round_trip(v: &ProcView) -> (String, String) {
    let first = serde_json::to_string(v).expect("serialisable");
    let back: ProcView = serde_json::from_str(&first).expect("readable");
    (first, serde_json::to_string(&back).expect("serialisable"))
}

#[test]
fn pm2_env_keys_come_in_pm2_order() {
    let json = serde_json::to_value(sample()).expect("serialisable");
    let keys: Vec<&str> = json["pm2_env"]
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "name",
            "filter_env",
            "namespace",
            "env",
            "merge_logs",
            "vizion",
            "autostart",
            "autorestart",
            "watch",
            "instance_var",
            "pmx",
            "automation",
            "treekill",
            "username",
            "windowsHide",
            "kill_retry_time",
            "args",
            "kill_timeout",
            "node_args",
            "pm_exec_path",
            "pm_cwd",
            "exec_interpreter",
            "exec_mode",
            "instances",
            "pm_out_log_path",
            "pm_err_log_path",
            "pm_pid_path",
            "km_link",
            "vizion_running",
            "NODE_APP_INSTANCE",
            "HOME",
            "NODE_ENV",
            "unique_id",
            "status",
            "pm_uptime",
            "axm_actions",
            "axm_monitor",
            "axm_options",
            "axm_dynamic",
            "created_at",
            "pm_id",
            "restart_time",
            "unstable_restarts",
            "version",
            "node_version",
        ]
    );
    let top: Vec<&str> = json
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(top, ["pid", "name", "pm2_env", "pm_id", "monit"]);
    assert_eq!(
        json["monit"]["cpu"].to_string(),
        "0",
        "a whole cpu is a JS integer"
    );
}

#[test]
fn a_view_reads_back_to_the_same_bytes() {
    let (first, second) = round_trip(&sample());
    assert_eq!(first, second);
    let back: ProcView = serde_json::from_str(&first).expect("readable");
    assert_eq!(back, sample());
}

/// `--node-args=null` drops the key, as pm2 does; the options before it still read back.
#[test]
fn a_cleared_node_args_is_absent_and_still_reads_back() {
    let mut v = sample();
    v.pm2_env.node_args = None;
    v.pm2_env.options.insert("kill_timeout".into(), 3000.into());
    let (first, second) = round_trip(&v);
    assert_eq!(first, second);
    let json: Value = serde_json::from_str(&first).expect("json");
    assert!(json["pm2_env"].get("node_args").is_none());
    let back: ProcView = serde_json::from_str(&first).expect("readable");
    assert_eq!(back, v);
}

/// Keys the user chose that collide with pm2's own: an option or env entry named like a daemon
/// field keeps its place and shows the daemon's value (pm2's fields win); one lifted after the
/// tail starts keeps its place too. The view must still read back to the same bytes.
#[test]
fn colliding_keys_still_round_trip() {
    let mut v = sample();
    let e = &mut v.pm2_env;
    e.exec_mode = ExecMode::Cluster;
    e.instances = "max".into();
    e.instance_var = "INSTANCE_ID".into();
    e.instance = 3;
    e.options.insert("status".into(), "made up".into());
    e.options.insert("pm_cwd".into(), "/elsewhere".into());
    e.options.insert("name".into(), "not the name".into());
    e.lifted.insert("pm_id".into(), "77".into());
    e.lifted.insert("unique_id".into(), "inherited".into());
    e.lifted.insert("ZED".into(), "last".into());
    e.lifted.insert("restart_time".into(), "9".into());
    e.version = None;
    e.lifted.insert("version".into(), "from env".into());
    e.exit_code = Some(1.into());
    e.pm_log_path = Some("/h/logs/api.log".into());
    let (first, second) = round_trip(&v);
    assert_eq!(first, second);
    let back: ProcView = serde_json::from_str(&first).expect("readable");
    assert_eq!(back.pm2_env.status, "online");
    assert_eq!(back.pm2_env.pm_cwd, "/srv");
    assert_eq!(back.pm2_env.name, "api");
    assert_eq!(back.pm2_env.pm_id, 0);
    assert_eq!(back.pm2_env.restart_time, 2);
    assert_eq!(back.pm2_env.instance, 3);
    assert_eq!(back.pm2_env.version, Some("from env".into()));
    let json: Value = serde_json::from_str(&first).expect("json");
    assert_eq!(json["pm2_env"]["status"], "online");
    assert_eq!(json["pm2_env"]["INSTANCE_ID"], 3);
}

#[test]
fn a_fractional_cpu_stays_a_fraction() {
    let mut v = sample();
    v.monit.cpu = 12.5;
    let json = serde_json::to_value(&v).expect("serialisable");
    assert_eq!(json["monit"]["cpu"].to_string(), "12.5");
}
