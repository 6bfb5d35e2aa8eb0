//! `pm start`: a script with flags, an ecosystem file, or a JSON list on stdin. Every value is
//! checked here, before the daemon sees it, so bad input fails with one line and changes nothing.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context};
use serde_json::{Map, Value};

use super::args::{StartArgs, TargetArgs};
use super::client::Client;
use super::Out;
use crate::config::{ecosystem, Home};
use crate::protocol::{
    loose, AppSpec, ExecMode, Instances, Request, Response, RestartRequest, StartRequest,
};

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Start,
    OrRestart,
    OrReload,
}

/// The caller's environment, which apps receive on start and on `--update-env`.
pub fn caller_env() -> Map<String, Value> {
    std::env::vars()
        .map(|(k, v)| (k, Value::String(v)))
        .collect()
}

fn num(flag: &str, v: &Option<String>) -> anyhow::Result<Option<u64>> {
    v.as_deref()
        .map(|s| {
            s.trim()
                .parse::<u64>()
                .map_err(|_| anyhow!("{flag} must be a whole number of milliseconds, got \"{s}\""))
        })
        .transpose()
}

/// Builds an app from `pm start <script>` flags.
fn spec_from_flags(a: &StartArgs, script: String, cwd: &Path) -> anyhow::Result<AppSpec> {
    let mut s = AppSpec {
        script,
        name: a.name.clone(),
        ..Default::default()
    };
    s.cwd = Some(
        a.cwd
            .as_deref()
            .map(|c| crate::config::paths::resolve(cwd, c))
            .unwrap_or(cwd.to_path_buf())
            .display()
            .to_string(),
    );
    if let Some(i) = &a.instances {
        s.instances = Instances::parse(i).map_err(|e| anyhow!("--instances: {e}"))?;
    }
    if let Some(w) = &a.workload {
        crate::daemon::start_workload_check(w).map_err(|e| anyhow!("--workload: {e}"))?;
        s.workload = Some(w.clone());
    }
    s.namespace = a.namespace.clone();
    s.interpreter = a.interpreter.clone();
    if let Some(n) = &a.node_args {
        s.interpreter_args = loose::split_args(n);
    }
    s.args = a.args.clone();
    s.out_file = a.output.clone();
    s.error_file = a.error.clone();
    s.log_file = a.log.clone();
    s.pid_file = a.pid.clone();
    s.time = a.time.then_some(true);
    s.log_date_format = a.log_date_format.clone();
    if let Some(t) = &a.log_type {
        if t != "json" && t != "raw" {
            bail!("--log-type must be json or raw, got \"{t}\"");
        }
        s.log_type = Some(t.clone());
    }
    s.merge_logs = a.merge_logs.then_some(true);
    s.disable_logs = a.disable_logs.then_some(true);
    s.autorestart = a.no_autorestart.then_some(false);
    s.treekill = a.no_treekill.then_some(false);
    s.vizion = a.no_vizion.then_some(false);
    s.watch = a.watch.as_ref().map(|w| {
        if w == "true" {
            Value::Bool(true)
        } else {
            Value::from(w.split(',').map(str::to_string).collect::<Vec<_>>())
        }
    });
    if let Some(iw) = &a.ignore_watch {
        s.ignore_watch = loose::split_args(iw);
    }
    s.watch_delay = num("--watch-delay", &a.watch_delay)?;
    if let Some(m) = &a.max_memory_restart {
        s.max_memory_restart =
            Some(loose::parse_bytes(m).map_err(|e| anyhow!("--max-memory-restart: {e}"))?);
    }
    if let Some(c) = &a.cron_restart {
        crate::config::validate_cron(c).map_err(|e| anyhow!("--cron-restart: {e}"))?;
        s.cron_restart = Some(c.clone());
    }
    s.kill_timeout = num("--kill-timeout", &a.kill_timeout)?;
    s.restart_delay = num("--restart-delay", &a.restart_delay)?;
    s.exp_backoff_restart_delay = num("--exp-backoff-restart-delay", &a.exp_backoff_restart_delay)?;
    s.max_restarts = a
        .max_restarts
        .as_deref()
        .map(|v| {
            v.trim()
                .parse::<u64>()
                .map_err(|_| anyhow!("--max-restarts must be a whole number, got \"{v}\""))
        })
        .transpose()?;
    if let Some(m) = &a.min_uptime {
        s.min_uptime = Some(loose::parse_duration_ms(m).map_err(|e| anyhow!("--min-uptime: {e}"))?);
    }
    for c in &a.stop_exit_codes {
        for part in c.split(',').filter(|p| !p.trim().is_empty()) {
            s.stop_exit_codes.push(
                part.trim()
                    .parse()
                    .map_err(|_| anyhow!("--stop-exit-codes: \"{part}\" is not an exit code"))?,
            );
        }
    }
    s.wait_ready = a.wait_ready.then_some(true);
    s.listen_timeout = num("--listen-timeout", &a.listen_timeout)?;
    s.shutdown_with_message = a.shutdown_with_message.then_some(true);
    if let Some(sig) = &a.kill_signal {
        crate::supervisor::signal::parse(sig).map_err(|e| anyhow!("--kill-signal: {e}"))?;
        s.kill_signal = Some(sig.clone());
    }
    s.instance_var = a.instance_var.clone();
    if a.execute_command {
        s.interpreter = Some("none".into());
    }
    Ok(s)
}

/// Resolves the script argument to an existing regular file (or a command on PATH).
fn resolve_script(script: &str, cwd: &Path) -> anyhow::Result<String> {
    let full = crate::config::paths::resolve(cwd, script);
    if full.exists() {
        if !full.is_file() {
            bail!("Script is not a regular file: {}", full.display());
        }
        return Ok(full.display().to_string());
    }
    if !script.contains('/') {
        if let Some(p) =
            crate::supervisor::spawn::which(script, std::env::var("PATH").ok().as_deref())
        {
            return Ok(p.display().to_string());
        }
    }
    bail!("Script not found: {}", full.display())
}

/// pm2: `pm start web` restarts the app named `web` (or id, or namespace) when no such file exists.
fn looks_like_target(script: &str, cwd: &Path) -> bool {
    !crate::config::paths::resolve(cwd, script).exists()
        && !script.contains('/')
        && Path::new(script).extension().is_none()
}

fn load_apps(a: &StartArgs, cwd: &Path) -> anyhow::Result<Option<Vec<AppSpec>>> {
    let only: Vec<String> = a
        .only
        .as_deref()
        .map(|o| {
            o.split([',', ' '])
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    if a.script == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read stdin")?;
        let v: Value =
            serde_json::from_str(&text).map_err(|e| anyhow!("invalid JSON on stdin: {e}"))?;
        return Ok(Some(ecosystem::from_value(
            v,
            cwd,
            a.env.as_deref(),
            &only,
            ecosystem::STDIN_ORIGIN,
        )?));
    }
    if ecosystem::is_config_file(&a.script) {
        let path = crate::config::paths::resolve(cwd, &a.script);
        if !path.exists() {
            bail!("File {} not found", path.display());
        }
        return Ok(Some(ecosystem::load(&path, a.env.as_deref(), &only)?));
    }
    Ok(None)
}

pub fn start(home: &Home, a: StartArgs, mode: Mode, out: &Out) -> anyhow::Result<i32> {
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let from_file = load_apps(&a, &cwd)?;
    let is_file = from_file.is_some();
    let mut apps = match from_file {
        Some(apps) => apps,
        None => {
            if looks_like_target(&a.script, &cwd)
                && super::list(home)?.iter().any(|p| {
                    p["name"] == a.script.as_str()
                        || crate::cli::is_id(&p["pm_id"], &a.script)
                        || p["pm2_env"]["namespace"] == a.script.as_str()
                })
            {
                let t = TargetArgs {
                    targets: vec![a.script.clone()],
                    update_env: a.update_env,
                    env: None,
                    only: None,
                };
                return super::actions::act(home, super::actions::Verb::Restart, t, out);
            }
            let script = resolve_script(&a.script, &cwd)?;
            vec![spec_from_flags(&a, script, &cwd)?]
        }
    };
    for app in &mut apps {
        crate::config::apply_env_defaults(app);
        if app.cwd.is_none() {
            app.cwd = Some(cwd.display().to_string());
        }
        if is_file {
            if let Some(ns) = &a.namespace {
                app.namespace = Some(ns.clone());
            }
            let script_path = PathBuf::from(&app.script);
            if !script_path.is_file() && !app.script.contains(' ') {
                bail!("Script not found: {}", script_path.display());
            }
        }
    }
    let env = caller_env();
    let mut client = Client::connect(home)?;
    let mut to_start = Vec::new();
    // pm2 starts an ecosystem file by restarting the apps that already run and starting the rest.
    if mode != Mode::Start || is_file {
        let running = super::list(home)?;
        for app in apps {
            let name = app.resolved_name();
            if running.iter().any(|p| p["name"] == name.as_str()) {
                let req = Request::Restart(RestartRequest {
                    targets: vec![name.clone()],
                    update_env: Some(env.clone()),
                    app_env: is_file.then(|| app.env.clone()),
                    graceful: mode == Mode::OrReload,
                });
                if let Response::Procs { procs } = client.call_ok(&req)? {
                    let ids = Value::Array(procs.iter().map(|p| p["pm_id"].clone()).collect());
                    out.line(format!(
                        "[PM2] Applying action restartProcessId on app [{name}](ids: {})",
                        super::inspect::inspect(&ids)
                    ));
                    for p in &procs {
                        out.line(format!("[PM2] [{name}]({}) ✓", p["pm_id"]));
                    }
                }
            } else {
                to_start.push(app);
            }
        }
    } else {
        to_start = apps;
    }
    if !to_start.is_empty() {
        if is_file {
            let names: Vec<String> = to_start.iter().map(|a| a.resolved_name()).collect();
            out.line(format!(
                "[PM2][WARN] Applications {} not running, starting...",
                names.join(", ")
            ));
        }
        let req = Request::Start(StartRequest {
            apps: to_start.clone(),
            env,
            force: a.force,
        });
        let procs = match client.call_ok(&req)? {
            Response::Procs { procs } => procs,
            other => bail!("unexpected answer from the daemon: {other:?}"),
        };
        for app in &to_start {
            let name = app.resolved_name();
            let mine: Vec<&Value> = procs
                .iter()
                .filter(|p| p["name"] == name.as_str())
                .collect();
            let n = mine.len();
            if is_file {
                out.line(format!("[PM2] App [{name}] launched ({n} instances)"));
            } else {
                let mode = mine
                    .first()
                    .and_then(|p| p["pm2_env"]["exec_mode"].as_str())
                    .unwrap_or(ExecMode::Fork.as_str());
                out.line(format!(
                    "[PM2] Starting {} in {mode} ({n} instance{})",
                    app.script,
                    if n > 1 { "s" } else { "" }
                ));
                out.line("[PM2] Done.");
            }
        }
    }
    super::show_table(home, out)?;
    Ok(0)
}

/// `pm resurrect`: starts the apps `pm save` wrote, each with the environment it had.
pub fn resurrect(home: &Home, out: &Out) -> anyhow::Result<i32> {
    let path = home.dump_file();
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {} (run pm save first)", path.display()))?;
    let records: Vec<Value> = serde_json::from_str(&text)
        .map_err(|e| anyhow!("{} is not a valid dump: {e}", path.display()))?;
    out.line(format!("[PM2] Resurrecting from {}", path.display()));
    let mut client = Client::connect(home)?;
    for r in records {
        let spec: AppSpec = serde_json::from_value(r["spec"].clone())
            .map_err(|e| anyhow!("{}: bad app record: {e}", path.display()))?;
        let env = r["env"].as_object().cloned().unwrap_or_default();
        let name = spec.resolved_name();
        match client.call(&Request::Start(StartRequest {
            apps: vec![spec],
            env,
            force: false,
        }))? {
            Response::Error { message } => out.line(format!("[PM2][WARN] {name}: {message}")),
            _ => out.line(format!("[PM2] Restored {name}")),
        }
    }
    super::show_table(home, out)?;
    Ok(0)
}
