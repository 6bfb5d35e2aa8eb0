//! Verbs that act on existing processes: stop, restart, reload, delete, reset, flush, kill,
//! sendSignal. Output follows pm2 line for line.

use std::path::Path;

use anyhow::{anyhow, bail, Context};
use serde_json::Value;

use super::args::TargetArgs;
use super::client::Client;
use super::inspect::inspect;
use super::Out;
use crate::config::{ecosystem, Home};
use crate::protocol::app::split_only;
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
/// names of its apps, since only the client reads those; every other target goes to the
/// daemon as typed, with the caller's cwd for relative script paths.
fn expand_targets(t: &TargetArgs, cwd: &Path) -> anyhow::Result<Vec<String>> {
    let only = t.only.as_deref().map(split_only).unwrap_or_default();
    let mut out = Vec::new();
    for target in &t.targets {
        if target == "-" {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
                .context("cannot read stdin")?;
            let v: Value =
                serde_json::from_str(&text).map_err(|e| anyhow!("invalid JSON on stdin: {e}"))?;
            let apps =
                ecosystem::from_value(v, cwd, t.env.as_deref(), &only, ecosystem::STDIN_ORIGIN)?;
            out.extend(apps.iter().map(|a| a.resolved_name()));
        } else if ecosystem::is_config_file(target)
            && crate::config::paths::resolve(cwd, target).is_file()
        {
            let apps = ecosystem::load(
                &crate::config::paths::resolve(cwd, target),
                t.env.as_deref(),
                &only,
            )?;
            out.extend(apps.iter().map(|a| a.resolved_name()));
        } else {
            out.push(target.clone());
        }
    }
    Ok(out)
}

pub fn act(home: &Home, verb: Verb, t: TargetArgs, out: &Out) -> anyhow::Result<i32> {
    if t.parallel.is_some() {
        // A reload replaces one instance at a time; the other verbs act on all at once.
        eprintln!("{}", super::tolerated::warning("--parallel"));
    }
    // Restarting from an ecosystem file re-reads it, so the apps get the file's current env.
    if matches!(verb, Verb::Restart | Verb::Reload)
        && t.targets.len() == 1
        && ecosystem::is_config_file(&t.targets[0])
    {
        let a = super::args::StartArgs {
            scripts: vec![t.targets[0].clone()],
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
    let cwd = super::caller_cwd()?;
    let targets = expand_targets(&t, Path::new(&cwd))?;
    if matches!(verb, Verb::Restart | Verb::Reload) && !t.update_env {
        out.line("Use --update-env to update environment variables");
    }
    let req = match verb {
        Verb::Stop => Request::Stop(TargetRequest {
            targets,
            cwd: Some(cwd),
        }),
        Verb::Delete => Request::Delete(TargetRequest {
            targets,
            cwd: Some(cwd),
        }),
        Verb::Reset => Request::Reset(TargetRequest {
            targets,
            cwd: Some(cwd),
        }),
        Verb::Restart | Verb::Reload => Request::Restart(RestartRequest {
            targets,
            cwd: Some(cwd),
            update_env: t.update_env.then(super::start::caller_env),
            app_env: None,
            graceful: verb == Verb::Reload,
            update: super::start::spec_update(&t.change)?,
        }),
    };
    let mut client = Client::connect(home)?;
    let procs = match client.call_ok(&req)? {
        Response::Procs { procs } => procs,
        other => bail!("unexpected answer from the daemon: {other:?}"),
    };
    let ids: Vec<Value> = procs.iter().map(|p| Value::from(p.pm_id)).collect();
    out.line(format!(
        "[PM2] Applying action {} on app [{}](ids: {})",
        verb.action(),
        t.targets.join(" "),
        inspect(&Value::Array(ids))
    ));
    for p in &procs {
        out.line(format!("[PM2] [{}]({}) ✓", p.name, p.pm_id));
        let cron = p
            .pm2_env
            .options
            .get("cron_restart")
            .and_then(Value::as_str);
        if let (Verb::Stop, Some(cron)) = (verb, cron) {
            eprintln!(
                "[PM2][WARN] App {} stopped but CRON RESTART is still UP {cron}",
                p.name
            );
        }
    }
    super::show_table(home, out)?;
    Ok(0)
}

pub fn flush(home: &Home, target: Option<String>, out: &Out) -> anyhow::Result<i32> {
    let targets = target.into_iter().collect::<Vec<_>>();
    let all = targets.is_empty();
    let mut client = Client::connect(home)?;
    let req = Request::Flush(TargetRequest {
        targets,
        cwd: Some(super::caller_cwd()?),
    });
    let procs = match client.call(&req)? {
        Response::Procs { procs } => procs,
        // pm2 says "Logs flushed" even for an unknown name.
        Response::Error { error, .. } if error.is_not_found() => Vec::new(),
        Response::Error { error, .. } => return Err(error.into()),
        other => bail!("unexpected answer from the daemon: {other:?}"),
    };
    if all {
        out.line(format!("[PM2] Flushing {}", home.daemon_log().display()));
    }
    for p in &procs {
        out.line("[PM2] Flushing:");
        for path in p.pm2_env.log_paths() {
            out.line(format!("[PM2] {path}"));
        }
    }
    out.line("[PM2] Logs flushed");
    Ok(0)
}

/// Whether a dead daemon's live state names a process that still runs (same pid, same start
/// time), which the next daemon would adopt.
fn adoptable(home: &Home) -> bool {
    let Some(state) = std::fs::read(home.live_state())
        .ok()
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
    else {
        return false;
    };
    let procs = state.get("procs").and_then(Value::as_array);
    procs.into_iter().flatten().any(|p| {
        let pid = p
            .get("pid")
            .and_then(Value::as_u64)
            .and_then(|v| u32::try_from(v).ok());
        let start = p.get("start_ticks").and_then(Value::as_u64);
        matches!((pid, start), (Some(pid), Some(start))
            if crate::sys::proc::is_live(pid) && crate::sys::proc::start_time(pid) == Some(start))
    })
}

pub fn kill(home: &Home, out: &Out) -> anyhow::Result<i32> {
    let client = match Client::connect_existing(home)? {
        Some(c) => Some(c),
        // A daemon that died left its apps running (see `daemon::live`): a daemon comes up
        // to adopt them, so that they are stopped too.
        None if adoptable(home) => Some(Client::connect(home)?),
        None => None,
    };
    let Some(mut client) = client else {
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
        let ids: Vec<Value> = procs.iter().map(|p| Value::from(p.pm_id)).collect();
        out.line(format!(
            "[PM2] Applying action deleteProcessId on app [all](ids: {})",
            inspect(&Value::Array(ids))
        ));
    }
    client.call_ok(&Request::Kill)?;
    for p in &procs {
        out.line(format!("[PM2] [{}]({}) ✓", p.name, p.pm_id));
    }
    out.line("[PM2] [v] All Applications Stopped");
    // The daemon answers before it exits; wait for it to be gone so a following command
    // starts a fresh one instead of reaching the old socket.
    if let Some(pid) = pid {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while crate::sys::proc::is_live(pid as u32) && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }
    out.line("[PM2] [v] PM2 Daemon Stopped");
    Ok(0)
}

pub fn send_signal(home: &Home, signal: &str, target: &str, out: &Out) -> anyhow::Result<i32> {
    crate::sys::signal::parse(signal).map_err(|_| anyhow!("Unknown signal: {signal}"))?;
    out.line(format!("[PM2] Sending signal to process name {target}"));
    let req = Request::SendSignal(SignalRequest {
        signal: signal.into(),
        targets: vec![target.into()],
        cwd: Some(super::caller_cwd()?),
    });
    let procs = match Client::connect(home)?.call_ok(&req)? {
        Response::Procs { procs } => procs,
        _ => Vec::new(),
    };
    for p in &procs {
        out.line(format!(
            "[PM2] successfully sent signal {signal} to process id {}",
            p.pm_id
        ));
    }
    Ok(0)
}
