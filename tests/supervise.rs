//! Keeping apps alive: restart policy, graceful stop, the process tree, memory, cron and watch.
//! Each test starts real processes under a real daemon in its own PM_HOME.

mod common;

use std::time::{Duration, Instant};

use common::{alive, mark_js, read, wait_for, wait_for_file, Pm};

const LONG: Duration = Duration::from_secs(20);

#[test]
fn crash_loop_ends_errored_after_max_restarts() {
    let pm = Pm::new();
    pm.write("crash.js", "process.exit(3)\n");
    pm.ok(&["start", "crash.js", "--max-restarts", "3"]);
    let p = wait_for("errored", LONG, || {
        let p = pm.proc("crash");
        (p["pm2_env"]["status"] == "errored").then_some(p)
    });
    assert_eq!(
        p["pm2_env"]["restart_time"], 2,
        "3 unstable exits: 2 restarts, then errored"
    );
    assert_eq!(p["pm2_env"]["unstable_restarts"], 3);
    assert_eq!(p["pm2_env"]["exit_code"], 3);
    assert_eq!(p["pid"], 0);
}

#[test]
fn stop_exit_codes_and_no_autorestart_leave_the_app_stopped() {
    let pm = Pm::new();
    pm.write("done.js", "setTimeout(() => process.exit(7), 50)\n");
    pm.ok(&["start", "done.js", "--stop-exit-codes", "7"]);
    let p = wait_for("stopped", LONG, || {
        let p = pm.proc("done");
        (p["pm2_env"]["status"] == "stopped").then_some(p)
    });
    assert_eq!(p["pm2_env"]["restart_time"], 0);
    pm.write("once.js", "setTimeout(() => process.exit(1), 50)\n");
    pm.ok(&["start", "once.js", "--no-autorestart"]);
    wait_for("once stopped", LONG, || {
        (pm.proc("once")["pm2_env"]["status"] == "stopped").then_some(())
    });
    assert_eq!(pm.proc("once")["pm2_env"]["restart_time"], 0);
}

#[test]
fn restart_delay_and_backoff_wait_between_restarts() {
    let pm = Pm::new();
    pm.write("slow.js", "process.exit(1)\n");
    pm.ok(&[
        "start",
        "slow.js",
        "--restart-delay",
        "600",
        "--max-restarts",
        "100",
    ]);
    let first = Instant::now();
    wait_for("a waiting restart", LONG, || {
        (pm.proc("slow")["pm2_env"]["status"] == "waiting restart").then_some(())
    });
    wait_for("2 restarts", LONG, || {
        (pm.proc("slow")["pm2_env"]["restart_time"].as_u64() >= Some(2)).then_some(())
    });
    assert!(
        first.elapsed() >= Duration::from_millis(1200),
        "2 restarts took only {:?}",
        first.elapsed()
    );
}

#[test]
fn sigint_handler_finishes_its_work_on_stop() {
    let pm = Pm::new();
    let marker = pm.path("cleaned");
    let handler = pm.path("handler");
    pm.write(
        "graceful.js",
        &format!(
            "process.on('SIGINT', () => setTimeout(() => {{ require('fs').writeFileSync({:?}, 'ok'); process.exit(0) }}, 1000));\n{};\nsetInterval(() => {{}}, 1000);\n",
            marker.display().to_string(),
            mark_js(&handler)
        ),
    );
    pm.ok(&["start", "graceful.js", "--kill-timeout", "3000"]);
    wait_for("online", LONG, || {
        (pm.proc("graceful")["pm2_env"]["status"] == "online").then_some(())
    });
    wait_for("pid", LONG, || {
        pm.proc("graceful")["pid"].as_i64().filter(|p| *p > 0)
    });
    wait_for_file("the SIGINT handler", LONG, &handler);
    pm.ok(&["stop", "graceful"]);
    assert_eq!(
        read(&marker),
        "ok",
        "the handler's work was done before stop returned"
    );
}

#[test]
fn an_app_ignoring_sigint_is_killed_after_kill_timeout_with_its_grandchild() {
    let pm = Pm::new();
    let gc_pid = pm.path("grandchild.pid");
    let handler = pm.path("handler");
    // The grandchild reports its pid only once it ignores SIGINT, the app once it does.
    pm.write(
        "stubborn.js",
        &format!(
            "const {{ spawn }} = require('child_process');\n\
             spawn('sh', ['-c', 'trap \"\" INT; echo $$ > \"$0\"; while true; do sleep 1; done', {:?}], {{ stdio: 'ignore' }});\n\
             process.on('SIGINT', () => {{}});\n{};\nsetInterval(() => {{}}, 1000);\n",
            gc_pid.display().to_string(),
            mark_js(&handler)
        ),
    );
    pm.ok(&["start", "stubborn.js", "--kill-timeout", "500"]);
    let pid = wait_for("pid", LONG, || {
        pm.proc("stubborn")["pid"].as_i64().filter(|p| *p > 0)
    }) as i32;
    let gc: i32 = wait_for("grandchild", LONG, || read(&gc_pid).trim().parse().ok());
    assert!(alive(gc));
    wait_for_file("the app's SIGINT handler", LONG, &handler);
    let t = Instant::now();
    pm.ok(&["stop", "stubborn"]);
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(450),
        "SIGKILL came before kill_timeout: {took:?}"
    );
    assert!(took < Duration::from_millis(3000), "stop took {took:?}");
    assert!(!alive(pid), "the app is gone");
    wait_for("grandchild gone", Duration::from_secs(5), || {
        (!alive(gc)).then_some(())
    });
}

#[test]
fn shutdown_with_message_sends_the_shutdown_message() {
    let pm = Pm::new();
    let marker = pm.path("got");
    let listening = pm.path("listening");
    pm.write(
        "msg.js",
        &format!(
            "process.on('message', (m) => {{ if (m === 'shutdown') {{ require('fs').writeFileSync({:?}, m); process.exit(0) }} }});\n\
             process.on('SIGINT', () => {{}});\n{};\n",
            marker.display().to_string(),
            mark_js(&listening)
        ),
    );
    pm.ok(&["start", "msg.js", "--shutdown-with-message"]);
    wait_for("pid", LONG, || {
        pm.proc("msg")["pid"].as_i64().filter(|p| *p > 0)
    });
    wait_for_file("the message listener", LONG, &listening);
    pm.ok(&["stop", "msg"]);
    assert_eq!(read(&marker), "shutdown");
}

#[test]
fn memory_growth_triggers_a_restart_within_two_seconds() {
    let pm = Pm::new();
    let crossed = pm.path("crossed");
    // Crosses the limit in one step, after start-up, and records when it starts to: the daemon
    // may restart it while the buffer is still being filled, before a later write could run.
    pm.write(
        "hog.js",
        &format!(
            "setTimeout(() => {{ require('fs').writeFileSync({:?}, String(Date.now())); global.keep = Buffer.alloc(300 << 20, 1); }}, 500);\n\
             setInterval(() => {{}}, 1000);\n",
            crossed.display().to_string()
        ),
    );
    pm.ok(&["start", "hog.js", "--max-memory-restart", "150M"]);
    let p = wait_for("a memory restart", LONG, || {
        let p = pm.proc("hog");
        (p["pm2_env"]["restart_time"].as_u64() >= Some(1)).then_some(p)
    });
    let at: i64 = read(&crossed)
        .trim()
        .parse()
        .expect("the app recorded when it crossed the limit");
    let restarted = p["pm2_env"]["pm_uptime"].as_i64().expect("pm_uptime");
    assert!(
        restarted - at < 2000,
        "restarted {} ms after crossing the limit",
        restarted - at
    );
    assert_eq!(p["pm2_env"]["max_memory_restart"], 150 * 1024 * 1024);
}

#[test]
fn exponential_backoff_delays_grow_by_half() {
    let pm = Pm::new();
    let stamps = pm.path("stamps");
    pm.write(
        "flaky.js",
        &format!(
            "require('fs').appendFileSync({:?}, Date.now() + '\\n'); process.exit(1);\n",
            stamps.display().to_string()
        ),
    );
    pm.ok(&[
        "start",
        "flaky.js",
        "--exp-backoff-restart-delay",
        "300",
        "--max-restarts",
        "100",
    ]);
    let times: Vec<i64> = wait_for("4 runs", LONG, || {
        let t: Vec<i64> = read(&stamps)
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect();
        (t.len() >= 4).then_some(t)
    });
    pm.ok(&["stop", "flaky"]);
    let gaps: Vec<i64> = times.windows(2).map(|w| w[1] - w[0]).collect();
    // Each gap is the backoff delay plus Node's start-up; the delays are 300, 450, 675 ms.
    for (gap, delay) in gaps.iter().zip([300, 450, 675]) {
        assert!(
            *gap >= delay,
            "gap {gap} ms shorter than the {delay} ms backoff: {gaps:?}"
        );
        assert!(
            *gap < delay + 1500,
            "gap {gap} ms far beyond the {delay} ms backoff: {gaps:?}"
        );
    }
}

#[test]
fn cron_restart_fires() {
    let pm = Pm::new();
    pm.write("tick.js", "setInterval(() => {}, 1000);\n");
    pm.ok(&["start", "tick.js", "--cron-restart", "*/2 * * * * *"]);
    wait_for("a cron restart", Duration::from_secs(10), || {
        (pm.proc("tick")["pm2_env"]["restart_time"].as_u64() >= Some(1)).then_some(())
    });
}

#[test]
fn watch_restarts_once_per_save_burst_and_respects_ignore_watch() {
    let pm = Pm::new();
    let app = pm.dir.path().join("w");
    std::fs::create_dir_all(app.join("ignored")).expect("mkdir");
    std::fs::write(app.join("app.js"), "setInterval(() => {}, 1000);\n").expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pm"))
        .args([
            "start",
            "app.js",
            "--watch",
            "--ignore-watch",
            "ignored",
            "--watch-delay",
            "300",
        ])
        .env("PM_HOME", pm.home())
        .current_dir(&app)
        .output()
        .expect("run pm");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    wait_for("online", LONG, || {
        (pm.proc("app")["pm2_env"]["status"] == "online").then_some(())
    });
    std::thread::sleep(Duration::from_millis(300));
    for i in 0..10 {
        std::fs::write(app.join("ignored").join("x.txt"), format!("{i}")).expect("write");
    }
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(
        pm.proc("app")["pm2_env"]["restart_time"],
        0,
        "changes under ignore_watch restart nothing"
    );
    for i in 0..10 {
        std::fs::write(
            app.join("app.js"),
            format!("setInterval(() => {{}}, 1000); // {i}\n"),
        )
        .expect("write");
    }
    wait_for("a watch restart", LONG, || {
        (pm.proc("app")["pm2_env"]["restart_time"].as_u64() >= Some(1)).then_some(())
    });
    std::thread::sleep(Duration::from_millis(1000));
    assert_eq!(
        pm.proc("app")["pm2_env"]["restart_time"],
        1,
        "a burst of 10 saves is one restart"
    );
}

#[test]
fn kill_stops_all_apps_in_parallel() {
    let pm = Pm::new();
    // Each instance marks, under its own name, that its handler is installed.
    let ready = |name: &str| pm.path(&format!("ready-{name}"));
    pm.write(
        "slowstop.js",
        &format!(
            "process.on('SIGINT', () => setTimeout(() => process.exit(0), 1500));\n\
             require('fs').writeFileSync(require('path').join({:?}, 'ready-' + process.env.name), '');\n\
             setInterval(() => {{}}, 1000);\n",
            pm.dir.path().display().to_string()
        ),
    );
    for i in 0..4 {
        pm.ok(&[
            "start",
            "slowstop.js",
            "--name",
            &format!("s{i}"),
            "--kill-timeout",
            "5000",
        ]);
    }
    let pids: Vec<i32> = wait_for("4 pids", LONG, || {
        let l = pm.jlist();
        let pids: Vec<i32> = l
            .iter()
            .filter_map(|p| p["pid"].as_i64().filter(|x| *x > 0).map(|x| x as i32))
            .collect();
        (pids.len() == 4).then_some(pids)
    });
    for i in 0..4 {
        wait_for_file("a SIGINT handler", LONG, &ready(&format!("s{i}")));
    }
    let t = Instant::now();
    pm.ok(&["kill"]);
    let took = t.elapsed();
    // One after another would take at least 6 s.
    assert!(
        took < Duration::from_millis(4000),
        "4 apps taking 1.5 s each stopped in {took:?}: not in parallel"
    );
    for p in pids {
        assert!(!alive(p));
    }
}

/// A program that cannot be executed fails the spawn itself (pm2's `errored`, no restarts),
/// with the reason in the app's error log, rather than a child that dies on every restart.
#[test]
fn a_missing_interpreter_is_a_spawn_error() {
    let pm = Pm::new();
    pm.write("app.js", "setInterval(() => {}, 1000);\n");
    let _ = pm.run(&["start", "app.js", "--interpreter", "/nonexistent/node"]);
    let p = wait_for("errored", LONG, || {
        let p = pm.proc("app");
        (p["pm2_env"]["status"] == "errored").then_some(p)
    });
    assert_eq!(
        p["pm2_env"]["restart_time"], 0,
        "a spawn error is not retried"
    );
    let err_log = p["pm2_env"]["pm_err_log_path"]
        .as_str()
        .expect("err log path");
    let text = read(std::path::Path::new(err_log));
    assert!(
        text.contains("spawn /nonexistent/node failed"),
        "the error log says why: {text:?}"
    );
}
