//! The daemon's live state (`live.json` in the home, 0600) and re-adoption. The daemon records
//! what runs (each instance's spec, environment, pm_id, pid and start time, counters, cluster
//! worker id, and the cluster primary's shared sockets), rewritten a moment after anything in
//! it changes. A daemon that starts and finds the file was not shut down cleanly (a clean stop
//! removes it): its predecessor died. It takes the descriptors the keeper kept
//! ([`crate::keeper`]) and supervises again every process that still runs (same pid, same start
//! time), restarts by their policy those that died meanwhile, and shows the stopped ones as
//! before. When none of them runs any more (a reboot, or the whole tree was killed), the file is
//! history and the saved dump is restored instead, as at boot.
//!
//! Written without fsync: it matters only while its processes live, and a crash of the daemon
//! (not of the kernel) keeps the page cache. A power cut takes the processes with it, and then
//! the file's only message, "not shut down cleanly", holds whatever its content.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Daemon;
use crate::ipc::cluster::HandleRecord;
use crate::keeper::{self, Held};
use crate::protocol::{AppSpec, Env};
use crate::supervisor::{self, Launch, Paths, ProcInfo, Status};

/// Whether this daemon runs under a service manager (systemd's `Type=notify` unit). There a
/// hand-over (`pm update`) does not start the successor: the daemon exits with
/// [`EXIT_FOR_SUCCESSOR`] and the unit's `Restart=on-failure` runs the new binary, which adopts
/// the apps `KillMode=process` left running.
static SERVICE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

pub fn set_service(under: bool) {
    SERVICE.store(under, std::sync::atomic::Ordering::Relaxed);
}

pub fn under_service() -> bool {
    SERVICE.load(std::sync::atomic::Ordering::Relaxed)
}

/// EX_TEMPFAIL: non-zero, so `Restart=on-failure` starts the service again at once.
pub const EXIT_FOR_SUCCESSOR: i32 = 75;

/// A burst of changes (fifty apps starting) becomes one write.
const DEBOUNCE: Duration = Duration::from_millis(20);

// `default`: a file an older daemon wrote (`pm update`) lacks the fields added since.
#[derive(Serialize, Deserialize, Default)]
#[serde(default)]
struct LiveState {
    daemon_pid: u32,
    /// The daemon hands its apps over on SIGUSR1 (what `pm update` looks for).
    handover: u32,
    /// 1 under a service manager: after a hand-over the manager starts the successor, not
    /// `pm update`.
    service: u32,
    next_id: u32,
    last_worker_id: u32,
    /// Each distinct environment once: the instances of one start share theirs, and a whole
    /// environment (a few kB) per instance made the file grow with the fleet many times over.
    envs: Vec<Env>,
    procs: Vec<LiveProc>,
    handles: Vec<HandleRecord>,
}

#[derive(Serialize, Deserialize, Default)]
#[serde(default)]
struct LiveProc {
    pm_id: u32,
    name: String,
    namespace: String,
    spec: AppSpec,
    /// The environment inline (files written before `envs`), or empty with `env_of` set.
    env: Env,
    /// Its index in [`LiveState::envs`].
    env_of: Option<usize>,
    instance: u32,
    unique_id: String,
    interpreter: String,
    program: String,
    args: Vec<String>,
    is_node: bool,
    out: Option<PathBuf>,
    err: Option<PathBuf>,
    combined: Option<PathBuf>,
    pid_file: PathBuf,
    status: String,
    pid: Option<u32>,
    start_ticks: Option<u64>,
    worker_id: Option<u32>,
    restart_time: u32,
    unstable_restarts: u32,
    created_at: i64,
    pm_uptime: i64,
    exit_code: Option<Value>,
    version: Value,
    node_version: Option<String>,
}

fn status_of(s: &str) -> Status {
    match s {
        "launching" => Status::Launching,
        "online" => Status::Online,
        "stopping" => Status::Stopping,
        "errored" => Status::Errored,
        "waiting restart" => Status::WaitingRestart,
        "one-launch-status" => Status::OneLaunch,
        _ => Status::Stopped,
    }
}

impl LiveProc {
    /// The record of `i`, its environment inline.
    #[cfg(test)]
    fn of(i: &ProcInfo) -> LiveProc {
        let mut p = LiveProc::without_env(i);
        p.env = (*i.env).clone();
        p
    }

    fn without_env(i: &ProcInfo) -> LiveProc {
        LiveProc {
            pm_id: i.pm_id,
            name: i.name.clone(),
            namespace: i.namespace.clone(),
            spec: (*i.spec).clone(),
            env: Env::new(),
            env_of: None,
            instance: i.instance,
            unique_id: i.unique_id.clone(),
            interpreter: i.launch.interpreter.clone(),
            program: i.launch.program.clone(),
            args: i.launch.args.clone(),
            is_node: i.launch.is_node,
            out: i.paths.out.clone(),
            err: i.paths.err.clone(),
            combined: i.paths.combined.clone(),
            pid_file: i.paths.pid.clone(),
            status: i.status.as_str().to_string(),
            pid: i.pid,
            start_ticks: i.start_ticks,
            worker_id: i.worker_id,
            restart_time: i.restart_time,
            unstable_restarts: i.unstable_restarts,
            created_at: i.created_at,
            pm_uptime: i.pm_uptime,
            exit_code: i.exit_code.clone(),
            version: i.version.clone(),
            node_version: i.node_version.clone(),
        }
    }

    /// `envs`: the file's shared environments, each made once, so adopted instances share
    /// theirs again.
    fn into_info(self, envs: &[Arc<Env>]) -> ProcInfo {
        let env = match self.env_of.and_then(|i| envs.get(i)) {
            Some(shared) => shared.clone(),
            None => Arc::new(self.env),
        };
        ProcInfo {
            pm_id: self.pm_id,
            name: self.name,
            namespace: self.namespace,
            spec: Arc::new(self.spec),
            env,
            instance: self.instance,
            unique_id: self.unique_id,
            launch: Launch {
                interpreter: self.interpreter,
                program: self.program,
                args: self.args,
                is_node: self.is_node,
            },
            paths: Paths {
                out: self.out,
                err: self.err,
                combined: self.combined,
                pid: self.pid_file,
            },
            status: status_of(&self.status),
            pid: self.pid,
            start_ticks: self.start_ticks,
            worker_id: self.worker_id,
            restart_time: self.restart_time,
            unstable_restarts: self.unstable_restarts,
            created_at: self.created_at,
            pm_uptime: self.pm_uptime,
            exit_code: self.exit_code,
            connected: false,
            log_error: None,
            version: self.version,
            node_version: self.node_version,
            restart_reason: None,
            health: None,
        }
    }
}

fn path(d: &Daemon) -> PathBuf {
    d.ctx.home.live_state()
}

/// Writes the file on a thread of its own, in the order the snapshots were taken: a rename
/// over the old file can wait tens of milliseconds for the disk while fifty apps start, and
/// neither the runtime's thread nor the blocking pool (busy with those spawns) may wait for it.
#[derive(Default)]
pub struct Writer {
    taken: std::sync::atomic::AtomicU64,
    written: Arc<std::sync::Mutex<u64>>,
    jobs: std::sync::Mutex<Option<std::sync::mpsc::Sender<Job>>>,
}

type Job = (PathBuf, u64, Vec<u8>, tokio::sync::oneshot::Sender<()>);

impl Writer {
    /// Writes `bytes`, snapshot number `seq`, unless a later snapshot is already on disk.
    fn put(written: &std::sync::Mutex<u64>, path: &std::path::Path, seq: u64, bytes: &[u8]) {
        let mut written = written.lock().unwrap_or_else(|p| p.into_inner());
        if seq < *written {
            return;
        }
        match crate::config::paths::write_private_with(path, bytes, false) {
            Ok(()) => *written = seq,
            Err(e) => elog!("cannot write {}: {e}", path.display()),
        }
    }

    /// Removes the file for good: under the writer's lock, and as the last word, so a snapshot
    /// still queued for the writer thread cannot bring it back. A file that outlived a clean
    /// stop would make the next daemon take the stop for a crash and resurrect the dump.
    fn remove(&self, path: &std::path::Path) {
        let mut written = self.written.lock().unwrap_or_else(|p| p.into_inner());
        *written = u64::MAX;
        let _ = std::fs::remove_file(path);
    }

    /// Queues a write for the writer thread, started on first use; the receiver fires once it
    /// is done. Without a thread (none could be started) the write happens here.
    fn queue(&self, job: Job) {
        let mut jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        if jobs.is_none() {
            let (tx, rx) = std::sync::mpsc::channel::<Job>();
            let written = self.written.clone();
            let started = std::thread::Builder::new()
                .name("live-writer".into())
                .stack_size(64 * 1024)
                .spawn(move || {
                    for (path, seq, bytes, done) in rx {
                        Writer::put(&written, &path, seq, &bytes);
                        let _ = done.send(());
                    }
                });
            if started.is_ok() {
                *jobs = Some(tx);
            }
        }
        let job = match jobs.as_ref() {
            Some(tx) => match tx.send(job) {
                Ok(()) => return,
                Err(std::sync::mpsc::SendError(job)) => job,
            },
            None => job,
        };
        let (path, seq, bytes, done) = job;
        Writer::put(&self.written, &path, seq, &bytes);
        let _ = done.send(());
    }
}

/// The state as it is now, numbered for [`Writer::put`]. `counts_over`: the restart counters
/// start again from 0 in the record, as they do in pm2 after `pm2 update`.
fn snapshot(d: &Daemon, counts_over: bool) -> Option<(u64, Vec<u8>)> {
    let mut envs: Vec<Arc<Env>> = Vec::new();
    let procs: Vec<LiveProc> = d
        .registry()
        .all()
        .iter()
        .map(|i| {
            i.peek(|info| {
                let mut p = LiveProc::without_env(info);
                if counts_over {
                    p.restart_time = 0;
                    p.unstable_restarts = 0;
                }
                let at = envs.iter().position(|e| Arc::ptr_eq(e, &info.env));
                p.env_of = Some(at.unwrap_or_else(|| {
                    envs.push(info.env.clone());
                    envs.len() - 1
                }));
                p
            })
        })
        .collect();
    let state = LiveState {
        daemon_pid: std::process::id(),
        handover: 1,
        service: u32::from(under_service()),
        next_id: d.registry().next_id(),
        last_worker_id: d.ctx.primary.last_worker_id(),
        envs: envs.iter().map(|e| (**e).clone()).collect(),
        procs,
        handles: d.ctx.primary.records(),
    };
    let seq = d
        .live_writer
        .taken
        .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    match serde_json::to_vec(&state) {
        Ok(bytes) => Some((seq, bytes)),
        Err(e) => {
            elog!("cannot write {}: {e}", path(d).display());
            None
        }
    }
}

/// Writes the state for the daemon that takes the apps over (`pm update`, SIGUSR1), on this
/// thread, where nothing else runs. The apps keep running, but their restart counts start over
/// with the new daemon, as pm2's do after `pm2 update` (its e2e scripts and users' checks
/// expect `restart_time: 0` there); a daemon that crashed leaves its counts as they were.
pub fn write_for_successor(d: &Daemon) {
    if let Some((seq, bytes)) = snapshot(d, true) {
        Writer::put(&d.live_writer.written, &path(d), seq, &bytes);
    }
}

/// Writes the live state now, on the writer's thread (see [`Writer`]), and waits until it is.
pub async fn save(d: &Daemon) {
    let Some((seq, bytes)) = snapshot(d, false) else {
        return;
    };
    let (done, written) = tokio::sync::oneshot::channel();
    d.live_writer.queue((path(d), seq, bytes, done));
    let _ = written.await;
}

/// The writer: once after start, then on each change, at most once per [`DEBOUNCE`]: the first
/// change of a quiet spell is written at once (a child spawned a moment before a crash is then
/// known to the successor), the rest of a burst together once it has passed.
pub async fn run(d: Arc<Daemon>) {
    let handles = d.ctx.primary.changed();
    loop {
        save(&d).await;
        let wrote = tokio::time::Instant::now();
        tokio::select! {
            _ = d.ctx.live.notified() => {}
            _ = handles.notified() => {}
        }
        tokio::time::sleep_until(wrote + DEBOUNCE).await;
    }
}

/// A clean stop: every app was stopped on purpose, nothing is left to adopt.
pub fn remove(d: &Daemon) {
    d.live_writer.remove(&path(d));
}

/// What start-up found.
#[derive(Debug, Default, PartialEq, Eq)]
pub enum Found {
    /// No live state: the last daemon stopped cleanly, or there was none.
    #[default]
    Nothing,
    /// The last daemon died; this many of its processes run again under this one.
    Adopted(usize),
    /// The last daemon died and none of its processes runs any more.
    NothingRuns,
}

/// Takes over from a daemon that died (see the module's comment). Runs before the socket
/// serves, so no request sees a half-rebuilt table.
pub fn adopt(d: &Daemon) -> Found {
    let began = std::time::Instant::now();
    let Ok(text) = std::fs::read(path(d)) else {
        return Found::Nothing;
    };
    let state: LiveState = match serde_json::from_slice(&text) {
        Ok(s) => s,
        Err(e) => {
            log(&format!("{}: {e}; nothing adopted", path(d).display()));
            return Found::NothingRuns;
        }
    };
    let held = d.ctx.keeper.take().unwrap_or_else(|e| {
        log(&format!(
            "fd keeper: {e}; adopted apps' logs are not captured"
        ));
        Vec::new()
    });
    // The keeper knows each child's pid and start time from the moment it was spawned; the
    // file, written a moment later, may name the previous one.
    let mut children: BTreeMap<u32, (u32, u64, BTreeMap<String, std::os::fd::OwnedFd>)> =
        BTreeMap::new();
    let mut sockets: BTreeMap<String, std::os::fd::OwnedFd> = BTreeMap::new();
    for Held { owner, mut fds } in held {
        if let Some((id, pid, start)) = keeper::parse_app_owner(&owner) {
            let runs = same_process(pid, start);
            let newer = children.get(&id).is_none_or(|(_, s, _)| *s < start);
            if runs && newer {
                children.insert(id, (pid, start, fds));
            } else if !runs {
                d.ctx.keeper.forget(&owner);
            }
        } else if let Some(key) = owner.strip_prefix("sock ") {
            if let Some(fd) = fds.remove("sock") {
                sockets.insert(key.to_string(), fd);
            }
        }
    }
    let runs = |p: &LiveProc| {
        children.contains_key(&p.pm_id)
            || matches!((p.pid, p.start_ticks), (Some(pid), Some(s)) if same_process(pid, s))
    };
    if !state.procs.iter().any(runs) {
        for key in sockets.keys() {
            d.ctx.keeper.forget(&keeper::sock_owner(key));
        }
        return Found::NothingRuns;
    }
    let envs: Vec<Arc<Env>> = state.envs.into_iter().map(Arc::new).collect();
    d.registry().resume_ids(state.next_id);
    d.ctx.primary.resume_ids(state.last_worker_id);
    for rec in state.handles {
        match sockets.remove(&rec.key) {
            Some(fd) => d.ctx.primary.adopt_handle(rec, fd),
            None => log(&format!("shared socket {} was not kept; released", rec.key)),
        }
    }
    for key in sockets.keys() {
        d.ctx.keeper.forget(&keeper::sock_owner(key));
    }
    let (mut adopted, mut relaunched) = (0, 0);
    let mut workers = BTreeSet::new();
    for p in state.procs {
        let was_running = status_of(&p.status).is_running();
        let kept = children.remove(&p.pm_id);
        let from_keeper = kept.is_some();
        let (pid, start, fds) = match kept {
            Some((pid, start, fds)) => (Some(pid), Some(start), fds),
            None => (p.pid, p.start_ticks, BTreeMap::new()),
        };
        let mut info = p.into_info(&envs);
        let id = info.pm_id;
        let live = match (pid, start) {
            (Some(pid), Some(start))
                if (was_running || from_keeper) && same_process(pid, start) =>
            {
                Some((pid, start))
            }
            _ => None,
        };
        if let Some((pid, start_ticks)) = live {
            info.pid = Some(pid);
            if info.status != Status::Online {
                info.status = Status::Online;
            }
            let worker_id = info.worker_id.filter(|_| info.launch.is_node);
            let a = supervisor::Adoption {
                pid,
                start_ticks,
                fds,
                worker_id,
            };
            match supervisor::adopt(d.ctx.clone(), info.clone(), a) {
                Ok(inst) => {
                    workers.extend(worker_id);
                    d.registry().insert(id, inst);
                    adopted += 1;
                    continue;
                }
                Err(e) => log(&format!("{}: cannot adopt pid {pid}: {e}", info.name)),
            }
        }
        info.pid = None;
        info.start_ticks = None;
        info.worker_id = None;
        if was_running {
            // It died while nobody watched: a crash, which its restart policy answers.
            info.restart_time += 1;
            info.restart_reason = Some("exit");
            info.status = Status::Launching;
            relaunched += 1;
        }
        let inst = supervisor::create(d.ctx.clone(), info, was_running);
        d.registry().insert(id, inst);
    }
    d.ctx.primary.prune_workers(&workers);
    for (id, (pid, start, _)) in children {
        // A process the keeper kept that the state does not know (started in the last moment
        // before the death, or a reload's outgoing child): nobody would supervise it.
        log(&format!(
            "pid {pid} (instance {id}) is not in the live state; left running, unsupervised"
        ));
        d.ctx.keeper.forget(&keeper::app_owner(id, pid, start));
    }
    log(&format!(
        "adopted {adopted} running process(es) of the previous daemon, restarted {relaunched}, in {} ms",
        began.elapsed().as_millis()
    ));
    Found::Adopted(adopted)
}

/// Whether `pid` is still the process that started at `start` (a recycled pid is not).
fn same_process(pid: u32, start: u64) -> bool {
    crate::sys::proc::is_live(pid) && crate::sys::proc::start_time(pid) == Some(start)
}

fn log(line: &str) {
    elog!("[{}] {line}", chrono::Local::now().to_rfc3339());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_written_after_the_removal_does_not_bring_the_file_back() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("live.json");
        let w = Writer::default();
        Writer::put(&w.written, &file, 1, b"{}");
        assert!(file.exists());
        w.remove(&file);
        assert!(!file.exists());
        // A snapshot taken before the stop, reaching the writer thread only now.
        Writer::put(&w.written, &file, 2, b"{}");
        assert!(!file.exists());
    }

    #[test]
    fn a_record_gives_back_the_instance_it_was_made_from() {
        let mut spec = AppSpec {
            script: "/srv/app.js".into(),
            ..Default::default()
        };
        spec.name = Some("web".into());
        let mut env = Env::new();
        env.insert("PORT".into(), "3000".into());
        let info = LiveProc {
            pm_id: 4,
            name: "web".into(),
            spec,
            env,
            status: "online".into(),
            pid: Some(1234),
            start_ticks: Some(987_654),
            worker_id: Some(9),
            restart_time: 2,
            pm_uptime: 77,
            out: Some("/l/web-out.log".into()),
            ..Default::default()
        }
        .into_info(&[]);
        let text = serde_json::to_string(&LiveProc::of(&info)).expect("serialise");
        let back: LiveProc = serde_json::from_str(&text).expect("parse");
        let again = back.into_info(&[]);
        assert_eq!(
            (again.pm_id, again.pid, again.start_ticks, again.worker_id),
            (4, Some(1234), Some(987_654), Some(9))
        );
        assert_eq!((again.restart_time, again.pm_uptime), (2, 77));
        assert_eq!(again.status, Status::Online);
        assert_eq!(again.spec.script, "/srv/app.js");
        assert_eq!(again.env.get("PORT"), Some(&Value::from("3000")));
        assert_eq!(again.paths.out, Some(PathBuf::from("/l/web-out.log")));
    }

    #[test]
    fn instances_sharing_an_environment_are_read_back_sharing_it() {
        let state: LiveState = serde_json::from_str(
            r#"{"envs":[{"PORT":"1"}],"procs":[{"pm_id":0,"env_of":0},{"pm_id":1,"env_of":0},
                {"pm_id":2,"env":{"PORT":"2"}}]}"#,
        )
        .expect("parse");
        let envs: Vec<Arc<Env>> = state.envs.into_iter().map(Arc::new).collect();
        let infos: Vec<ProcInfo> = state
            .procs
            .into_iter()
            .map(|p| p.into_info(&envs))
            .collect();
        assert!(Arc::ptr_eq(&infos[0].env, &infos[1].env));
        assert_eq!(infos[1].env.get("PORT"), Some(&Value::from("1")));
        assert_eq!(
            infos[2].env.get("PORT"),
            Some(&Value::from("2")),
            "an inline environment (an older file) still reads"
        );
    }

    #[test]
    fn an_older_file_without_newer_fields_still_reads() {
        let state: LiveState =
            serde_json::from_str(r#"{"daemon_pid":1,"procs":[{"pm_id":0,"name":"a"}]}"#)
                .expect("parse");
        assert_eq!(state.procs.len(), 1);
        assert_eq!(state.handover, 0, "no hand-over unless the file says so");
        assert_eq!(
            state.service, 0,
            "not under a service manager unless the file says so"
        );
        assert_eq!(status_of(&state.procs[0].status), Status::Stopped);
    }
}
