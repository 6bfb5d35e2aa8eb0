//! Start-or-restart, decided by the daemon: `pm start <word>` restarts what the word names
//! (pm2 7.0.4 `_startScript`: name, namespace, `all`, id), and an ecosystem file restarts its
//! running apps and starts the rest, with pm2's lines for each.

mod common;

use std::time::Duration;

use common::{wait_for, Pm};
use serde_json::Value;

const LONG: Duration = Duration::from_secs(20);
const IDLE: &str = "setInterval(() => {}, 1000)\n";

fn pids(pm: &Pm) -> Vec<(String, i64)> {
    let mut v: Vec<(String, i64)> = pm
        .jlist()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap_or("").to_string(),
                p["pid"].as_i64().unwrap_or(0),
            )
        })
        .collect();
    v.sort();
    v
}

fn wait_online(pm: &Pm, n: usize) -> Vec<(String, i64)> {
    wait_for("apps online", LONG, || {
        let list = pm.jlist();
        let up = list
            .iter()
            .filter(|p| p["pm2_env"]["status"] == "online" && p["pid"].as_i64() > Some(0));
        (up.count() == n).then(|| pids(pm))
    })
}

#[test]
fn start_word_restarts_a_namespace_and_all_as_pm2() {
    let pm = Pm::new();
    pm.write("idle.js", IDLE);
    pm.ok(&["start", "idle.js", "--name", "a", "--namespace", "grp"]);
    pm.ok(&["start", "idle.js", "--name", "b"]);
    let before = wait_online(&pm, 2);

    let out = pm.ok(&["start", "grp"]);
    assert!(
        out.contains("Use --update-env to update environment variables"),
        "{out}"
    );
    assert!(
        out.contains("[PM2] Applying action restartProcessId on app [grp](ids: [ 0 ])"),
        "{out}"
    );
    assert!(out.contains("[PM2] [a](0) ✓"), "{out}");
    let after = wait_online(&pm, 2);
    assert_ne!(after[0].1, before[0].1, "a restarted");
    assert_eq!(after[1].1, before[1].1, "b untouched");

    let out = pm.ok(&["start", "all", "--update-env"]);
    assert!(!out.contains("--update-env"), "{out}");
    assert!(
        out.contains("[PM2] Applying action restartProcessId on app [all](ids: [ 0, 1 ])"),
        "{out}"
    );
    let last = wait_online(&pm, 2);
    assert!(
        last.iter().zip(&after).all(|(l, a)| l.1 != a.1),
        "all restarted"
    );
    assert_eq!(pm.jlist().len(), 2);
}

#[test]
fn start_word_naming_nothing_is_a_script_not_found() {
    let pm = Pm::new();
    pm.write("idle.js", IDLE);
    pm.ok(&["start", "idle.js", "--name", "a"]);
    let out = pm.run(&["start", "nothing"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Script not found"), "{err}");
    assert_eq!(pm.jlist().len(), 1);
}

#[test]
fn an_ecosystem_restarts_what_runs_and_starts_the_rest() {
    let pm = Pm::new();
    pm.write("idle.js", IDLE);
    let eco = serde_json::json!({ "apps": [
        { "name": "one", "script": "idle.js" },
        { "name": "two", "script": "idle.js", "instances": 2, "exec_mode": "fork" },
    ]});
    pm.write("eco.json", &eco.to_string());
    pm.ok(&["start", "idle.js", "--name", "one"]);
    let before = wait_online(&pm, 1);

    let out = pm.ok(&["startOrRestart", "eco.json"]);
    let lines: Vec<&str> = out.lines().take(4).collect();
    assert_eq!(
        lines,
        [
            "[PM2] Applying action restartProcessId on app [one](ids: [ 0 ])",
            "[PM2] [one](0) ✓",
            "[PM2][WARN] Applications two not running, starting...",
            "[PM2] App [two] launched (2 instances)",
        ],
        "{out}"
    );
    let after = wait_online(&pm, 3);
    let one = after.iter().find(|p| p.0 == "one").map(|p| p.1);
    assert_ne!(one, Some(before[0].1), "one restarted");
    let names: Vec<Value> = pm.jlist().iter().map(|p| p["name"].clone()).collect();
    assert_eq!(names, ["one", "two", "two"]);
}
