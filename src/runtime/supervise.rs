//! The supervisor half of the runtime: the daemon's own code in the foreground, driven as the
//! CLI would drive it, on a home of its own.
//!
//! The home: `PM_HOME` (or `PM2_HOME`) when the environment sets one, so `pm ls` in the same
//! container (a Dockerfile `ENV PM_HOME=...` reaches `docker exec` too) talks to this runtime;
//! otherwise a fresh directory under `$TMPDIR`, removed at exit. The apps inherit `PM_HOME`
//! either way, so a `pm` started by an app finds its runtime.

use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::Notify;

use super::apps::{any_running, forward, start, stop_all};
use super::echo::{self, Echo, Style, To};
use super::Args;
use crate::cli::args::StartArgs;
use crate::config::Home;
use crate::protocol::{frame, Hello, Request, Response, PROTOCOL_VERSION, VERSION};

/// What to run, checked before anything starts.
pub struct Plan {
    start: StartArgs,
    style: Style,
    auto_exit: bool,
    delay: Duration,
}

impl Plan {
    pub fn new(a: Args) -> anyhow::Result<Plan> {
        let unsupported = [
            (a.public.is_some(), "--public"),
            (a.machine_name.is_some(), "--machine-name"),
            (a.trace, "--trace"),
            (a.v8, "--v8"),
            (a.deep_monitoring, "--deep-monitoring"),
            (a.web.is_some(), "--web"),
        ];
        for (given, flag) in unsupported {
            if given {
                elog!("[PM2][WARN] {flag} is not supported by pm-runtime and is ignored");
            }
        }
        let delay = match a.delay.as_deref() {
            None => Duration::ZERO,
            Some(d) => d
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|s| s.is_finite() && *s >= 0.0)
                .map(Duration::from_secs_f64)
                .ok_or_else(|| anyhow!("--delay must be a number of seconds, got \"{d}\""))?,
        };
        let style = if a.json {
            Style::Json
        } else if a.format {
            Style::KeyValue
        } else if a.formatted {
            Style::Formatted
        } else {
            Style::Raw
        };
        let mut start = a.start;
        // pm2-runtime's defaults: an app started from the command line keeps no log files,
        // its output is the container's. An ecosystem file's own paths are kept, as in pm2.
        if start.script() != "-" && !crate::config::ecosystem::is_config_file(start.script()) {
            start.output.get_or_insert_with(|| "/dev/null".into());
            start.error.get_or_insert_with(|| "/dev/null".into());
        }
        Ok(Plan {
            start,
            style,
            auto_exit: !a.no_auto_exit,
            delay,
        })
    }
}

/// Runs the apps until a stop signal, or until none is left running (unless `--no-auto-exit`).
/// Returns the exit code: the first non-zero exit status of an app (`128 + signal` for one a
/// signal ended), else 0; 1 when nothing could be started.
pub fn run(plan: Plan) -> i32 {
    // A closed stdout must not kill the supervisor and orphan the apps; writes just fail.
    // SAFETY: setting a disposition has no preconditions.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    let (home, temp) = match pick_home() {
        Ok(h) => h,
        Err(e) => {
            elog!("[PM2][ERROR] {e:#}");
            return 1;
        }
    };
    // The apps (and any `pm` they run) find this runtime. No thread exists yet.
    std::env::set_var("PM_HOME", &home.root);
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .max_blocking_threads(8)
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            elog!("[PM2][ERROR] cannot start the runtime: {e}");
            return 1;
        }
    };
    let code = rt.block_on(supervise(home, plan)).unwrap_or_else(|e| {
        elog!("[PM2][ERROR] {e:#}");
        1
    });
    rt.shutdown_timeout(Duration::from_secs(1));
    if let Some(dir) = temp {
        let _ = std::fs::remove_dir_all(dir);
    }
    code
}

fn pick_home() -> anyhow::Result<(Home, Option<PathBuf>)> {
    let set = |k: &str| std::env::var_os(k).is_some_and(|v| !v.is_empty());
    if set("PM_HOME") || set("PM2_HOME") {
        return Ok((Home::from_env(), None));
    }
    let id = uuid::Uuid::new_v4().simple().to_string();
    let dir = std::env::temp_dir().join(format!("pm-runtime-{}", &id[..12]));
    let home = Home::at(&dir);
    home.ensure()
        .with_context(|| format!("cannot create {}", dir.display()))?;
    Ok((home, Some(dir)))
}

/// The daemon and the driver side by side on one thread; the daemon stops once the driver is
/// done (which has stopped the apps by then).
async fn supervise(home: Home, plan: Plan) -> anyhow::Result<i32> {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let daemon = crate::daemon::run(
        home.clone(),
        async {
            let _ = rx.await;
            crate::daemon::Leave::Stop
        },
        Default::default(),
    );
    tokio::pin!(daemon);
    let driver = drive(home, plan);
    tokio::pin!(driver);
    let code = tokio::select! {
        r = &mut daemon => {
            r?;
            bail!("the supervisor stopped before the apps did");
        }
        code = &mut driver => code,
    };
    let _ = tx.send(());
    daemon.await?;
    code
}

/// What the echo task tells the driver.
#[derive(Default)]
struct Seen {
    /// A `process:event` arrived: time to look at the apps again.
    changed: Notify,
    /// When the last event of any kind arrived (ms), to let the last lines out before exit.
    last: AtomicI64,
}

async fn drive(home: Home, plan: Plan) -> anyhow::Result<i32> {
    // Before any app exists: a stop signal from here on stops the apps, never orphans them.
    let mut signals = Signals::new()?;

    let sock = connect(&home).await?;
    let seen = Arc::new(Seen::default());
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let echo = tokio::spawn(echo_task(sock, plan.style, seen.clone(), ready_tx));
    // Subscribed before the first start, so no app's first lines are missed.
    let _ = ready_rx.await;
    if !plan.delay.is_zero() {
        tokio::select! {
            _ = tokio::time::sleep(plan.delay) => {}
            // Asked to stop before anything started: done, cleanly.
            _ = signals.stop.recv() => {
                echo.abort();
                return Ok(0);
            }
        }
    }
    let code = match start(&home, plan.start.clone()).await {
        Err(e) => {
            elog!("[PM2][ERROR] {e:#}");
            Some(1)
        }
        Ok(0) => {
            elog!(
                "[PM2][ERROR] 0 application started (no apps to run on {})",
                plan.start.script()
            );
            Some(1)
        }
        Ok(_) => None,
    };
    let code = match code {
        // Nothing ran properly; still stop whatever did start.
        Some(code) => stop_all(&home).await.max(code),
        None => {
            wait(&home, &plan, &seen, &mut signals).await;
            stop_all(&home).await
        }
    };
    drain(&seen).await;
    echo.abort();
    Ok(code)
}

/// TERM, INT, HUP and QUIT: whatever a Dockerfile's `STOPSIGNAL` says, the apps stop.
struct StopSignals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
    quit: tokio::signal::unix::Signal,
}

impl StopSignals {
    async fn recv(&mut self) {
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.int.recv() => {}
            _ = self.hup.recv() => {}
            _ = self.quit.recv() => {}
        }
    }
}

struct Signals {
    stop: StopSignals,
    usr1: tokio::signal::unix::Signal,
    usr2: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> std::io::Result<Signals> {
        Ok(Signals {
            stop: StopSignals {
                term: signal(SignalKind::terminate())?,
                int: signal(SignalKind::interrupt())?,
                hup: signal(SignalKind::hangup())?,
                quit: signal(SignalKind::quit())?,
            },
            usr1: signal(SignalKind::user_defined1())?,
            usr2: signal(SignalKind::user_defined2())?,
        })
    }
}

/// Until a stop signal, or, with
/// auto-exit, until no app is running any more. USR1 and USR2 go on to every app.
async fn wait(home: &Home, plan: &Plan, seen: &Seen, s: &mut Signals) {
    // Each process event is a reason to look; the tick covers one missed while lagging.
    let mut tick = tokio::time::interval(Duration::from_secs(2));
    loop {
        let look = tokio::select! {
            _ = s.stop.recv() => return,
            _ = s.usr1.recv() => { forward(home, "SIGUSR1").await; false }
            _ = s.usr2.recv() => { forward(home, "SIGUSR2").await; false }
            _ = seen.changed.notified(), if plan.auto_exit => true,
            _ = tick.tick(), if plan.auto_exit => true,
        };
        if look && !any_running(home).await {
            note(plan.style, "0 application online, exiting");
            return;
        }
    }
}

/// Waits for the daemon's socket (bound on its first poll) and greets it.
async fn connect(home: &Home) -> anyhow::Result<tokio::net::UnixStream> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(mut s) = tokio::net::UnixStream::connect(home.rpc_socket()).await {
            let hello = Request::Hello(Hello {
                protocol: PROTOCOL_VERSION,
                version: VERSION.into(),
            });
            frame::write(&mut s, &hello).await?;
            match frame::read::<_, Response>(&mut s).await? {
                Response::Hello(_) => return Ok(s),
                other => bail!("unexpected answer from the supervisor: {other:?}"),
            }
        }
        if tokio::time::Instant::now() > deadline {
            bail!("the supervisor's socket never answered");
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Streams the bus onto stdout/stderr until aborted.
async fn echo_task(
    mut sock: tokio::net::UnixStream,
    style: Style,
    seen: Arc<Seen>,
    ready: tokio::sync::oneshot::Sender<()>,
) {
    use std::io::Write;
    if frame::write(&mut sock, &Request::Subscribe).await.is_err()
        || !matches!(
            frame::read::<_, Response>(&mut sock).await,
            Ok(Response::Done)
        )
    {
        elog!("[PM2][ERROR] cannot follow the apps' logs");
        let _ = ready.send(());
        return;
    }
    let _ = ready.send(());
    let mut echo = Echo::new(style);
    while let Ok(Response::Event(ev)) = frame::read::<_, Response>(&mut sock).await {
        seen.last
            .store(crate::sys::clock::now_ms(), Ordering::Relaxed);
        if matches!(ev, crate::protocol::BusEvent::Process(_)) {
            seen.changed.notify_one();
        }
        // Blocking writes on purpose: a slow reader of our stdout slows the log pump, and so
        // the apps, as it would slow an app writing to it directly.
        for (to, text) in echo.render(&ev) {
            let _ = match to {
                To::Out => std::io::stdout().lock().write_all(text.as_bytes()),
                To::Err => std::io::stderr().lock().write_all(text.as_bytes()),
            };
        }
    }
}

/// Lets the apps' last lines through: until the bus has been quiet for a moment, at most 1 s.
async fn drain(seen: &Seen) {
    let until = tokio::time::Instant::now() + Duration::from_secs(1);
    while tokio::time::Instant::now() < until {
        let quiet = crate::sys::clock::now_ms() - seen.last.load(Ordering::Relaxed);
        if quiet > 150 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// One of pm2's own `PM2 log:` lines, on stdout; not in `--json`, whose stdout is all JSON.
fn note(style: Style, msg: &str) {
    if style != Style::Json {
        // Not `print!`: a closed or full stdout must not panic the container's supervisor.
        use std::io::Write as _;
        let _ = write!(
            std::io::stdout(),
            "{}",
            echo::pm2_log(crate::sys::clock::now_ms(), msg)
        );
    }
}
