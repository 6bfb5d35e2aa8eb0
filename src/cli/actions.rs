//! Verbs that act on existing processes: stop, restart, reload, delete, reset, flush, kill,
//! sendSignal. Output follows pm2 line for line.

use anyhow::{anyhow, bail, Context};
use serde_json::Value;

use super::args::TargetArgs;
use super::client::Client;
use super::inspect::inspect;
use super::Out;
use crate::config::{ecosystem, Home};
use crate::protocol::{Request, Response, RestartRequest, SignalRequest, TargetRequest};

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Stop,
    Restart,
    Reload,
    Delete,
    Reset,
}

impl Verb {
    fn action(self) -> &'static str {
        match self {
            Verb::Stop => "stopProcessId",
            Verb::Restart => "restartProcessId",
            Verb::Reload => "reloadProcessId",
            Verb::Delete => "deleteProcessId",
            Verb::Reset => "resetMetaProcessId",
        }
    }
}

/// Turns CLI targets into daemon targets: an ecosystem file or `-` (JSON on stdin) becomes the
/// names of its apps; a path becomes absolute, since the daemon's working directory is `/`.
fn expand_targets(t: &TargetArgs) -> anyhow::Result<Vec<String>> {
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let only: Vec<String> = t
        .only
        .as_deref()
        .map(|o| o.split(',').map(str::to_string).collect())
        .unwrap_or_default();
    let mut out = Vec::new();
    for target in &t.targets {
        if target == "-" {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
                .context("cannot read stdin")?;
            let v: Value =
                serde_json::from_str(&text).map_err(|e| anyhow!("invalid JSON on stdin: {e}"))?;
            let apps =
                ecosystem::from_value(v, &cwd, t.env.as_deref(), &only, ecosystem::STDIN_ORIGIN)?;
            out.extend(apps.iter().map(|a| a.resolved_name()));
        } else if ecosystem::is_config_file(target)
            && crate::config::paths::resolve(&cwd, target).is_file()
        {
            let apps = ecosystem::load(
                &crate::config::paths::resolve(&cwd, target),
                t.env.as_deref(),
                &only,
            )?;
            out.extend(apps.iter().map(|a| a.resolved_name()));
        } else if target.contains('/')
            && !(target.starts_with('/') && target.ends_with('/') && target.len() > 1)
        {
            out.push(
                crate::config::paths::resolve(&cwd, target)
                    .display()
                    .to_string(),
            );
        } else {
            out.push(target.clone());
        }
    }
    Ok(out)
}

pub fn act(home: &Home, verb: Verb, t: TargetArgs, out: &Out) -> anyhow::Result<i32> {
    // Restarting from an ecosystem file re-reads it, so the apps get the file's current env.
    if matches!(verb, Verb::Restart | Verb::Reload)
        && t.targets.len() == 1
        && ecosystem::is_config_file(&t.targets[0])
    {
        let a = super::args::StartArgs {
            script: t.targets[0].clone(),
            env: t.env.clone(),
            only: t.only.clone(),
            update_env: true,
            ..Default::default()
        };
        let mode = if verb == Verb::Reload {
            super::start::Mode::OrReload
        } else {
            super::start::Mode::OrRestart
        };
        return super::start::start(home, a, mode, out);
    }
    let targets = expand_targets(&t)?;
    if matches!(verb, Verb::Restart | Verb::Reload) && !t.update_env {
        out.line("Use --update-env to update environment variables");
    }
    let req = match verb {
        Verb::Stop => Request::Stop(TargetRequest {
            targets: targets.clone(),
        }),
        Verb::Delete => Request::Delete(TargetRequest {
            targets: targets.clone(),
        }),
        Verb::Reset => Request::Reset(TargetRequest {
            targets: targets.clone(),
        }),
        Verb::Restart | Verb::Reload => Request::Restart(RestartRequest {
            targets: targets.clone(),
            update_env: t.update_env.then(super::start::caller_env),
            app_env: None,
            graceful: verb == Verb::Reload,
        }),
    };
    let mut client = Client::connect(home)?;
    let procs = match client.call_ok(&req)? {
        Response::Procs { procs } => procs,
        other => bail!("unexpected answer from the daemon: {other:?}"),
    };
    let ids: Vec<Value> = procs.iter().map(|p| p["pm_id"].clone()).collect();
    out.line(format!(
        "[PM2] Applying action {} on app [{}](ids: {})",
        verb.action(),
        t.targets.join(" "),
        inspect(&Value::Array(ids))
    ));
    for p in &procs {
        out.line(format!(
            "[PM2] [{}]({}) ✓",
            p["name"].as_str().unwrap_or(""),
            p["pm_id"]
        ));
    }
    super::show_table(home, out)?;
    Ok(0)
}

pub fn flush(home: &Home, target: Option<String>, out: &Out) -> anyhow::Result<i32> {
    let targets = target.into_iter().collect::<Vec<_>>();
    let all = targets.is_empty();
    let mut client = Client::connect(home)?;
    let procs = match client.call(&Request::Flush(TargetRequest { targets }))? {
        Response::Procs { procs } => procs,
        // pm2 says "Logs flushed" even for an unknown name.
        Response::Error { .. } => Vec::new(),
        other => bail!("unexpected answer from the daemon: {other:?}"),
    };
    if all {
        out.line(format!("[PM2] Flushing {}", home.daemon_log().display()));
    }
    for p in &procs {
        out.line("[PM2] Flushing:");
        for key in ["pm_out_log_path", "pm_err_log_path", "pm_log_path"] {
            if let Some(path) = p["pm2_env"][key].as_str() {
                out.line(format!("[PM2] {path}"));
            }
        }
    }
    out.line("[PM2] Logs flushed");
    Ok(0)
}

pub fn kill(home: &Home, out: &Out) -> anyhow::Result<i32> {
    let Some(mut client) = Client::connect_existing(home)? else {
        out.line("[PM2] [v] All Applications Stopped");
        out.line("[PM2] [v] PM2 Daemon Stopped");
        return Ok(0);
    };
    let pid = std::fs::read_to_string(home.pid_file())
        .ok()
        .and_then(|s| s.trim().parse::<i32>().ok());
    let procs = match client.call_ok(&Request::List)? {
        Response::Procs { procs } => procs,
        _ => Vec::new(),
    };
    if !procs.is_empty() {
        let ids: Vec<Value> = procs.iter().map(|p| p["pm_id"].clone()).collect();
        out.line(format!(
            "[PM2] Applying action deleteProcessId on app [all](ids: {})",
            inspect(&Value::Array(ids))
        ));
    }
    client.call_ok(&Request::Kill)?;
    for p in &procs {
        out.line(format!(
            "[PM2] [{}]({}) ✓",
            p["name"].as_str().unwrap_or(""),
            p["pm_id"]
        ));
    }
    out.line("[PM2] [v] All Applications Stopped");
    // The daemon answers before it exits; wait for it to be gone so a following command
    // starts a fresh one instead of reaching the old socket.
    if let Some(pid) = pid {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while crate::metrics::is_live(pid as u32) && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }
    out.line("[PM2] [v] PM2 Daemon Stopped");
    Ok(0)
}

pub fn send_signal(home: &Home, signal: &str, target: &str, out: &Out) -> anyhow::Result<i32> {
    crate::supervisor::signal::parse(signal).map_err(|_| anyhow!("Unknown signal: {signal}"))?;
    out.line(format!("[PM2] Sending signal to process name {target}"));
    let req = Request::SendSignal(SignalRequest {
        signal: signal.into(),
        targets: vec![target.into()],
    });
    let procs = match Client::connect(home)?.call_ok(&req)? {
        Response::Procs { procs } => procs,
        _ => Vec::new(),
    };
    for p in &procs {
        out.line(format!(
            "[PM2] successfully sent signal {signal} to process id {}",
            p["pm_id"]
        ));
    }
    Ok(0)
}
