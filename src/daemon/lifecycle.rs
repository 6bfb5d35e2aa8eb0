//! The daemon's life: binding the socket, the pid and preload files, the single-threaded
//! runtime, and stopping every app on the way out.

use std::future::Future;
use std::sync::Arc;

use anyhow::Context;

use super::{server, Daemon};
use crate::config::Home;

/// Returns freed heap to the system once requests have stopped for a moment. A `start` of
/// fifty apps or a `jlist` of them allocates megabytes for a few milliseconds, and malloc
/// keeps such peaks; the daemon's resident size is part of what it promises.
///
/// Someone polling every second (`pm monit`, the dashboard, a Prometheus scraper) faults the
/// dropped pages straight back in, and the trim, its smaps walk and the faults were a quarter
/// of a watched daemon's CPU. So while requests keep coming soon after a trim, trims space out
/// (doubling, up to one per `MAX_GAP`); once the daemon has been left alone they are prompt
/// again.
async fn give_back_memory(daemon: Arc<Daemon>) {
    use std::time::{Duration, Instant};
    const QUIET: Duration = Duration::from_millis(500);
    const SOON: Duration = Duration::from_secs(2);
    const MAX_GAP: Duration = Duration::from_secs(8);
    let mut last: Option<Instant> = None;
    let mut gap = Duration::ZERO;
    loop {
        daemon.settled.notified().await;
        gap = match last {
            Some(t) if t.elapsed() < SOON => (gap * 2).clamp(Duration::from_secs(1), MAX_GAP),
            _ => Duration::ZERO,
        };
        loop {
            while tokio::time::timeout(QUIET, daemon.settled.notified())
                .await
                .is_ok()
            {}
            let due = last.map_or(Duration::ZERO, |t| {
                (t + gap).saturating_duration_since(Instant::now())
            });
            if due.is_zero() {
                break;
            }
            tokio::time::sleep(due).await;
        }
        last = Some(Instant::now());
        #[cfg(target_env = "gnu")]
        // SAFETY: malloc_trim only releases free memory; it is safe to call at any time.
        unsafe {
            libc::malloc_trim(0);
        }
        drop_idle_file_pages();
    }
}

/// Unmaps code and read-only data the daemon is not using from its pages once it is quiet. The
/// one `pm` binary holds the CLI, the runtime and the daemon, and start-up or a burst of
/// requests faults in megabytes of code (the kernel maps 64 KiB around each fault) that an idle
/// daemon does not run. The pages stay in the page cache, so whatever the next request needs
/// comes back with minor faults (well under a millisecond). Only read-only file mappings that
/// were never written (no anonymous pages in smaps): dropping those loses nothing, where a
/// relocated page would lose its relocations.
fn drop_idle_file_pages() {
    let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps") else {
        return;
    };
    let mut current: Option<(usize, usize)> = None;
    for line in smaps.lines() {
        let mut f = line.split_ascii_whitespace();
        let Some(first) = f.next() else { continue };
        if let Some((a, b)) = first.split_once('-') {
            // A mapping's header: range, perms, offset, dev, inode, path.
            let (perms, inode) = (f.next(), f.nth(2));
            let file_backed = inode.is_some_and(|i| i != "0");
            current = match (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16)) {
                (Ok(from), Ok(to)) if file_backed && matches!(perms, Some("r-xp" | "r--p")) => {
                    Some((from, to))
                }
                _ => None,
            };
        } else if first == "Anonymous:" {
            let Some((from, to)) = current.take() else {
                continue;
            };
            if f.next() != Some("0") {
                continue;
            }
            // SAFETY: a whole private read-only file mapping none of whose pages was written:
            // after MADV_DONTNEED its pages are read back from the file on the next access,
            // unchanged.
            unsafe {
                libc::madvise(from as *mut libc::c_void, to - from, libc::MADV_DONTNEED);
            }
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
    // Created 0600: only this user (and root) may even try to connect; the server checks each
    // peer's credentials as well (see server::allowed).
    let listener = crate::sys::sock::listener(&path, 0o600)
        .and_then(tokio::net::UnixListener::from_std)
        .with_context(|| format!("cannot bind {}", path.display()))?;
    Ok(listener)
}

/// How the daemon leaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leave {
    /// Stop every app, as pm2 does (SIGTERM, SIGINT, `pm kill`).
    Stop,
    /// Leave every app running for the next daemon to adopt (`pm update`, SIGUSR1).
    HandOver,
}

/// Runs the daemon until `shutdown` resolves or a client sends `kill`, then stops every app,
/// or, when `shutdown` says so, hands them over to the next daemon.
pub async fn run(
    home: Home,
    shutdown: impl Future<Output = Leave>,
    opts: super::boot::Options,
) -> anyhow::Result<()> {
    home.ensure()
        .with_context(|| format!("cannot create {}", home.root.display()))?;
    let listener = bind(&home)?;
    for pid_file in [home.pid_file(), home.pm2_pid_file()] {
        crate::config::paths::write_atomic(&pid_file, std::process::id().to_string().as_bytes())
            .with_context(|| format!("cannot write {}", pid_file.display()))?;
    }
    use crate::supervisor::spawn::{PRELOAD, PRELOAD_FILE, SERVE};
    // Without the preload apps still run; they lose zero-downtime reload in fork mode and
    // keep-alive draining. Without serve.js only `pm serve` apps fail, each with its own error.
    for (path, text) in [
        (home.root.join(PRELOAD_FILE), PRELOAD),
        (home.serve_file(), SERVE),
    ] {
        // A daemon starting over the same binary finds them written: rewriting (an fsync
        // each) would only delay its first answer.
        if std::fs::read(&path).is_ok_and(|old| old == text.as_bytes()) {
            continue;
        }
        // Code apps load, no secret in it: readable, for apps run as another user too.
        if let Err(e) = crate::config::paths::write_atomic_mode(&path, text.as_bytes(), 0o644) {
            elog!("cannot write {}: {e}", path.display());
        }
    }
    let keeper = match opts.keep {
        true => crate::keeper::Keeper::start(&home.root),
        false => Default::default(),
    };
    super::live::set_service(opts.notify.is_enabled());
    let daemon = Arc::new(Daemon::new(home.clone(), keeper.clone()));
    elog!(
        "[{}] pm-native daemon {} started (pid {})",
        chrono::Local::now().to_rfc3339(),
        crate::protocol::VERSION,
        std::process::id()
    );
    // Before the socket serves: a request never sees the table half rebuilt.
    let found = match opts.keep {
        true => super::live::adopt(&daemon),
        false => Default::default(),
    };
    let live = opts
        .keep
        .then(|| tokio::spawn(super::live::run(daemon.clone())));
    let boot = super::boot::Options {
        // A predecessor died and took every app with it: what the user saved comes back.
        resurrect: opts.resurrect || found == super::live::Found::NothingRuns,
        ..opts
    };
    let server = tokio::spawn(server::serve(listener, daemon.clone()));
    let trimmer = tokio::spawn(give_back_memory(daemon.clone()));
    let rotation_stop = Arc::new(tokio::sync::Notify::new());
    super::rotation::start(&daemon, rotation_stop.clone());
    super::observe::start(&daemon);
    let autodump = tokio::spawn(super::autodump::run(daemon.clone()));
    crate::config::paths::sweep_private_temps(&home.dump_file());
    let leave = tokio::select! {
        leave = shutdown => leave,
        _ = daemon.shutdown.notified() => Leave::Stop,
        _ = super::boot::up(&daemon, &boot) => Leave::Stop,
    };
    let opts = boot;
    if leave == Leave::HandOver {
        // The keeper holds every app's descriptors; the state says what they are. Nothing
        // this daemon drops on its way out may reach the keeper.
        keeper.freeze();
        if let Some(l) = live {
            l.abort();
        }
        super::live::write_for_successor(&daemon);
        server.abort();
        for f in [home.rpc_socket(), home.pid_file(), home.pm2_pid_file()] {
            let _ = std::fs::remove_file(f);
        }
        if super::live::under_service() {
            elog!(
                "[{}] pm-native daemon left its apps for the service manager to start the new binary",
                chrono::Local::now().to_rfc3339()
            );
            // Exits here, not through the runtime's teardown: nothing is left to drop that
            // matters, and the status is what makes systemd start the successor.
            std::process::exit(super::live::EXIT_FOR_SUCCESSOR);
        }
        elog!(
            "[{}] pm-native daemon handed its apps over and stopped",
            chrono::Local::now().to_rfc3339()
        );
        return Ok(());
    }
    opts.notify.stopping();
    daemon.stop_all().await;
    if let Some(l) = live {
        l.abort();
    }
    super::live::remove(&daemon);
    keeper.bye();
    server.abort();
    trimmer.abort();
    rotation_stop.notify_one();
    // A gzip of a rotated log in progress completes, or its half-written temp file would be
    // all that is left of it.
    let files = daemon.ctx.logs.clone();
    let done = tokio::task::spawn_blocking(move || {
        files.wait_rotations(std::time::Duration::from_secs(30))
    });
    if !matches!(done.await, Ok(true)) {
        elog!("log rotation: compression still running at exit");
    }
    autodump.abort();
    let _ = std::fs::remove_file(home.rpc_socket());
    crate::supervisor::shared::remove(&home.root);
    let _ = std::fs::remove_file(home.pid_file());
    let _ = std::fs::remove_file(home.pm2_pid_file());
    elog!(
        "[{}] pm-native daemon stopped",
        chrono::Local::now().to_rfc3339()
    );
    Ok(())
}

/// The `pm daemon` entry: already detached by the client (setsid, stdio on pm.log); here the
/// process sets its umask and working directory and runs on a single-threaded runtime.
/// Under systemd (`pm startup`) it runs in the foreground instead, with `resurrect` set.
pub fn main(home: Home, resurrect: bool) -> anyhow::Result<()> {
    // Descriptors inherited from whoever started the first CLI must not leak into every app.
    // SAFETY: nothing in this process uses descriptors above stderr yet.
    unsafe { libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32) };
    // Before any thread exists: it takes the notify variables out of the environment.
    let opts = super::boot::Options {
        resurrect,
        notify: crate::sys::notify::Notifier::from_env(),
        keep: true,
    };
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o022));
    let _ = std::env::set_current_dir("/");
    crate::process::spawn::mark_inherited_cloexec();
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
            let (Ok(mut term), Ok(mut int), Ok(mut usr1)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt()), signal(SignalKind::user_defined1())) else {
                return std::future::pending().await;
            };
            // SIGHUP must not kill a daemon whose terminal went away.
            let mut hup = signal(SignalKind::hangup()).ok();
            loop {
                tokio::select! {
                    _ = term.recv() => return Leave::Stop,
                    _ = int.recv() => return Leave::Stop,
                    // `pm update`: the new binary's daemon takes over the running apps.
                    _ = usr1.recv() => return Leave::HandOver,
                    Some(_) = async { match hup.as_mut() { Some(h) => h.recv().await, None => std::future::pending().await } } => {}
                }
            }
        };
        run(home, signals, opts).await
    })
}
