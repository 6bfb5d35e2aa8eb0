//! Turning a [`ProcInfo`] into a running child: which program runs the script, the environment
//! pm2 apps expect, stdio pipes, its own process group, and Node's IPC channel on fd 3.

use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use serde_json::Value;

use super::state::{Launch, ProcInfo};
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

/// Finds `program` on `path_var` (a PATH value); absolute and relative paths are checked as is.
pub fn which(program: &str, path_var: Option<&str>) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let is_exec = |p: &Path| {
        p.metadata()
            .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false)
    };
    if program.contains('/') {
        let p = PathBuf::from(program);
        return is_exec(&p).then_some(p);
    }
    let default_path = "/usr/local/bin:/usr/bin:/bin";
    path_var
        .unwrap_or(default_path)
        .split(':')
        .filter(|d| !d.is_empty())
        .map(|d| Path::new(d).join(program))
        .find(|p| is_exec(p))
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
    let interpreter = if interpreter == "python" && which("python", path_var).is_none() {
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
    let mut env: Env = info.env.clone();
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

pub struct Spawned {
    pub child: tokio::process::Child,
    /// The parent's end of the IPC channel (Node apps only).
    pub channel: Option<OwnedFd>,
}

/// The preload every Node app gets (`--require`): fork-mode listens through the daemon's shared
/// sockets and HTTP servers drain keep-alive connections when retired (see the file). The
/// daemon writes it into its home at start, so apps do not depend on where the package lives.
pub const PRELOAD: &str = include_str!("../../lib/app-preload.js");
pub const PRELOAD_FILE: &str = "app-preload.js";

/// Starts the child in its own process group (so stop can signal the whole tree), with pipes for
/// stdio and, for Node, the IPC socketpair dup'ed onto fd 3.
/// `worker_id` makes the child a Node cluster worker (`NODE_UNIQUE_ID`) of the daemon's primary.
pub fn spawn(info: &ProcInfo, home: &Path, worker_id: Option<u32>) -> std::io::Result<Spawned> {
    let mut cmd = tokio::process::Command::new(&info.launch.program);
    let preload = home.join(PRELOAD_FILE);
    let preloaded = info.launch.is_node && preload.is_file();
    if preloaded {
        // Before the app's own node arguments, so that it sees them last.
        cmd.arg("--require").arg(&preload);
    }
    cmd.args(&info.launch.args)
        .env_clear()
        .envs(child_env(info, home))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(false);
    if let Some(cwd) = info.spec.cwd.as_deref() {
        cmd.current_dir(cwd);
    }
    let mut parent_end = None;
    if info.launch.is_node {
        let (parent, child) = crate::ipc::pair()?;
        let child_fd = child.as_raw_fd();
        cmd.env("NODE_CHANNEL_FD", "3")
            .env("NODE_CHANNEL_SERIALIZATION_MODE", "json");
        if preloaded {
            // The preload acts only in a direct child of this process (see the file).
            cmd.env("PM_NATIVE_DAEMON_PID", std::process::id().to_string());
        }
        if let Some(id) = worker_id {
            cmd.env("NODE_UNIQUE_ID", id.to_string());
        }
        // SAFETY: only async-signal-safe calls (dup2, fcntl) run between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                if child_fd == 3 {
                    let flags = libc::fcntl(3, libc::F_GETFD);
                    if flags < 0 || libc::fcntl(3, libc::F_SETFD, flags & !libc::FD_CLOEXEC) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                } else if libc::dup2(child_fd, 3) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // The socketpair was created non-blocking for the daemon; Node expects a
                // blocking descriptor it configures itself.
                let fl = libc::fcntl(3, libc::F_GETFL);
                if fl >= 0 {
                    libc::fcntl(3, libc::F_SETFL, fl & !libc::O_NONBLOCK);
                }
                libc::syscall(libc::SYS_close_range, 4u32, u32::MAX, 0u32);
                Ok(())
            });
        }
        let child_proc = cmd.spawn()?;
        // Our copy of the child's end must close, or EOF never reaches either side.
        drop(child);
        parent_end = Some(parent);
        return Ok(Spawned {
            child: child_proc,
            channel: parent_end,
        });
    }
    // SAFETY: close_range is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32);
            Ok(())
        });
    }
    let child = cmd.spawn()?;
    Ok(Spawned {
        child,
        channel: parent_end.take(),
    })
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
