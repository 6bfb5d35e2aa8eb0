use super::*;

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).expect("write");
}

#[test]
fn reads_records_and_tells_missing_from_broken() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("dump.pm2");
    assert!(read(&path).expect_err("no file").is_missing());
    for (text, why) in [
        ("", "the file is empty"),
        ("[{\"spec\":{\"scr", "truncated"),
        ("{ not json", "not JSON"),
        ("{}", "expected a JSON array"),
        ("[1]", "entry #1 is not an object"),
    ] {
        write(&path, text);
        let e = read(&path).expect_err("broken");
        assert!(!e.is_missing());
        let msg = e.to_string();
        assert!(
            msg.contains("is not a valid dump") && msg.contains(why),
            "{msg}"
        );
        assert!(!msg.contains('\n'), "{msg}");
    }
    write(
        &path,
        r#"[{"spec":{"script":"/srv/a.js","name":"a"},"env":{"X":"1"}},{"spec":{"script":"/srv/b.js"}}]"#,
    );
    let saved = read(&path).expect("valid");
    assert_eq!(saved.len(), 2);
    assert_eq!(saved[0].spec.resolved_name(), "a");
    assert_eq!(saved[0].env["X"], "1");
    assert!(saved[1].env.is_empty());
    write(&path, r#"[{"spec":{"name":3}}]"#);
    assert!(read(&path)
        .expect_err("bad record")
        .to_string()
        .contains("bad app record"));
}

#[test]
fn save_keeps_the_previous_dump_and_refuses_an_empty_list() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("dump.pm2");
    let one = [serde_json::json!({"spec": {"script": "/srv/a.js"}, "env": {}})];
    assert_eq!(save(&path, &[], false).expect("save"), Saving::RefusedEmpty);
    assert!(!path.exists());
    assert_eq!(save(&path, &one, false).expect("save"), Saving::Written);
    assert!(!backup_path(&path).exists(), "nothing to back up yet");
    let mode = std::fs::metadata(&path).expect("stat").permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let first = std::fs::read(&path).expect("read");
    assert_eq!(save(&path, &[], false).expect("save"), Saving::RefusedEmpty);
    assert_eq!(std::fs::read(&path).expect("read"), first, "left alone");
    assert_eq!(save(&path, &[], true).expect("save"), Saving::Written);
    assert_eq!(std::fs::read(backup_path(&path)).expect("bak"), first);
    assert_eq!(read(&path).expect("valid").len(), 0);
    // A broken dump is not copied over a good backup.
    write(&path, "garbage");
    save(&path, &one, true).expect("save");
    assert_eq!(std::fs::read(backup_path(&path)).expect("bak"), first);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .expect("ls")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn load_falls_back_to_the_backup_and_removes_a_broken_dump() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("dump.pm2");
    let bak = backup_path(&path);
    let errs = load(&path, true).expect_err("nothing saved");
    assert!(errs.len() == 1 && errs[0].is_missing());
    write(&bak, r#"[{"spec":{"script":"/srv/a.js","name":"a"}}]"#);
    write(&path, "[{\"spec\":");
    let l = load(&path, true).expect("from the backup");
    assert_eq!(l.from, bak);
    assert_eq!(l.apps[0].spec.resolved_name(), "a");
    assert!(l.skipped.expect("why").to_string().contains("truncated"));
    assert!(!path.exists(), "the broken dump is removed");
    // Without remove_broken (a path the user named), both files stay.
    write(&path, "");
    write(&bak, "nope");
    let errs = load(&path, false).expect_err("both broken");
    assert_eq!(errs.len(), 2);
    assert!(path.exists() && bak.exists());
}

#[test]
fn pm2_records_fold_into_one_app_per_name() {
    let dir = tempfile::tempdir().expect("temp dir");
    let home = dir.path();
    let logs = home.join("logs").display().to_string();
    let env = serde_json::json!({
        "FOO": "bar", "PATH": "/usr/bin", "PM2_HOME": home, "unique_id": "u",
        "web": {}, "NODE_APP_INSTANCE": 0
    });
    let rec = |id: u32, mode: &str| {
        serde_json::json!({
            "name": "web", "namespace": "default", "exec_mode": mode, "args": ["--port", "3000"],
            "node_args": ["--max-old-space-size=64"], "pm_exec_path": "/srv/web.js",
            "pm_cwd": "/srv", "env": env, "FOO": "bar", "status": "online", "pm_uptime": 1,
            "axm_options": {}, "filter_env": [], "watch": false, "autorestart": true,
            "kill_timeout": 3000, "max_memory_restart": 104857600, "cron_restart": "0 3 * * *",
            "pm_out_log_path": format!("{logs}/web-out-{id}.log"),
            "pm_err_log_path": format!("/var/log/web-err-{id}.log"),
            "pm_pid_path": format!("{}/pids/web-{id}.pid", home.display()),
            "instance_var": "NODE_APP_INSTANCE", "NODE_APP_INSTANCE": id, "vizion_running": false,
        })
        .as_object()
        .cloned()
        .expect("object")
    };
    let apps = pm2::import(
        vec![rec(1, "cluster_mode"), rec(2, "cluster_mode")],
        home,
        "dump.pm2",
    )
    .expect("import");
    assert_eq!(apps.len(), 1);
    let s = &apps[0].spec;
    assert_eq!(s.resolved_name(), "web");
    assert_eq!(s.script, "/srv/web.js");
    assert_eq!(s.cwd.as_deref(), Some("/srv"));
    assert_eq!(s.args, ["--port", "3000"]);
    assert_eq!(s.interpreter_args, ["--max-old-space-size=64"]);
    assert_eq!(s.instances, crate::protocol::Instances::Count(2));
    assert_eq!(s.exec_mode(), crate::protocol::ExecMode::Cluster);
    assert_eq!(s.kill_timeout, Some(3000));
    assert_eq!(s.max_memory_restart, Some(104857600));
    assert_eq!(s.cron_restart.as_deref(), Some("0 3 * * *"));
    assert_eq!(
        s.out_file, None,
        "pm2's default log path is not carried over"
    );
    assert_eq!(s.error_file.as_deref(), Some("/var/log/web-err.log"));
    assert_eq!(s.pid_file, None);
    for internal in [
        "status",
        "pm_uptime",
        "axm_options",
        "FOO",
        "vizion_running",
    ] {
        assert!(
            !s.extra.contains_key(internal),
            "{internal} leaked: {:?}",
            s.extra
        );
    }
    let env = &apps[0].env;
    assert_eq!(env["FOO"], "bar");
    assert_eq!(env["PATH"], "/usr/bin");
    for internal in ["PM2_HOME", "unique_id", "web", "NODE_APP_INSTANCE"] {
        assert!(!env.contains_key(internal), "{internal} kept: {env:?}");
    }
    let fork = pm2::import(vec![rec(0, "fork_mode")], home, "dump.pm2").expect("import");
    assert_eq!(fork[0].spec.instances, crate::protocol::Instances::One);
}
