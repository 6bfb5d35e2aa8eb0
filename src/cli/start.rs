//! `pm start`: a script with flags, an ecosystem file, or a JSON list on stdin. Every value is
//! checked here, before the daemon sees it, so bad input fails with one line and changes nothing.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context};
use serde_json::{Map, Value};

use super::args::{ChangeArgs, StartArgs};
use super::client::Client;
use super::Out;
use crate::config::{ecosystem, Home};
use crate::protocol::app::FilterEnv;
use crate::protocol::{
    loose, AppReport, AppSpec, ApplyRequest, ExecMode, Instances, OnExisting, Outcome, Request,
    Response, SpecUpdate,
};
use crate::sys::words;

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

/// `--filter-env`: each value a string a dropped variable's name contains; given bare, none of
/// the caller's variables are passed on.
fn filter_env_flag(values: &[String]) -> Option<FilterEnv> {
    if values.is_empty() {
        None
    } else if values.iter().any(String::is_empty) {
        Some(FilterEnv::All(true))
    } else {
        Some(FilterEnv::Containing(values.to_vec()))
    }
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
        crate::sys::workload::workload_instances(w, 1).map_err(|e| anyhow!("--workload: {e}"))?;
        s.workload = Some(w.clone());
    }
    s.namespace = a.namespace.clone();
    s.interpreter = a.interpreter.clone();
    if let Some(n) = &a.node_args {
        s.interpreter_args = words::split(n).map_err(|e| anyhow!("--node-args: {e}"))?;
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
    s.autostart = a.no_autostart.then_some(false);
    s.source_map_support = match (a.source_map_support, a.no_source_map_support) {
        (true, _) => Some(true),
        (false, true) => Some(false),
        (false, false) => None,
    };
    s.filter_env = filter_env_flag(&a.filter_env);
    s.watch = a.watch.as_ref().map(|w| {
        if w == "true" {
            Value::Bool(true)
        } else {
            Value::from(w.split(',').map(str::to_string).collect::<Vec<_>>())
        }
    });
    if let Some(iw) = &a.ignore_watch {
        s.ignore_watch = words::split(iw).map_err(|e| anyhow!("--ignore-watch: {e}"))?;
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
        crate::sys::signal::parse(sig).map_err(|e| anyhow!("--kill-signal: {e}"))?;
        s.kill_signal = Some(sig.clone());
    }
    s.instance_var = a.instance_var.clone();
    // pm2's `-x`: "execute a program using fork system", the interpreter stays as it is.
    if a.execute_command {
        s.exec_mode = Some(ExecMode::Fork);
    }
    Ok(s)
}

/// The options a restart changes, from `restart` / `reload` flags or from the flags of a start
/// that restarts. Values are checked here, so a bad one fails before anything restarts.
pub fn spec_update(c: &ChangeArgs) -> anyhow::Result<SpecUpdate> {
    let mut u = SpecUpdate {
        toggle_watch: c.watch,
        ..Default::default()
    };
    if let Some(n) = &c.name {
        if n.trim().is_empty() {
            bail!("--name must not be empty");
        }
        u.fields.insert("name".into(), n.clone().into());
    }
    if let Some(n) = &c.node_args {
        let args = match n.as_str() {
            "null" | "" => Vec::new(),
            n => words::split(n).map_err(|e| anyhow!("--node-args: {e}"))?,
        };
        u.fields
            .insert("node_args_cleared".into(), (n == "null").into());
        u.fields.insert("interpreter_args".into(), args.into());
    }
    if let Some(cron) = &c.cron_restart {
        let v = match cron.as_str() {
            "0" | "null" | "" => Value::Null,
            p => {
                crate::config::validate_cron(p).map_err(|e| anyhow!("--cron-restart: {e}"))?;
                p.into()
            }
        };
        u.fields.insert("cron_restart".into(), v);
    }
    if let Some(m) = &c.max_memory_restart {
        let bytes = loose::parse_bytes(m).map_err(|e| anyhow!("--max-memory-restart: {e}"))?;
        u.fields.insert("max_memory_restart".into(), bytes.into());
    }
    if let Some(f) = &c.log_date_format {
        u.fields.insert("log_date_format".into(), f.clone().into());
    }
    Ok(u)
}

/// The change flags of `pm start`, for a start that turns into a restart.
fn start_changes(a: &StartArgs) -> ChangeArgs {
    ChangeArgs {
        name: a.name.clone(),
        node_args: a.node_args.clone(),
        watch: a.watch.is_some(),
        cron_restart: a.cron_restart.clone(),
        max_memory_restart: a.max_memory_restart.clone(),
        log_date_format: a.log_date_format.clone(),
    }
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
    if script.contains(' ') {
        // A command line: the daemon runs it with `bash -c`, as pm2.
        return Ok(script.to_string());
    }
    if !script.contains('/') {
        if let Some(p) = crate::sys::which::which(script, std::env::var("PATH").ok().as_deref()) {
            return Ok(p.display().to_string());
        }
    }
    bail!("Script not found: {}", full.display())
}

/// `pm start web` may mean the processes called `web` (which ones is the daemon's rule): a word
/// with no file of that name, no `/` and no extension, as pm2's `_startScript` tells them apart.
fn looks_like_word(script: &str, cwd: &Path) -> bool {
    !crate::config::paths::resolve(cwd, script).exists()
        && !script.contains('/')
        && Path::new(script).extension().is_none()
}

fn load_apps(a: &StartArgs, cwd: &Path) -> anyhow::Result<Option<Vec<AppSpec>>> {
    let only = a
        .only
        .as_deref()
        .map(crate::protocol::app::split_only)
        .unwrap_or_default();
    if a.script() == "-" {
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
    if ecosystem::is_config_file(a.script()) {
        let path = crate::config::paths::resolve(cwd, a.script());
        if !path.exists() {
            bail!("File {} not found", path.display());
        }
        return Ok(Some(ecosystem::load(&path, a.env.as_deref(), &only)?));
    }
    Ok(None)
}

pub fn start(home: &Home, a: StartArgs, mode: Mode, out: &Out) -> anyhow::Result<i32> {
    // pm2 starts several scripts one after another, stopping at the first that fails.
    if a.scripts.len() > 1 {
        for script in &a.scripts {
            let one = StartArgs {
                scripts: vec![script.clone()],
                ..a.clone()
            };
            start_one(home, &one, mode, out)?;
        }
    } else {
        start_one(home, &a, mode, out)?;
    }
    super::show_table(home, out)?;
    Ok(0)
}

/// `--secret KEY` names joined to the app's own `secrets` list (each once).
fn add_secrets(app: &mut AppSpec, flags: &[String]) {
    if flags.is_empty() {
        return;
    }
    let key = crate::protocol::secret::OPTION;
    let mut names: Vec<String> = crate::protocol::secret::Secrets::listed(app.extra.get(key))
        .into_iter()
        .map(str::to_string)
        .collect();
    for f in flags {
        if !names.contains(f) {
            names.push(f.clone());
        }
    }
    app.extra.insert(key.into(), Value::from(names));
}

fn start_one(home: &Home, a: &StartArgs, mode: Mode, out: &Out) -> anyhow::Result<()> {
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let from_file = load_apps(a, &cwd)?;
    let is_file = from_file.is_some();
    let word = (!is_file && looks_like_word(a.script(), &cwd)).then(|| a.script().to_string());
    // A word that names processes restarts them without a script, so a script that cannot be
    // found (or bad flags) only matter once the daemon says the word names nothing.
    let apps = match from_file {
        Some(apps) => Ok(apps),
        None => resolve_script(a.script(), &cwd)
            .and_then(|script| spec_from_flags(a, script, &cwd))
            .map(|app| vec![app]),
    };
    let (mut apps, build_err) = match apps {
        Ok(apps) => (apps, None),
        Err(e) if word.is_some() => (Vec::new(), Some(e)),
        Err(e) => return Err(e),
    };
    for app in &mut apps {
        add_secrets(app, &a.secret);
        for (key, flag) in [("uid", &a.uid), ("gid", &a.gid)] {
            if let Some(v) = flag {
                app.extra.insert(key.into(), Value::String(v.clone()));
            }
        }
    }
    super::tolerated::apps(&mut apps, a.env.as_deref());
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
            if !script_path.is_file()
                && !app.script.contains(' ')
                && app.script != ecosystem::SERVE_SCRIPT
            {
                bail!("Script not found: {}", script_path.display());
            }
        }
    }
    let req = Request::Apply(ApplyRequest {
        apps: apps.clone(),
        env: caller_env(),
        force: a.force,
        on_existing: match mode {
            Mode::Start => OnExisting::Start,
            Mode::OrRestart => OnExisting::Restart,
            Mode::OrReload => OnExisting::Reload,
        },
        from_file: is_file,
        word: word.clone(),
        update_env: a.update_env,
        // Only for apps that run already; new ones take the flags as their spec.
        update: match is_file {
            false => spec_update(&start_changes(a))?,
            true => SpecUpdate::default(),
        },
    });
    let reports = match Client::connect(home)?.call_ok(&req)? {
        Response::Applied { apps } => apps,
        other => bail!("unexpected answer from the daemon: {other:?}"),
    };
    if let Some(e) = build_err.filter(|_| reports.iter().any(|r| r.outcome == Outcome::Skipped)) {
        return Err(e);
    }
    let script = apps.first().map(|app| app.script.as_str()).unwrap_or("");
    print_reports(
        &reports,
        script,
        is_file,
        word.is_some() && !a.update_env,
        out,
    );
    Ok(())
}

/// pm2's lines for what the daemon did: restarts first, then the apps it had to start.
pub(super) fn print_reports(
    reports: &[AppReport],
    script: &str,
    is_file: bool,
    immutable_env: bool,
    out: &Out,
) {
    for r in reports.iter().filter(|r| r.outcome == Outcome::Restarted) {
        if immutable_env {
            out.line("Use --update-env to update environment variables");
        }
        let ids = Value::Array(r.procs.iter().map(|p| Value::from(p.pm_id)).collect());
        out.line(format!(
            "[PM2] Applying action restartProcessId on app [{}](ids: {})",
            r.name,
            super::inspect::inspect(&ids)
        ));
        for p in &r.procs {
            out.line(format!("[PM2] [{}]({}) ✓", p.name, p.pm_id));
        }
    }
    let started: Vec<&AppReport> = reports
        .iter()
        .filter(|r| r.outcome == Outcome::Started)
        .collect();
    if is_file && !started.is_empty() {
        let names: Vec<&str> = started.iter().map(|r| r.name.as_str()).collect();
        out.line(format!(
            "[PM2][WARN] Applications {} not running, starting...",
            names.join(", ")
        ));
    }
    for r in started {
        let n = r.procs.len();
        if is_file {
            out.line(format!("[PM2] App [{}] launched ({n} instances)", r.name));
        } else {
            let mode = r
                .procs
                .first()
                .map_or(ExecMode::Fork, |p| p.pm2_env.exec_mode)
                .as_str();
            out.line(format!(
                "[PM2] Starting {script} in {mode} ({n} instance{})",
                if n > 1 { "s" } else { "" }
            ));
            out.line("[PM2] Done.");
        }
    }
}
