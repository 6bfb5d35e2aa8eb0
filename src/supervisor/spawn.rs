//! Turning a [`ProcInfo`] into a running child: which program runs the script and the
//! environment pm2 apps expect; the process core ([`crate::process`]) does the spawning.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use serde_json::Value;

use super::state::{Launch, ProcInfo};
use crate::process::{self, Spawned};
use crate::protocol::{AppSpec, Env};

/// pm2's extension table (`Common.js`, `getInterpreter`), plus `python3` where no `python` exists.
fn interpreter_for_extension(ext: &str) -> Option<&'static str> {
    Some(match ext {
        "js" | "cjs" | "mjs" | "jsx" | "es6" | "es" => "node",
        "ts" | "tsx" => "bun",
        "sh" => "bash",
        "py" => "python",
        "rb" => "ruby",
        "php" => "php",
        "pl" => "perl",
        "coffee" => "coffee",
        "ls" => "lsc",
        _ => return None,
    })
}

/// Decides how to run a script, as pm2 does: an explicit interpreter, else by extension, else
/// by the file's first bytes (a shebang or a binary runs directly), else Node.
pub fn resolve_launch(spec: &AppSpec, path_var: Option<&str>) -> Launch {
    let script = spec.script.clone();
    let interpreter = match spec.interpreter.as_deref().filter(|s| !s.is_empty()) {
        Some(i) => i.to_string(),
        None => {
            let ext = Path::new(&script)
                .extension()
                .and_then(|e| e.to_str())
                .unwrap_or("");
            match interpreter_for_extension(ext) {
                Some(i) => i.to_string(),
                None => sniff(Path::new(&script)),
            }
        }
    };
    let interpreter =
        if interpreter == "python" && crate::sys::which::which("python", path_var).is_none() {
            "python3".to_string()
        } else {
            interpreter
        };
    let is_node = interpreter == "node" || interpreter.ends_with("/node");
    if interpreter == "none" {
        return Launch {
            interpreter,
            program: script,
            args: spec.args.clone(),
            is_node: false,
        };
    }
    let mut args = spec.interpreter_args.clone();
    // pm2 loads the source-map-support package for this; Node has it built in.
    let maps = "--enable-source-maps".to_string();
    if is_node && spec.source_map_support == Some(true) && !args.contains(&maps) {
        args.push(maps);
    }
    args.push(script);
    args.extend(spec.args.iter().cloned());
    Launch {
        program: interpreter.clone(),
        interpreter,
        args,
        is_node,
    }
}

fn sniff(path: &Path) -> String {
    let mut head = [0u8; 128];
    let n = std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .unwrap_or(0);
    let head = &head[..n];
    if head.starts_with(b"\x7fELF") {
        return "none".into();
    }
    if head.starts_with(b"#!") {
        let first = head.split(|b| *b == b'\n').next().unwrap_or(head);
        if String::from_utf8_lossy(first).contains("node") {
            return "node".into();
        }
        return "none".into();
    }
    "node".into()
}

/// JavaScript's `String(value)` for env values, which is what pm2 puts in the environment.
pub fn env_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        other => other.to_string(),
    }
}

/// The child's environment: the caller's, then the app's `env`, then pm2's variables, taken
/// from an explicit list rather than pm2's habit of copying its whole internal state.
pub fn child_env(info: &ProcInfo, home: &Path) -> Vec<(String, String)> {
    let mut env: Env = (*info.env).clone();
    if let Some(filter) = &info.spec.filter_env {
        env.retain(|k, _| filter.keeps(k));
    }
    for (k, v) in &info.spec.env {
        env.insert(k.clone(), v.clone());
    }
    let home = home.display().to_string();
    let instance_var = info
        .spec
        .instance_var
        .clone()
        .unwrap_or_else(|| "NODE_APP_INSTANCE".into());
    let opt_path = |p: &Option<PathBuf>| {
        p.as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "/dev/null".into())
    };
    let pm2: Vec<(String, Value)> = vec![
        ("name".into(), info.name.clone().into()),
        ("namespace".into(), info.namespace.clone().into()),
        ("pm_id".into(), info.pm_id.into()),
        (instance_var, info.instance.into()),
        ("unique_id".into(), info.unique_id.clone().into()),
        ("status".into(), "launching".into()),
        ("exec_mode".into(), info.spec.exec_mode().as_str().into()),
        (
            "exec_interpreter".into(),
            info.launch.interpreter.clone().into(),
        ),
        ("pm_exec_path".into(), info.spec.script.clone().into()),
        (
            "pm_cwd".into(),
            info.spec.cwd.clone().unwrap_or_default().into(),
        ),
        ("pm_out_log_path".into(), opt_path(&info.paths.out).into()),
        ("pm_err_log_path".into(), opt_path(&info.paths.err).into()),
        (
            "pm_pid_path".into(),
            info.paths.pid.display().to_string().into(),
        ),
        ("restart_time".into(), info.restart_time.into()),
        ("unstable_restarts".into(), info.unstable_restarts.into()),
        ("created_at".into(), info.created_at.into()),
        ("pm_uptime".into(), super::state::now_ms().into()),
        ("PM2_HOME".into(), home.clone().into()),
        ("PM_HOME".into(), home.into()),
        ("PM2_USAGE".into(), "CLI".into()),
    ];
    for (k, v) in pm2 {
        env.insert(k, v);
    }
    // Checked at start; worker.js's handle() consumes it.
    if let Ok(Some(q)) = crate::queue::app::parse(&info.spec) {
        env.insert(
            crate::queue::app::ENV.into(),
            Value::String(Value::Object(q.options).to_string()),
        );
    }
    if let Some(inc) = info.spec.increment_var.as_deref() {
        let base = env
            .get(inc)
            .map(env_string)
            .and_then(|s| s.parse::<i64>().ok())
            .unwrap_or(0);
        env.insert(inc.to_string(), (base + info.instance as i64).into());
    }
    env.into_iter()
        .map(|(k, v)| (k.clone(), env_string(&v)))
        .collect()
}

/// Who the app runs as: pm2's `uid` (or `user`) and `gid`, names or numbers; `None` for the
/// daemon's own user.
pub fn identity(spec: &AppSpec) -> Result<Option<crate::sys::user::Identity>, String> {
    let text = |k: &str| match spec.extra.get(k) {
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        None | Some(Value::Null) => Ok(None),
        Some(other) => Err(format!(
            "{k} must be a user or group name or number, got {other}"
        )),
    };
    crate::sys::user::resolve(text("uid")?.as_deref(), text("gid")?.as_deref())
}

/// The preload every Node app gets (`--require`): fork-mode listens through the daemon's shared
/// sockets and HTTP servers drain keep-alive connections when retired (see the file). The
/// daemon writes it into its home at start, so apps do not depend on where the package lives.
pub const PRELOAD: &str = include_str!("../../lib/app-preload.js");
pub const PRELOAD_FILE: &str = "app-preload.js";

/// The code-metrics sampler the preload requires from beside itself (`lib/app-metrics.js`).
pub const APP_METRICS: &str = include_str!("../../lib/app-metrics.js");
pub const APP_METRICS_FILE: &str = "app-metrics.js";

/// pm2's static file server (`pm serve`, `script: "serve"`), written into the home beside the
/// preload so a saved app that uses it finds it after an upgrade too.
pub const SERVE: &str = include_str!("../../lib/serve.js");

/// Starts the child through the process core: its own process group (so stop can signal the
/// whole tree), pipes for stdio and, for Node, the IPC channel on fd 3.
/// `worker_id` makes the child a Node cluster worker (`NODE_UNIQUE_ID`) of the daemon's primary.
pub fn spawn(info: &ProcInfo, home: &Path, worker_id: Option<u32>) -> std::io::Result<Spawned> {
    let mut cmd = process::Command::new(&info.launch.program);
    let who = identity(&info.spec).map_err(std::io::Error::other)?;
    // The home is the daemon user's alone (0700): an app run as another user reads the
    // preload from a copy it can reach. Without one it runs without the preload (as when the
    // home's copy cannot be written).
    let preload = match &who {
        Some(id) if info.launch.is_node && id.uid != nix::unistd::geteuid().as_raw() => {
            match super::shared::dir(home) {
                Ok(d) => d.join(PRELOAD_FILE),
                Err(e) => {
                    elog!("{}: runs without the app preload: {e}", info.shown_name());
                    PathBuf::new()
                }
            }
        }
        _ => home.join(PRELOAD_FILE),
    };
    let preloaded = info.launch.is_node && preload.is_file();
    if preloaded {
        // Before the app's own node arguments, so that it sees them last.
        cmd.arg("--require").arg(&preload);
    }
    cmd.args(&info.launch.args)
        .envs(child_env(info, home))
        .stdio(Stdio::piped(), Stdio::piped(), Stdio::piped());
    if let Some(cwd) = info.spec.cwd.as_deref() {
        cmd.cwd(cwd);
    }
    if let Some(id) = who {
        if let Some(name) = &id.name {
            cmd.env("USER", name).env("LOGNAME", name);
        }
        if let Some(dir) = &id.home {
            cmd.env("HOME", dir);
        }
        cmd.identity(id);
    }
    if info.launch.is_node {
        cmd.channel();
        if preloaded {
            // The preload acts only in a direct child of this process (see the file).
            cmd.env("PM_NATIVE_DAEMON_PID", std::process::id().to_string());
        }
        if let Some(id) = worker_id {
            cmd.env("NODE_UNIQUE_ID", id.to_string());
        }
    }
    cmd.spawn()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(script: &str) -> AppSpec {
        AppSpec {
            script: script.into(),
            ..Default::default()
        }
    }

    #[test]
    fn picks_interpreters_like_pm2() {
        let path = std::env::var("PATH").ok();
        assert_eq!(
            resolve_launch(&spec("/x/app.js"), path.as_deref()).interpreter,
            "node"
        );
        assert_eq!(
            resolve_launch(&spec("/x/run.sh"), path.as_deref()).interpreter,
            "bash"
        );
        let py = resolve_launch(&spec("/x/a.py"), path.as_deref()).interpreter;
        assert!(py == "python" || py == "python3", "{py}");
        let mut s = spec("/x/app.js");
        s.interpreter = Some("none".into());
        s.args = vec!["a".into()];
        let l = resolve_launch(&s, path.as_deref());
        assert_eq!(
            (l.program.as_str(), l.args.clone()),
            ("/x/app.js", vec!["a".to_string()])
        );
        let mut s = spec("/x/app.js");
        s.interpreter_args = vec!["--inspect".into()];
        s.args = vec!["--port".into(), "1".into()];
        assert_eq!(
            resolve_launch(&s, path.as_deref()).args,
            vec!["--inspect", "/x/app.js", "--port", "1"]
        );
    }

    #[test]
    fn sniffs_shebangs() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sh = dir.path().join("tool");
        std::fs::write(&sh, "#!/bin/sh\necho hi\n").expect("write");
        assert_eq!(
            resolve_launch(&spec(sh.to_str().expect("utf8")), None).interpreter,
            "none"
        );
        let js = dir.path().join("server");
        std::fs::write(&js, "#!/usr/bin/env node\nconsole.log(1)\n").expect("write");
        assert_eq!(
            resolve_launch(&spec(js.to_str().expect("utf8")), None).interpreter,
            "node"
        );
    }

    #[test]
    fn env_strings_match_javascript() {
        assert_eq!(env_string(&Value::from(3)), "3");
        assert_eq!(env_string(&Value::from(true)), "true");
        assert_eq!(env_string(&Value::from("x")), "x");
        assert_eq!(env_string(&serde_json::json!({"a": 1})), "{\"a\":1}");
    }
}
