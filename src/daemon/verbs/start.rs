//! `start`: turning app specs into supervised instances, with pm2's rules for names, instance
//! counts, exec mode, log and pid paths, and refusing to start a running script twice.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::daemon::Daemon;
use crate::protocol::{AppSpec, Error, ExecMode, Instances, SpecUpdate, StartRequest};
use crate::supervisor::{self, spawn, Control, Paths, ProcInfo, Status};
use crate::sys::names::file_safe;
use crate::sys::workload::{cores, workload_instances};

/// `out.log` → `out-3.log`: pm2 suffixes per-instance files with the pm_id.
fn with_id(path: &Path, id: u32) -> PathBuf {
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    let name = match path.extension().and_then(|e| e.to_str()) {
        Some(ext) => format!("{stem}-{id}.{ext}"),
        None => format!("{stem}-{id}"),
    };
    path.with_file_name(name)
}

fn log_path(
    given: Option<&str>,
    cwd: &Path,
    default: PathBuf,
    id: u32,
    suffix: bool,
) -> Option<PathBuf> {
    let p = match given {
        Some("NULL") | Some("/dev/null") => return None,
        Some(g) => crate::config::paths::resolve(cwd, g),
        None => default,
    };
    Some(if suffix { with_id(&p, id) } else { p })
}

fn paths(d: &Daemon, spec: &AppSpec, name: &str, id: u32, multi: bool) -> Paths {
    let name = &file_safe(name);
    let home = &d.ctx.home;
    let cwd = PathBuf::from(spec.cwd.clone().unwrap_or_else(|| "/".into()));
    let merge = spec.merge_logs.unwrap_or(!multi);
    let disabled = spec.disable_logs == Some(true);
    let logs = home.logs_dir();
    let out = log_path(
        spec.out_file.as_deref(),
        &cwd,
        logs.join(format!("{name}-out.log")),
        id,
        !merge,
    );
    let err = log_path(
        spec.error_file.as_deref(),
        &cwd,
        logs.join(format!("{name}-error.log")),
        id,
        !merge,
    );
    let combined = match spec.log_file.as_deref() {
        None | Some("false") => None,
        Some("true") => Some(logs.join(format!("{name}.log"))),
        given => log_path(given, &cwd, PathBuf::new(), id, !merge),
    };
    let pid = match spec.pid_file.as_deref() {
        Some(p) => with_id(&crate::config::paths::resolve(&cwd, p), id),
        None => home.pids_dir().join(format!("{name}-{id}.pid")),
    };
    if disabled {
        return Paths {
            out: None,
            err: None,
            combined: None,
            pid,
        };
    }
    Paths {
        out,
        err,
        combined,
        pid,
    }
}

/// How many instances an app asks for, and in which mode, following pm2: giving `instances`
/// means cluster mode for Node apps unless `exec_mode` says otherwise.
fn count_and_mode(spec: &AppSpec, is_node: bool) -> Result<(u32, ExecMode), Error> {
    let count = match (&spec.instances, spec.workload.as_deref()) {
        (Instances::One, Some(w)) => workload_instances(w, cores()).map_err(Error::invalid)?,
        (i, _) => i.resolve(cores()),
    };
    let given = spec.instances != Instances::One || spec.workload.is_some();
    let mode = match spec.exec_mode {
        Some(m) => m,
        None if given && is_node => ExecMode::Cluster,
        None => ExecMode::Fork,
    };
    Ok((count, mode))
}

/// What every app of a start must pass before any of them starts or restarts; command lines
/// become their shell's script here, so names and matching see what will run.
pub(super) fn check_apps(
    d: &Daemon,
    apps: &mut [AppSpec],
    env: &crate::protocol::Env,
) -> Result<(), Error> {
    let path_var = env.get("PATH").and_then(Value::as_str);
    for spec in apps {
        // A bad name is not repeated in front of its own error: it may be 10 kB of it.
        super::admit::name(&spec.resolved_name())?;
        super::admit::app(spec, env)
            .map_err(|e| Error::invalid(format!("app {}: {e}", spec.resolved_name())))?;
        if spec.script == crate::config::ecosystem::SERVE_SCRIPT {
            spec.script = d.ctx.home.serve_file().display().to_string();
        }
        command_line(spec, path_var);
        // pm2 (`Common.prepareAppConf`) turns source maps on when the script has a map beside it.
        if spec.source_map_support.is_none() && Path::new(&format!("{}.map", spec.script)).is_file()
        {
            spec.source_map_support = Some(true);
        }
        crate::daemon::rotation::app_override(spec)?;
        crate::protocol::secret::check(spec)
            .and_then(|()| crate::supervisor::spawn::identity(spec).map(drop))
            .map_err(|e| Error::invalid(format!("app {}: {e}", spec.resolved_name())))?;
        crate::supervisor::checks::parse(spec)
            .and_then(|_| super::depends::deps(spec).map(|_| ()))
            .and_then(|()| crate::queue::app::parse(spec).map(drop))
            .map_err(|e| Error::invalid(format!("app {}: {e}", spec.resolved_name())))?;
    }
    Ok(())
}

pub async fn start(d: &Daemon, mut req: StartRequest) -> Result<Vec<ProcInfo>, Error> {
    check_apps(d, &mut req.apps, &req.env)?;
    let _serial = d.start_lock.lock().await;
    let per_app =
        super::depends::start_ordered(d, req.apps, &req.env, req.force, &Default::default())
            .await?;
    let (restarted, launched): (Vec<_>, Vec<_>) = per_app.into_iter().partition(|a| a.0);
    Ok(restarted
        .into_iter()
        .chain(launched)
        .flat_map(|(_, procs)| procs)
        .collect())
}

/// Starts each app and returns, in the order of `apps`, whether its stopped instances were
/// started again (`true`) rather than new ones created, and its processes. The caller holds
/// `start_lock`.
pub(super) async fn start_apps(
    d: &Daemon,
    apps: Vec<AppSpec>,
    env: &crate::protocol::Env,
    force: bool,
    update: &SpecUpdate,
) -> Result<Vec<(bool, Vec<ProcInfo>)>, Error> {
    // Every app's instances are created first, then all launched at once: spawning is mostly
    // waiting for exec, and fifty apps one after another would add that wait up fifty times.
    let mut prepared = Vec::new();
    let mut created = Vec::new();
    // One copy of the caller's environment for every instance this request creates.
    let env = std::sync::Arc::new(env.clone());
    for spec in apps {
        let p = start_app(d, spec, &env, force, update).await?;
        if let Prepared::Created(list) = &p {
            created.extend(list.iter().cloned());
        }
        prepared.push(p);
    }
    let every = created.clone();
    // `autostart: false` registers the app and leaves it stopped, as pm2 does.
    let (held, to_launch): (Vec<_>, Vec<_>) = created
        .into_iter()
        .partition(|i| i.peek(|s| s.spec.autostart == Some(false)));
    // `node --version` (pm2's `node_version`) is asked while the apps launch, not before: on
    // a cold start it is the one interpreter run the first app would otherwise wait for.
    let launching = d.each(to_launch, Control::Start);
    let (launched, ()) = tokio::join!(launching, node_versions(d, &every, &env));
    let mut launched = launched?;
    launched.extend(held.iter().map(|i| i.snapshot()));
    for p in &mut launched {
        if p.node_version.is_none() {
            p.node_version = d.known_node_version(&p.launch.program);
        }
    }
    launched.sort_by_key(|p| p.pm_id);
    Ok(prepared
        .into_iter()
        .map(|p| match p {
            Prepared::Restarted(list) => (true, list),
            Prepared::Created(list) => {
                let ids: Vec<u32> = list.iter().map(|i| i.peek(|s| s.pm_id)).collect();
                let mine = launched.iter().filter(|p| ids.contains(&p.pm_id));
                (false, mine.cloned().collect())
            }
        })
        .collect())
}

/// Asks each Node interpreter of `created` its version (once per interpreter and daemon) and
/// records it in the instances that lack it.
async fn node_versions(d: &Daemon, created: &[supervisor::Instance], env: &crate::protocol::Env) {
    let path_var = env.get("PATH").and_then(Value::as_str);
    let mut asked: Vec<String> = Vec::new();
    for inst in created {
        let program = inst.peek(|i| {
            (i.launch.is_node && i.node_version.is_none()).then(|| i.launch.program.clone())
        });
        let Some(program) = program else { continue };
        if !asked.contains(&program) {
            d.node_version(&program, path_var).await;
            asked.push(program.clone());
        }
        let version = d.known_node_version(&program);
        let mut info = inst.info.lock().unwrap_or_else(|p| p.into_inner());
        if info.node_version.is_none() {
            info.node_version = version;
        }
    }
}

/// What `start` did with one app: restarted its stopped instances, or created new ones that
/// still have to be launched.
enum Prepared {
    Restarted(Vec<ProcInfo>),
    Created(Vec<supervisor::Instance>),
}

/// pm2's command strings (`Common.verifyConfs`): a script with a space that is not a file is a
/// command line, run as `bash -c <line>` (`sh` without bash) and named after the whole line.
fn command_line(spec: &mut AppSpec, path_var: Option<&str>) {
    if !spec.script.contains(' ') || Path::new(&spec.script).exists() {
        return;
    }
    let line = std::mem::take(&mut spec.script);
    let shell = ["bash", "sh"]
        .iter()
        .find_map(|sh| crate::sys::which::which(sh, path_var))
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "/bin/sh".into());
    spec.script = shell;
    spec.args = vec!["-c".into(), line.clone()];
    spec.name.get_or_insert(line);
}

async fn start_app(
    d: &Daemon,
    mut spec: AppSpec,
    env: &std::sync::Arc<crate::protocol::Env>,
    force: bool,
    update: &SpecUpdate,
) -> Result<Prepared, Error> {
    let name = spec.resolved_name();
    spec.name = Some(name.clone());
    let path_var = env.get("PATH").and_then(Value::as_str).map(str::to_string);
    let existing: Vec<_> = d
        .registry()
        .all()
        .into_iter()
        .filter(|i| i.peek(|s| s.name == name && s.spec.script == spec.script))
        .collect();
    if !existing.is_empty() && !force {
        let all_down = existing.iter().all(|i| !i.peek(|s| s.status.is_running()));
        if !all_down {
            return Err(Error::AlreadyRunning);
        }
        // Started again with the start's flags as a restart takes them (pm2 restarts it).
        if !update.is_empty() {
            return super::restart::restart_instances(
                d,
                existing,
                None,
                None,
                update.clone(),
                false,
            )
            .await
            .map(Prepared::Restarted);
        }
        return d
            .each(existing, Control::Start)
            .await
            .map(Prepared::Restarted);
    }
    let launch = spawn::resolve_launch(&spec, path_var.as_deref());
    let (count, mode) = count_and_mode(&spec, launch.is_node)?;
    spec.exec_mode = Some(mode);
    let namespace = spec
        .namespace
        .clone()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "default".into());
    let version = crate::daemon::jlist::package_version(&spec.script);
    // Known once any app of this interpreter started; else asked while they launch.
    let node_version = match launch.is_node {
        true => d.known_node_version(&launch.program),
        false => None,
    };
    let multi = mode == ExecMode::Cluster || count > 1;
    let template = Template {
        name,
        namespace,
        spec: std::sync::Arc::new(spec),
        env: env.clone(),
        launch,
        version,
        node_version,
        multi,
    };
    Ok(Prepared::Created(create_instances(d, &template, count)))
}

/// What every instance of one app shares.
pub(super) struct Template {
    pub(super) name: String,
    pub(super) namespace: String,
    pub(super) spec: std::sync::Arc<AppSpec>,
    pub(super) env: std::sync::Arc<crate::protocol::Env>,
    pub(super) launch: supervisor::Launch,
    pub(super) version: Value,
    pub(super) node_version: Option<String>,
    pub(super) multi: bool,
}

/// Creates `count` instances, each with the next pm_id and the lowest free
/// `NODE_APP_INSTANCE` among the app's instances, not yet launched.
pub(super) fn create_instances(d: &Daemon, t: &Template, count: u32) -> Vec<supervisor::Instance> {
    let mut created = Vec::new();
    for _ in 0..count {
        let (id, instance) = {
            let mut reg = d.registry();
            let used: Vec<u32> = reg
                .all()
                .iter()
                .filter_map(|i| i.peek(|p| (p.name == t.name).then_some(p.instance)))
                .collect();
            let instance = (0..).find(|n| !used.contains(n)).unwrap_or(0);
            (reg.allocate_id(), instance)
        };
        let now = supervisor::now_ms();
        let info = ProcInfo {
            pm_id: id,
            name: t.name.clone(),
            namespace: t.namespace.clone(),
            paths: paths(d, &t.spec, &t.name, id, t.multi),
            spec: t.spec.clone(),
            env: t.env.clone(),
            instance,
            unique_id: uuid::Uuid::new_v4().to_string(),
            launch: t.launch.clone(),
            status: if t.spec.autostart == Some(false) {
                Status::Stopped
            } else {
                Status::Launching
            },
            pid: None,
            start_ticks: None,
            worker_id: None,
            restart_time: 0,
            unstable_restarts: 0,
            created_at: now,
            pm_uptime: now,
            exit_code: None,
            connected: false,
            version: t.version.clone(),
            node_version: t.node_version.clone(),
            restart_reason: None,
            health: None,
            log_error: None,
        };
        let inst = supervisor::create(d.ctx.clone(), info, false);
        d.registry().insert(id, inst.clone());
        created.push(inst);
    }
    created
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_instance_paths_carry_the_id() {
        assert_eq!(
            with_id(Path::new("/a/out.log"), 3),
            PathBuf::from("/a/out-3.log")
        );
        assert_eq!(
            with_id(Path::new("/a/app.pid"), 0),
            PathBuf::from("/a/app-0.pid")
        );
        assert_eq!(
            with_id(Path::new("/a/noext"), 1),
            PathBuf::from("/a/noext-1")
        );
    }
}
