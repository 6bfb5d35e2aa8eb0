//! `start`: turning app specs into supervised instances, with pm2's rules for names, instance
//! counts, exec mode, log and pid paths, and refusing to start a running script twice.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::Daemon;
use crate::protocol::{AppSpec, ExecMode, Instances, StartRequest};
use crate::supervisor::{self, spawn, Control, Paths, ProcInfo, Status};

/// pm-native's worker-count rule: CPU-bound = cores, I/O-bound = 2 × cores, mixed = 1.5 × cores.
pub fn workload_instances(workload: &str, cores: usize) -> Result<u32, String> {
    let cores = cores.max(1) as f64;
    let n = match workload {
        "cpu" => cores,
        "io" => cores * 2.0,
        "mixed" => (cores * 1.5).round(),
        other => {
            return Err(format!(
                "workload must be cpu, io or mixed, got \"{other}\""
            ))
        }
    };
    Ok((n as u32).max(1))
}

fn cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

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

/// pm2's file-name rule for apps: anything but `[a-zA-Z0-9.-]` becomes `-`, so a name can never
/// put a log or pid file outside its folder.
fn file_safe(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect()
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

fn uuid_v4() -> String {
    let mut b = [0u8; 16];
    if std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut b))
        .is_err()
    {
        let t = supervisor::now_ms() as u128 ^ ((std::process::id() as u128) << 64);
        b = t.to_le_bytes();
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// How many instances an app asks for, and in which mode, following pm2: giving `instances`
/// means cluster mode for Node apps unless `exec_mode` says otherwise.
fn count_and_mode(spec: &AppSpec, is_node: bool) -> Result<(u32, ExecMode), String> {
    let count = match (&spec.instances, spec.workload.as_deref()) {
        (Instances::One, Some(w)) => workload_instances(w, cores())?,
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

pub async fn start(d: &Daemon, req: StartRequest) -> Result<Vec<ProcInfo>, String> {
    let _serial = d.start_lock.lock().await;
    // Every app's instances are created first, then all launched at once: spawning is mostly
    // waiting for exec, and fifty apps one after another would add that wait up fifty times.
    let mut restarted = Vec::new();
    let mut created = Vec::new();
    for spec in req.apps {
        match start_app(d, spec, &req.env, req.force).await? {
            Prepared::Restarted(list) => restarted.extend(list),
            Prepared::Created(list) => created.extend(list),
        }
    }
    let mut all = restarted;
    all.extend(d.each(created, Control::Start).await?);
    Ok(all)
}

/// What `start` did with one app: restarted its stopped instances, or created new ones that
/// still have to be launched.
enum Prepared {
    Restarted(Vec<ProcInfo>),
    Created(Vec<supervisor::Instance>),
}

async fn start_app(
    d: &Daemon,
    mut spec: AppSpec,
    env: &crate::protocol::Env,
    force: bool,
) -> Result<Prepared, String> {
    let name = spec.resolved_name();
    spec.name = Some(name.clone());
    let existing: Vec<_> = d
        .registry()
        .all()
        .into_iter()
        .filter(|i| {
            let s = i.snapshot();
            s.name == name && s.spec.script == spec.script
        })
        .collect();
    if !existing.is_empty() && !force {
        let all_down = existing.iter().all(|i| !i.snapshot().status.is_running());
        if !all_down {
            return Err("Script already launched, add -f option to force re-execution".into());
        }
        return d
            .each(existing, Control::Start)
            .await
            .map(Prepared::Restarted);
    }
    let path_var = env.get("PATH").and_then(Value::as_str).map(str::to_string);
    let launch = spawn::resolve_launch(&spec, path_var.as_deref());
    let (count, mode) = count_and_mode(&spec, launch.is_node)?;
    spec.exec_mode = Some(mode);
    let namespace = spec
        .namespace
        .clone()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "default".into());
    let version = super::jlist::package_version(&spec.script);
    let node_version = match launch.is_node {
        true => d.node_version(&launch.program, path_var.as_deref()).await,
        false => None,
    };
    let multi = mode == ExecMode::Cluster || count > 1;
    let template = Template {
        name,
        namespace,
        spec,
        env: env.clone(),
        launch,
        version,
        node_version,
        multi,
    };
    Ok(Prepared::Created(create_instances(d, &template, count)))
}

/// What every instance of one app shares.
struct Template {
    name: String,
    namespace: String,
    spec: AppSpec,
    env: crate::protocol::Env,
    launch: supervisor::Launch,
    version: Value,
    node_version: Option<String>,
    multi: bool,
}

/// Creates and starts `count` instances.
async fn add_instances(d: &Daemon, t: &Template, count: u32) -> Result<Vec<ProcInfo>, String> {
    d.each(create_instances(d, t, count), Control::Start).await
}

/// Creates `count` instances, each with the next pm_id and the lowest free
/// `NODE_APP_INSTANCE` among the app's instances, not yet launched.
fn create_instances(d: &Daemon, t: &Template, count: u32) -> Vec<supervisor::Instance> {
    let mut created = Vec::new();
    for _ in 0..count {
        let (id, instance) = {
            let mut reg = d.registry();
            let used: Vec<u32> = reg
                .snapshots()
                .iter()
                .filter(|p| p.name == t.name)
                .map(|p| p.instance)
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
            unique_id: uuid_v4(),
            launch: t.launch.clone(),
            status: Status::Launching,
            pid: None,
            restart_time: 0,
            unstable_restarts: 0,
            created_at: now,
            pm_uptime: now,
            exit_code: None,
            connected: false,
            version: t.version.clone(),
            node_version: t.node_version.clone(),
        };
        let inst = supervisor::create(d.ctx.clone(), info, false);
        d.registry().insert(id, inst.clone());
        created.push(inst);
    }
    created
}

/// `pm scale <name> <N|+N|-N>`: adds instances like the existing ones, or removes the newest,
/// leaving the others untouched.
pub async fn scale(d: &Daemon, name: &str, how: &str) -> Result<Vec<ProcInfo>, String> {
    let _serial = d.start_lock.lock().await;
    let mut current: Vec<ProcInfo> = d
        .registry()
        .snapshots()
        .into_iter()
        .filter(|p| p.name == name)
        .collect();
    let Some(first) = current.first().cloned() else {
        return Err(format!("Process or Namespace {name} not found"));
    };
    let have = current.len() as i64;
    let delta: i64 = how
        .trim()
        .parse()
        .map_err(|_| format!("scale takes a number, +N or -N, got \"{how}\""))?;
    let want = if how.trim().starts_with(['+', '-']) {
        have + delta
    } else {
        delta
    };
    if want < 1 {
        return Err(format!(
            "cannot scale {name} to {want} instances (use pm delete {name})"
        ));
    }
    if want > have {
        let t = Template {
            name: first.name.clone(),
            namespace: first.namespace.clone(),
            spec: first.spec.clone(),
            env: first.env.clone(),
            launch: first.launch.clone(),
            version: first.version.clone(),
            node_version: first.node_version.clone(),
            multi: true,
        };
        add_instances(d, &t, (want - have) as u32).await?;
    } else if want < have {
        current.sort_by_key(|p| std::cmp::Reverse(p.pm_id));
        let doomed: Vec<String> = current
            .iter()
            .take((have - want) as usize)
            .map(|p| p.pm_id.to_string())
            .collect();
        d.delete(&crate::protocol::TargetRequest { targets: doomed })
            .await?;
    }
    Ok(d.registry()
        .snapshots()
        .into_iter()
        .filter(|p| p.name == name)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workload_rule() {
        assert_eq!(workload_instances("cpu", 4), Ok(4));
        assert_eq!(workload_instances("io", 4), Ok(8));
        assert_eq!(workload_instances("mixed", 3), Ok(5));
        assert_eq!(workload_instances("mixed", 1), Ok(2));
        assert!(workload_instances("gpu", 4).is_err());
    }

    #[test]
    fn names_cannot_escape_the_logs_folder() {
        assert_eq!(file_safe("../../escape"), "..-..-escape");
        assert_eq!(file_safe("my_app x"), "my-app-x");
    }

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
