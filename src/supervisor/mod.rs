//! One task per process instance, owning its child (watchexec's `Job` pattern): the daemon talks
//! to it through [`Control`] messages, and reads what it publishes in [`ProcInfo`]. Exits are
//! events (tokio reaps the child), so a restart never waits for a polling interval.

mod child;
pub mod policy;
pub mod signal;
pub mod spawn;
pub mod state;
pub mod triggers;
pub mod watch;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use nix::unistd::Pid;
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::config::Home;
use crate::ipc;
use crate::logs::{self, LogFiles, Sinks, Stream};
use crate::metrics::Sampler;
use crate::protocol::{Env, ExecMode};
use child::{read_channel, terminate};
use policy::{Decision, PolicyState};
pub use state::{now_ms, Launch, Paths, ProcInfo, Status};

/// A message on the event bus (pm2's `launchBus`): `process:event`, `log:out`, `log:err`,
/// `process:msg`.
#[derive(Debug, Clone)]
pub struct Event {
    pub channel: String,
    pub data: Value,
}

/// What every instance task shares with the daemon.
pub struct Ctx {
    pub home: Home,
    pub logs: LogFiles,
    pub bus: broadcast::Sender<Event>,
    pub sampler: Sampler,
    /// The Node cluster primary for every cluster-mode worker: shared listening sockets.
    pub primary: ipc::cluster::Primary,
}

pub type Reply<T = ()> = oneshot::Sender<Result<T, String>>;

pub enum Control {
    Start(Reply),
    Stop(Reply),
    Restart {
        /// `--update-env`: the caller's environment replaces the stored one. Boxed, as is
        /// `app_env`: every instance's queue allocates slots of the largest variant.
        env: Option<Box<Env>>,
        /// From an ecosystem file: the app's `env` replaces the stored one.
        app_env: Option<Box<Env>>,
        /// `reload`: start the replacement before stopping the old process.
        graceful: bool,
        reply: Reply,
    },
    Signal(Signal, Reply),
    Stdin(String, Reply),
    Message(Value, Reply),
    /// Stop, then end the task.
    Delete(Reply),
}

/// The daemon's handle to one instance.
#[derive(Clone)]
pub struct Instance {
    pub info: Arc<Mutex<ProcInfo>>,
    ctl: mpsc::Sender<Control>,
}

impl Instance {
    pub fn snapshot(&self) -> ProcInfo {
        self.info.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Sends a control message and waits for the task's answer.
    pub async fn call<T>(&self, make: impl FnOnce(Reply<T>) -> Control) -> Result<T, String> {
        let (tx, rx) = oneshot::channel();
        self.ctl
            .send(make(tx))
            .await
            .map_err(|_| "process task has ended".to_string())?;
        rx.await.map_err(|_| "process task has ended".to_string())?
    }
}

/// Creates the task for an instance and, when `start` is set, launches it.
pub fn create(ctx: Arc<Ctx>, info: ProcInfo, start: bool) -> Instance {
    let info = Arc::new(Mutex::new(info));
    let (tx, rx) = mpsc::channel(32);
    let task = Task {
        ctx,
        info: info.clone(),
        rx,
        running: None,
        policy: PolicyState::default(),
        restart_at: None,
        ready_rx: None,
        watcher: None,
        watch_deadline: None,
        cron_at: None,
        mem_check_at: None,
    };
    tokio::spawn(task.run(start));
    Instance { info, ctl: tx }
}

struct Running {
    child: tokio::process::Child,
    pid: u32,
    started: Instant,
    stdin: Option<tokio::process::ChildStdin>,
    channel: Option<ipc::Writer>,
    /// Set while waiting for `ready` (wait_ready): the deadline given by listen_timeout.
    ready_deadline: Option<tokio::time::Instant>,
    /// This child's place in the cluster primary, when it is a cluster worker.
    worker: Option<ipc::cluster::WorkerRef>,
    primary: ipc::cluster::Primary,
}

struct Task {
    ctx: Arc<Ctx>,
    info: Arc<Mutex<ProcInfo>>,
    rx: mpsc::Receiver<Control>,
    running: Option<Running>,
    policy: PolicyState,
    restart_at: Option<tokio::time::Instant>,
    /// `process.send('ready')` arrivals from the current child, forwarded by its channel reader.
    ready_rx: Option<mpsc::Receiver<()>>,
    /// File watching (`watch`), kept across restarts and dropped on stop.
    watcher: Option<watch::AppWatcher>,
    /// When a burst of file changes has settled (`watch_delay` after the last one).
    watch_deadline: Option<tokio::time::Instant>,
    /// The next `cron_restart` firing.
    cron_at: Option<tokio::time::Instant>,
    /// The next `max_memory_restart` check.
    mem_check_at: Option<tokio::time::Instant>,
}

async fn next_change(w: &mut Option<watch::AppWatcher>) -> Option<PathBuf> {
    match w {
        Some(w) => w.events.recv().await,
        None => std::future::pending().await,
    }
}

/// How often `max_memory_restart` is checked: one /proc read per app, so every second is cheap
/// (pm2 checks every 30 s). `PM2_WORKER_INTERVAL` (ms) overrides it, as in pm2.
fn memory_check() -> Duration {
    static EVERY: std::sync::OnceLock<Duration> = std::sync::OnceLock::new();
    *EVERY.get_or_init(|| {
        let ms = crate::config::knob("WORKER_INTERVAL")
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(1000);
        Duration::from_millis(ms.max(100))
    })
}

async fn wait_exit(r: &mut Option<Running>) -> std::io::Result<std::process::ExitStatus> {
    match r {
        Some(r) => r.child.wait().await,
        None => std::future::pending().await,
    }
}

async fn until(at: Option<tokio::time::Instant>) {
    match at {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

async fn next_ready(r: &mut Option<mpsc::Receiver<()>>) -> Option<()> {
    match r {
        Some(r) => r.recv().await,
        None => std::future::pending().await,
    }
}

/// pm2 reports `code || signal`: the exit code, or the signal name when one ended the process.
fn exit_value(st: &std::process::ExitStatus) -> (Option<i32>, Value) {
    use std::os::unix::process::ExitStatusExt;
    match (st.code(), st.signal()) {
        (Some(c), _) => (Some(c), c.into()),
        (None, Some(s)) => (
            None,
            Signal::try_from(s)
                .map(|s| Value::from(s.as_str()))
                .unwrap_or(Value::from(s)),
        ),
        _ => (None, Value::Null),
    }
}

impl Task {
    fn with_info<R>(&self, f: impl FnOnce(&mut ProcInfo) -> R) -> R {
        let mut g = self.info.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut g)
    }

    fn publish(&self, event: &str) {
        let data = self.with_info(|i| {
            json!({ "event": event, "at": now_ms(), "process": {
                "name": i.name, "pm_id": i.pm_id, "namespace": i.namespace, "status": i.status.as_str(),
                "restart_time": i.restart_time, "unstable_restarts": i.unstable_restarts,
            }})
        });
        let _ = self.ctx.bus.send(Event {
            channel: "process:event".into(),
            data,
        });
    }

    async fn run(mut self, start: bool) {
        if start {
            self.launch().await;
        }
        loop {
            let ready_deadline = self.running.as_ref().and_then(|r| r.ready_deadline);
            tokio::select! {
                status = wait_exit(&mut self.running) => self.on_exit(status),
                _ = until(self.restart_at) => {
                    self.restart_at = None;
                    self.with_info(|i| i.restart_time += 1);
                    self.launch().await;
                }
                Some(()) = next_ready(&mut self.ready_rx) => self.mark_online(),
                Some(path) = next_change(&mut self.watcher) => {
                    let delay = self.with_info(|i| i.spec.watch_delay.unwrap_or(1000));
                    if self.watch_deadline.is_none() {
                        eprintln!("Change detected on path {} for app {} - restarting", path.display(), self.with_info(|i| i.name.clone()));
                    }
                    self.watch_deadline = Some(tokio::time::Instant::now() + Duration::from_millis(delay));
                }
                _ = until(self.watch_deadline) => {
                    self.watch_deadline = None;
                    if self.running.is_some() {
                        self.restart_in_place().await;
                    }
                }
                _ = until(self.cron_at) => {
                    self.cron_at = None;
                    if self.running.is_some() {
                        self.restart_in_place().await;
                    }
                }
                _ = until(self.mem_check_at) => self.check_memory().await,
                _ = until(ready_deadline) => self.mark_online(),
                ctl = self.rx.recv() => {
                    let Some(ctl) = ctl else { break };
                    if self.control(ctl).await {
                        break;
                    }
                }
            }
        }
        self.ctx.logs.release_unused();
    }

    /// The second half of a zero-downtime reload: the new worker is starting; once it listens
    /// (or sends `ready`), bounded by `listen_timeout`, the old one is disconnected gracefully.
    /// The daemon holds the listening socket throughout, so no connection is refused.
    async fn replace(&mut self, old: &mut Running) {
        self.wait_ready_bounded().await;
        let spec = self.with_info(|i| i.spec.clone());
        let _ = terminate(&spec, old, true).await;
        self.ctx.sampler.forget(old.pid);
    }

    /// Waits until the new child is ready (listening, or `ready` with wait_ready), at most
    /// `listen_timeout` (pm2's default 3 s): an app that never signals is not waited on forever.
    async fn wait_ready_bounded(&mut self) {
        let wait = Duration::from_millis(self.with_info(|i| i.spec.listen_timeout.unwrap_or(3000)));
        if let (Some(_), Some(rx)) = (self.running.as_ref(), self.ready_rx.as_mut()) {
            let _ = tokio::time::timeout(wait, rx.recv()).await;
        }
        self.mark_online();
    }

    /// Stop then start again, counting a restart (cron, watch, memory).
    async fn restart_in_place(&mut self) {
        self.stop_child().await;
        self.with_info(|i| i.restart_time += 1);
        self.launch().await;
    }

    async fn check_memory(&mut self) {
        self.mem_check_at = None;
        let (limit, name) = self.with_info(|i| (i.spec.max_memory_restart, i.name.clone()));
        let (Some(limit), Some(pid)) = (limit, self.running.as_ref().map(|r| r.pid)) else {
            return;
        };
        let used = triggers::tree_rss(pid);
        if used > limit {
            eprintln!("[PM2][WORKER] Process {name} restarted because it exceeds --max-memory-restart value (current_memory={used} max_memory_limit={limit} [octets])");
            self.restart_in_place().await;
        } else {
            self.mem_check_at = Some(tokio::time::Instant::now() + memory_check());
        }
    }

    fn mark_online(&mut self) {
        if let Some(r) = self.running.as_mut() {
            r.ready_deadline = None;
        }
        let changed = self.with_info(|i| {
            let was = i.status;
            if was == Status::Launching {
                i.status = Status::Online;
            }
            was == Status::Launching
        });
        if changed {
            self.publish("online");
        }
    }

    /// Handles one control message; returns true when the task should end.
    async fn control(&mut self, ctl: Control) -> bool {
        match ctl {
            Control::Start(reply) => {
                if self.running.is_none() {
                    self.restart_at = None;
                    self.policy = PolicyState::default();
                    // pm2's bus announces a start before the process comes online.
                    self.publish("start");
                    self.launch().await;
                }
                let _ = reply.send(self.launch_result());
            }
            Control::Stop(reply) => {
                self.stop().await;
                let _ = reply.send(Ok(()));
            }
            Control::Restart {
                env,
                app_env,
                graceful,
                reply,
            } => {
                // pm2 counts a restart only when something was running.
                let was_running = self.running.is_some();
                // Overlap (new first, then the old one retired) needs the listening socket
                // to outlive the old process: a cluster worker's always does, a fork app's
                // when it listens through the daemon. Anything else restarts in place.
                let cluster = self.with_info(|i| i.spec.exec_mode()) == ExecMode::Cluster;
                let overlap = graceful
                    && self.running.as_ref().is_some_and(|r| {
                        r.worker
                            .as_ref()
                            .is_some_and(|w| cluster || self.ctx.primary.holds_sockets(w.id))
                    });
                let old = if overlap { self.running.take() } else { None };
                if old.is_none() {
                    self.stop_child().await;
                }
                self.with_info(|i| {
                    if let Some(env) = env {
                        i.env = *env;
                    }
                    if let Some(app_env) = app_env {
                        i.spec.env = *app_env;
                    }
                    if was_running {
                        i.restart_time += 1;
                    }
                });
                self.policy = PolicyState::default();
                self.launch().await;
                if let Some(mut old) = old {
                    self.replace(&mut old).await;
                } else if graceful && self.with_info(|i| i.spec.wait_ready == Some(true)) {
                    // A rolling reload of fork instances moves to the next one only once this
                    // one says it is ready (bounded by listen_timeout).
                    self.wait_ready_bounded().await;
                }
                self.publish("restart");
                let _ = reply.send(self.launch_result());
            }
            Control::Signal(sig, reply) => {
                let res = match &self.running {
                    Some(r) => nix::sys::signal::kill(Pid::from_raw(r.pid as i32), sig)
                        .map_err(|e| e.to_string()),
                    None => Err("process is not running".into()),
                };
                let _ = reply.send(res);
            }
            Control::Stdin(line, reply) => {
                let res = match self.running.as_mut().and_then(|r| r.stdin.as_mut()) {
                    Some(stdin) => {
                        let mut data = line.into_bytes();
                        data.push(b'\n');
                        stdin
                            .write_all(&data)
                            .await
                            .map_err(|e| format!("cannot write to the app's stdin: {e}"))
                    }
                    None => Err("process is not running".into()),
                };
                let _ = reply.send(res);
            }
            Control::Message(msg, reply) => {
                let res = match self.running.as_ref().and_then(|r| r.channel.clone()) {
                    Some(ch) => ch
                        .send_value(&msg)
                        .await
                        .map_err(|e| format!("cannot send to the app: {e}")),
                    None => {
                        Err("process has no IPC channel (not running, or not a Node app)".into())
                    }
                };
                let _ = reply.send(res);
            }
            Control::Delete(reply) => {
                self.stop().await;
                let _ = reply.send(Ok(()));
                return true;
            }
        }
        false
    }

    fn launch_result(&self) -> Result<(), String> {
        self.with_info(|i| match i.status {
            Status::Errored if i.pid.is_none() => Err(format!(
                "process {} failed to start (see pm logs {})",
                i.name, i.pm_id
            )),
            _ => Ok(()),
        })
    }

    async fn launch(&mut self) {
        let info = self.with_info(|i| {
            i.status = Status::Launching;
            i.clone()
        });
        // Cluster-mode Node apps are workers of the daemon's primary (Node's own protocol).
        // Fork-mode Node apps speak it too, through the preload, for their listening sockets
        // only; they get an id on the primary but no NODE_UNIQUE_ID.
        let cluster = info.spec.exec_mode() == ExecMode::Cluster;
        let worker_id = info
            .launch
            .is_node
            .then(|| self.ctx.primary.next_worker_id());
        // fork/exec waits until the child has exec'd, which takes long when fifty apps start
        // at once on a loaded machine: off the runtime thread, the launches overlap.
        let spawned = {
            let (info, home) = (info.clone(), self.ctx.home.root.clone());
            let unique_id = worker_id.filter(|_| cluster);
            tokio::task::spawn_blocking(move || spawn::spawn(&info, &home, unique_id))
                .await
                .unwrap_or_else(|e| Err(std::io::Error::other(e)))
        };
        let spawned = match spawned {
            Ok(s) => s,
            Err(e) => {
                let msg = format!("Error: spawn {} failed: {e}\n", info.launch.program);
                if let Some(p) = info.paths.err.as_ref() {
                    if let Ok(f) = self.ctx.logs.get(p) {
                        f.write(msg.as_bytes());
                    }
                }
                eprintln!("[{}] {} {msg}", now_ms(), info.name);
                self.with_info(|i| {
                    i.status = Status::Errored;
                    i.pid = None;
                });
                self.publish("errored");
                return;
            }
        };
        let mut child = spawned.child;
        let pid = child.id().unwrap_or(0);
        let stdin = child.stdin.take();
        self.attach_logs(&info, &mut child);
        let (ready_tx, ready_rx) = mpsc::channel(4);
        let wait_ready = info.spec.wait_ready == Some(true);
        let mut worker = None;
        let channel = match spawned.channel.map(ipc::open) {
            Some(Ok((reader, writer))) => {
                worker = worker_id.map(|id| self.ctx.primary.attach(id, writer.clone()));
                tokio::spawn(read_channel(
                    reader,
                    writer.clone(),
                    ready_tx,
                    self.ctx.clone(),
                    (info.pm_id, info.name.clone()),
                    worker.clone(),
                    !wait_ready,
                ));
                Some(writer)
            }
            Some(Err(e)) => {
                eprintln!("{}: cannot open the IPC channel: {e}", info.name);
                None
            }
            None => None,
        };
        let ready_deadline = wait_ready.then(|| {
            tokio::time::Instant::now()
                + Duration::from_millis(info.spec.listen_timeout.unwrap_or(3000))
        });
        let _ =
            crate::config::paths::write_replace(&info.paths.pid, pid.to_string().as_bytes(), false);
        self.with_info(|i| {
            i.pid = Some(pid);
            i.pm_uptime = now_ms();
            i.connected = channel.is_some();
            i.status = if wait_ready {
                Status::Launching
            } else {
                Status::Online
            };
        });
        self.ready_rx = Some(ready_rx);
        self.cron_at = info
            .spec
            .cron_restart
            .as_deref()
            .and_then(triggers::next_cron);
        self.mem_check_at = info
            .spec
            .max_memory_restart
            .map(|_| tokio::time::Instant::now() + memory_check());
        if self.watcher.is_none() {
            let own: Vec<PathBuf> = [&info.paths.out, &info.paths.err, &info.paths.combined]
                .into_iter()
                .flatten()
                .cloned()
                .collect();
            match watch::start(&info.spec, own) {
                Ok(w) => self.watcher = w,
                Err(e) => eprintln!("{}: {e}", info.name),
            }
        }
        self.running = Some(Running {
            child,
            pid,
            started: Instant::now(),
            stdin,
            channel,
            ready_deadline,
            worker,
            primary: self.ctx.primary.clone(),
        });
        self.publish(if wait_ready { "launching" } else { "online" });
    }

    fn attach_logs(&self, info: &ProcInfo, child: &mut tokio::process::Child) {
        let sinks = |own: &Option<PathBuf>| {
            let mut files = Vec::new();
            for p in [own.as_ref(), info.paths.combined.as_ref()]
                .into_iter()
                .flatten()
            {
                match self.ctx.logs.get(p) {
                    Ok(f) => files.push(f),
                    Err(e) => eprintln!("{}: cannot open log {}: {e}", info.name, p.display()),
                }
            }
            Sinks { files }
        };
        let format = logs::LineFormat {
            date_format: info
                .spec
                .log_date_format
                .as_deref()
                .map(crate::logs::pump::moment_to_chrono)
                .or_else(|| {
                    (info.spec.time == Some(true)).then(|| "%Y-%m-%dT%H:%M:%S".to_string())
                }),
            json: (info.spec.log_type.as_deref() == Some("json")).then(|| logs::pump::JsonTag {
                app_name: info.name.clone(),
                process_id: info.pm_id,
            }),
        };
        let streams = [
            (
                child
                    .stdout
                    .take()
                    .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
                Stream::Out,
                &info.paths.out,
            ),
            (
                child
                    .stderr
                    .take()
                    .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
                Stream::Err,
                &info.paths.err,
            ),
        ];
        for (reader, stream, own) in streams {
            let Some(reader) = reader else { continue };
            let bus = self.ctx.bus.clone();
            let (id, name) = (info.pm_id, info.name.clone());
            let channel = if stream == Stream::Out {
                "log:out"
            } else {
                "log:err"
            };
            tokio::spawn(logs::pump(
                reader,
                stream,
                sinks(own),
                format.clone(),
                move |line| {
                    if bus.receiver_count() > 0 {
                        let data = json!({ "process": { "pm_id": id, "name": name }, "data": String::from_utf8_lossy(line), "at": now_ms() });
                        let _ = bus.send(Event {
                            channel: channel.into(),
                            data,
                        });
                    }
                },
            ));
        }
    }

    fn on_exit(&mut self, status: std::io::Result<std::process::ExitStatus>) {
        let Some(running) = self.running.take() else {
            return;
        };
        self.ctx.sampler.forget(running.pid);
        let (code, value) = match &status {
            Ok(st) => exit_value(st),
            Err(_) => (None, Value::Null),
        };
        let spec = self.with_info(|i| i.spec.clone());
        let (decision, unstable) =
            policy::on_exit(&spec, &mut self.policy, code, running.started.elapsed());
        self.with_info(|i| {
            i.pid = None;
            i.connected = false;
            i.exit_code = Some(value);
            if unstable {
                i.unstable_restarts += 1;
            }
            let _ = std::fs::remove_file(&i.paths.pid);
        });
        match decision {
            Decision::Stop => {
                self.with_info(|i| i.status = Status::Stopped);
                self.publish("exit");
            }
            Decision::Errored => {
                self.with_info(|i| i.status = Status::Errored);
                self.publish("exit");
                self.publish("restart overlimit");
            }
            Decision::Restart { delay_ms } => {
                self.with_info(|i| {
                    i.status = if delay_ms > 0 {
                        Status::WaitingRestart
                    } else {
                        Status::Launching
                    }
                });
                self.publish("exit");
                self.restart_at =
                    Some(tokio::time::Instant::now() + Duration::from_millis(delay_ms));
            }
        }
    }

    /// pm2's stop: `kill_signal` (or the `shutdown` message) to the whole group, SIGKILL after
    /// `kill_timeout`, and the group is gone before this returns, grandchildren included.
    async fn stop(&mut self) {
        self.watcher = None;
        self.watch_deadline = None;
        self.stop_child().await;
    }

    async fn stop_child(&mut self) {
        self.restart_at = None;
        self.cron_at = None;
        self.mem_check_at = None;
        let Some(mut running) = self.running.take() else {
            self.with_info(|i| {
                if i.status != Status::Errored || i.pid.is_none() {
                    i.status = Status::Stopped;
                }
            });
            return;
        };
        let spec = self.with_info(|i| {
            i.status = Status::Stopping;
            i.spec.clone()
        });
        let status = terminate(&spec, &mut running, false).await;
        self.ctx.sampler.forget(running.pid);
        let value = status
            .as_ref()
            .map(|s| exit_value(s).1)
            .unwrap_or(Value::Null);
        self.with_info(|i| {
            i.status = Status::Stopped;
            i.pid = None;
            i.connected = false;
            i.exit_code = Some(value);
            let _ = std::fs::remove_file(&i.paths.pid);
        });
        self.publish("stop");
    }
}
