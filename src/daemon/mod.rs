//! The daemon: a tokio program with no V8 inside. It owns the process table, answers the RPC
//! socket, and leaves each process to its supervisor task.

pub mod jlist;
pub mod registry;
pub mod server;
mod start;

pub use start::workload_instances;

/// Validates a `--workload` value (cpu, io, mixed).
pub fn start_workload_check(w: &str) -> Result<u32, String> {
    workload_instances(w, 1)
}

use std::future::Future;
use std::os::unix::fs::PermissionsExt;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use tokio::sync::{broadcast, Notify};

use crate::config::Home;
use crate::logs::LogFiles;
use crate::metrics::Sampler;
use crate::protocol::{Request, Response, TargetRequest};
use crate::supervisor::{self, Control, Ctx, Instance, ProcInfo};
use registry::Registry;

pub struct Daemon {
    ctx: Arc<Ctx>,
    registry: Mutex<Registry>,
    /// Serialises `start`, so two concurrent starts of the same script cannot both pass the
    /// "already launched" check.
    start_lock: tokio::sync::Mutex<()>,
    shutdown: Notify,
    /// Poked after each request; see [`give_back_memory`].
    settled: Notify,
    /// `node --version` per interpreter, asked once (pm2 shows it as `node_version`).
    node_versions: Mutex<std::collections::HashMap<String, String>>,
}

impl Daemon {
    pub fn new(home: Home) -> Self {
        let (bus, _) = broadcast::channel(1024);
        Daemon {
            ctx: Arc::new(Ctx {
                home,
                logs: LogFiles::default(),
                bus,
                sampler: Sampler::default(),
                primary: Default::default(),
            }),
            registry: Mutex::new(Registry::default()),
            start_lock: tokio::sync::Mutex::new(()),
            shutdown: Notify::new(),
            settled: Notify::new(),
            node_versions: Mutex::new(Default::default()),
        }
    }

    fn registry(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The version of a Node interpreter, without the `v`, asked once per interpreter.
    async fn node_version(&self, program: &str, path_var: Option<&str>) -> Option<String> {
        if let Some(v) = self
            .node_versions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(program)
        {
            return Some(v.clone());
        }
        let mut cmd = tokio::process::Command::new(program);
        cmd.arg("--version")
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        if let Some(p) = path_var {
            cmd.env("PATH", p);
        }
        let out = tokio::time::timeout(std::time::Duration::from_secs(5), cmd.output())
            .await
            .ok()?
            .ok()?;
        let v = String::from_utf8_lossy(&out.stdout)
            .trim()
            .trim_start_matches('v')
            .to_string();
        if v.is_empty() {
            return None;
        }
        self.node_versions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(program.to_string(), v.clone());
        Some(v)
    }

    pub fn subscribe(&self) -> broadcast::Receiver<supervisor::Event> {
        self.ctx.bus.subscribe()
    }

    pub fn request_shutdown(&self) {
        self.shutdown.notify_one();
    }

    /// A request was answered: memory may be given back once things are quiet.
    pub fn request_done(&self) {
        self.settled.notify_one();
    }

    fn render(&self, infos: &[ProcInfo]) -> Vec<serde_json::Value> {
        infos
            .iter()
            .map(|i| {
                let usage = match i.pid {
                    Some(pid) => self.ctx.sampler.sample(pid),
                    None => Default::default(),
                };
                jlist::render(i, usage, &i.version)
            })
            .collect()
    }

    fn resolve(&self, targets: &[String]) -> Result<Vec<Instance>, String> {
        self.registry().resolve(targets)
    }

    /// Sends one control message to many instances at once and collects their snapshots.
    async fn each(
        &self,
        instances: Vec<Instance>,
        make: impl Fn(supervisor::Reply) -> Control + Clone + Send + 'static,
    ) -> Result<Vec<ProcInfo>, String> {
        let mut set = tokio::task::JoinSet::new();
        for inst in instances {
            let make = make.clone();
            set.spawn(async move {
                let res = inst.call(make).await;
                (inst.snapshot(), res)
            });
        }
        let mut out = Vec::new();
        let mut errors = Vec::new();
        while let Some(joined) = set.join_next().await {
            match joined {
                Ok((snap, Ok(()))) => out.push(snap),
                Ok((snap, Err(e))) => {
                    errors.push(e);
                    out.push(snap);
                }
                Err(e) => errors.push(e.to_string()),
            }
        }
        out.sort_by_key(|p| p.pm_id);
        match errors.into_iter().next() {
            Some(e) => Err(e),
            None => Ok(out),
        }
    }

    pub async fn handle(&self, req: Request) -> Response {
        match self.dispatch(req).await {
            Ok(r) => r,
            Err(message) => Response::Error { message },
        }
    }

    async fn dispatch(&self, req: Request) -> Result<Response, String> {
        let procs = |infos: Vec<ProcInfo>| Response::Procs {
            procs: self.render(&infos),
        };
        Ok(match req {
            Request::Hello(_) => return Err("already greeted".into()),
            Request::Subscribe => {
                return Err("subscribe must be the connection's only request".into())
            }
            Request::Ping => Response::Pong {
                pid: std::process::id(),
            },
            Request::List => procs(self.registry().snapshots()),
            Request::Start(r) => procs(start::start(self, r).await?),
            Request::Dump => procs(self.dump()?),
            Request::Scale(r) => procs(start::scale(self, &r.name, &r.count).await?),
            Request::Stop(t) => procs(self.each(self.resolve(&t.targets)?, Control::Stop).await?),
            Request::Restart(r) => {
                let list = self.resolve(&r.targets)?;
                let make = move |reply| Control::Restart {
                    env: r.update_env.clone().map(Box::new),
                    app_env: r.app_env.clone().map(Box::new),
                    graceful: r.graceful,
                    reply,
                };
                if r.graceful {
                    // A rolling reload: one instance at a time, so the others keep serving.
                    let mut done = Vec::new();
                    for inst in list {
                        done.extend(self.each(vec![inst], make.clone()).await?);
                    }
                    procs(done)
                } else {
                    procs(self.each(list, make).await?)
                }
            }
            Request::Delete(t) => procs(self.delete(&t).await?),
            Request::Reset(t) => {
                let list = self.resolve(&t.targets)?;
                for i in &list {
                    let mut g = i.info.lock().unwrap_or_else(|p| p.into_inner());
                    g.restart_time = 0;
                    g.unstable_restarts = 0;
                }
                procs(list.iter().map(|i| i.snapshot()).collect())
            }
            Request::Flush(t) => procs(self.flush(&t)?),
            Request::ReloadLogs => {
                self.ctx
                    .logs
                    .reopen_all()
                    .map_err(|e| format!("cannot reopen logs: {e}"))?;
                Response::Done
            }
            Request::SendSignal(r) => {
                let sig = supervisor::signal::parse(&r.signal)
                    .map_err(|_| format!("Unknown signal: {}", r.signal))?;
                procs(
                    self.each(self.resolve(&r.targets)?, move |reply| {
                        Control::Signal(sig, reply)
                    })
                    .await?,
                )
            }
            Request::SendLine(r) => {
                let list = self.resolve(std::slice::from_ref(&r.target))?;
                let line = r.line.clone();
                procs(
                    self.each(list, move |reply| Control::Stdin(line.clone(), reply))
                        .await?,
                )
            }
            Request::SendData(r) => {
                let inst = self
                    .registry()
                    .get(r.id)
                    .ok_or_else(|| format!("Process {} not found", r.id))?;
                let data = r.data.clone();
                procs(
                    self.each(vec![inst], move |reply| {
                        Control::Message(data.clone(), reply)
                    })
                    .await?,
                )
            }
            Request::Kill => {
                let all = self.registry().all();
                let _ = self.each(all, Control::Stop).await;
                Response::Done
            }
        })
    }

    async fn delete(&self, t: &TargetRequest) -> Result<Vec<ProcInfo>, String> {
        let list = self.resolve(&t.targets)?;
        let done = self.each(list, Control::Delete).await?;
        let mut reg = self.registry();
        for p in &done {
            reg.remove(p.pm_id);
        }
        if reg.is_empty() {
            // pm2 numbers from 0 again once the list is empty.
            *reg = Registry::default();
        }
        drop(reg);
        self.ctx.logs.release_unused();
        Ok(done)
    }

    fn flush(&self, t: &TargetRequest) -> Result<Vec<ProcInfo>, String> {
        let list = if t.targets.is_empty() {
            self.registry().all()
        } else {
            self.resolve(&t.targets)?
        };
        if t.targets.is_empty() {
            let _ = std::fs::OpenOptions::new()
                .write(true)
                .truncate(true)
                .open(self.ctx.home.daemon_log());
        }
        let snaps: Vec<ProcInfo> = list.iter().map(|i| i.snapshot()).collect();
        for p in &snaps {
            for path in [&p.paths.out, &p.paths.err, &p.paths.combined]
                .into_iter()
                .flatten()
            {
                match self.ctx.logs.get(path) {
                    Ok(f) => f
                        .truncate()
                        .map_err(|e| format!("cannot flush {}: {e}", path.display()))?,
                    Err(e) => return Err(format!("cannot flush {}: {e}", path.display())),
                }
            }
        }
        Ok(snaps)
    }

    /// Saves every app (one record per app, with its instance count) atomically, so
    /// `pm resurrect` can start them again. An empty list writes nothing, as pm2 does.
    fn dump(&self) -> Result<Vec<ProcInfo>, String> {
        let snaps = self.registry().snapshots();
        if snaps.is_empty() {
            return Ok(snaps);
        }
        let mut apps: Vec<serde_json::Value> = Vec::new();
        let mut seen: Vec<&str> = Vec::new();
        for p in &snaps {
            if seen.contains(&p.name.as_str()) {
                continue;
            }
            seen.push(&p.name);
            let count = snaps.iter().filter(|q| q.name == p.name).count();
            let mut spec = p.spec.clone();
            if count > 1 || spec.instances != crate::protocol::Instances::One {
                spec.instances = crate::protocol::Instances::Count(count as u32);
            }
            spec.namespace = Some(p.namespace.clone());
            apps.push(serde_json::json!({ "spec": spec, "env": p.env }));
        }
        let text = serde_json::to_vec_pretty(&apps).map_err(|e| e.to_string())?;
        let path = self.ctx.home.dump_file();
        crate::config::paths::write_atomic(&path, &text)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        Ok(snaps)
    }

    async fn stop_all(&self) {
        let all = self.registry().all();
        let _ = self.each(all, Control::Stop).await;
    }
}

/// Returns freed heap to the system once requests have stopped for a moment. A `start` of
/// fifty apps or a `jlist` of them allocates megabytes for a few milliseconds, and malloc
/// keeps such peaks; the daemon's resident size is part of what it promises.
async fn give_back_memory(daemon: Arc<Daemon>) {
    const QUIET: std::time::Duration = std::time::Duration::from_millis(500);
    loop {
        daemon.settled.notified().await;
        while tokio::time::timeout(QUIET, daemon.settled.notified())
            .await
            .is_ok()
        {}
        #[cfg(target_env = "gnu")]
        // SAFETY: malloc_trim only releases free memory; it is safe to call at any time.
        unsafe {
            libc::malloc_trim(0);
        }
    }
}

/// Binds the control socket, refusing to replace a daemon that still answers on it.
fn bind(home: &Home) -> anyhow::Result<tokio::net::UnixListener> {
    let path = home.rpc_socket();
    if std::os::unix::net::UnixStream::connect(&path).is_ok() {
        anyhow::bail!("a daemon is already running on {}", path.display());
    }
    let _ = std::fs::remove_file(&path);
    let listener = tokio::net::UnixListener::bind(&path)
        .with_context(|| format!("cannot bind {}", path.display()))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("cannot chmod {}", path.display()))?;
    Ok(listener)
}

/// Runs the daemon until `shutdown` resolves or a client sends `kill`, then stops every app.
pub async fn run(home: Home, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    home.ensure()
        .with_context(|| format!("cannot create {}", home.root.display()))?;
    let listener = bind(&home)?;
    crate::config::paths::write_atomic(&home.pid_file(), std::process::id().to_string().as_bytes())
        .with_context(|| format!("cannot write {}", home.pid_file().display()))?;
    let preload = home.root.join(crate::supervisor::spawn::PRELOAD_FILE);
    if let Err(e) =
        crate::config::paths::write_atomic(&preload, crate::supervisor::spawn::PRELOAD.as_bytes())
    {
        // Apps still run; they lose zero-downtime reload in fork mode and keep-alive draining.
        eprintln!("cannot write {}: {e}", preload.display());
    }
    let daemon = Arc::new(Daemon::new(home.clone()));
    eprintln!(
        "[{}] pm-native daemon {} started (pid {})",
        chrono::Local::now().to_rfc3339(),
        crate::protocol::VERSION,
        std::process::id()
    );
    let server = tokio::spawn(server::serve(listener, daemon.clone()));
    let trimmer = tokio::spawn(give_back_memory(daemon.clone()));
    tokio::select! {
        _ = shutdown => {}
        _ = daemon.shutdown.notified() => {}
    }
    daemon.stop_all().await;
    server.abort();
    trimmer.abort();
    let _ = std::fs::remove_file(home.rpc_socket());
    let _ = std::fs::remove_file(home.pid_file());
    eprintln!(
        "[{}] pm-native daemon stopped",
        chrono::Local::now().to_rfc3339()
    );
    Ok(())
}

/// The `pm daemon` entry: already detached by the client (setsid, stdio on pm.log); here the
/// process sets its umask and working directory and runs on a single-threaded runtime.
pub fn main(home: Home) -> anyhow::Result<()> {
    // Descriptors inherited from whoever started the first CLI must not leak into every app.
    // SAFETY: nothing in this process uses descriptors above stderr yet.
    unsafe { libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32) };
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o022));
    let _ = std::env::set_current_dir("/");
    #[cfg(target_env = "gnu")]
    // SAFETY: set before any other thread exists. One malloc arena: the blocking threads only
    // spawn, and an arena each would keep memory the daemon does not need.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
    // Blocking threads only run spawns (see Task::launch): a few, and not kept long, since
    // each idle one holds its stack and the daemon's memory is part of what it promises.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .max_blocking_threads(8)
        .thread_keep_alive(std::time::Duration::from_secs(2))
        .build()
        .context("cannot start the runtime")?;
    rt.block_on(async {
        let signals = async {
            use tokio::signal::unix::{signal, SignalKind};
            let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
                return std::future::pending().await;
            };
            // SIGHUP must not kill a daemon whose terminal went away.
            let mut hup = signal(SignalKind::hangup()).ok();
            loop {
                tokio::select! {
                    _ = term.recv() => return,
                    _ = int.recv() => return,
                    Some(_) = async { match hup.as_mut() { Some(h) => h.recv().await, None => std::future::pending().await } } => {}
                }
            }
        };
        run(home, signals).await
    })
}
