//! systemd's notify protocol for apps: each child gets its own unix datagram socket
//! (`<home>/notify/<pm_id>.<n>.sock`, 0600, named in `NOTIFY_SOCKET`), so apps written for
//! systemd (`sd-notify`, Python's `sdnotify`, Go's `daemon.SdNotify`) run unchanged, and a
//! datagram says which instance sent it by the socket it arrived on.
//!
//! Understood: `READY=1` (ready, as `process.send('ready')`), `WATCHDOG=1` (a ping; with
//! `watchdog_sec` a missed one restarts the app), `WATCHDOG=trigger` (restart now),
//! `STATUS=...` (shown by `pm describe`), `STOPPING=1` (the app is leaving: its silence is no
//! fault), `MAINPID=` (shown, and followed once the started process exits: see
//! `Task::follow_main_pid`). Anything else is ignored, as systemd does.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use super::monitor::{Source, Stamps, Verdict};
use super::state::HealthView;
use super::ProcInfo;

/// A bound socket; the file goes when this does.
pub(super) struct Bound {
    pub path: PathBuf,
    sock: Option<std::os::unix::net::UnixDatagram>,
}

impl Drop for Bound {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Binds a fresh socket for one launch of instance `pm_id` under `base` (the home, or for an
/// app run as another user the folder it can reach, with the socket given to that user). A
/// new name per launch: during a reload the old child's socket still exists while the new
/// one's is made.
pub(super) fn bind(
    base: &Path,
    pm_id: u32,
    owner: Option<&crate::sys::user::Identity>,
) -> std::io::Result<Bound> {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let dir = base.join("notify");
    // Apps of other users must pass through to their socket, not list the others.
    let dir_mode = if owner.is_some() { 0o711 } else { 0o700 };
    std::os::unix::fs::DirBuilderExt::mode(std::fs::DirBuilder::new().recursive(true), dir_mode)
        .create(&dir)?;
    let n = SEQ.fetch_add(1, Ordering::Relaxed);
    bind_at(dir.join(format!("{pm_id}.{n}.sock")), owner)
}

/// Binds `path` afresh: for an adopted child, the path its environment already names (the
/// dead daemon's socket file is still there, with nobody reading).
pub(super) fn bind_at(
    path: PathBuf,
    owner: Option<&crate::sys::user::Identity>,
) -> std::io::Result<Bound> {
    let _ = std::fs::remove_file(&path);
    let sock = crate::sys::sock::datagram(&path, 0o600)?;
    if let Some(id) = owner {
        // Still 0600: only the app's user (and root) may send to it.
        std::os::unix::fs::chown(&path, Some(id.uid), Some(id.gid))?;
    }
    Ok(Bound {
        path,
        sock: Some(sock),
    })
}

/// Reads the child's datagrams until the task is aborted (with the child).
pub(super) async fn read(
    mut bound: Bound,
    stamps: Arc<Stamps>,
    info: Arc<Mutex<ProcInfo>>,
    tx: mpsc::Sender<Verdict>,
) {
    let Some(std_sock) = bound.sock.take() else {
        return;
    };
    let Ok(sock) = tokio::net::UnixDatagram::from_std(std_sock) else {
        return;
    };
    loop {
        if sock.readable().await.is_err() {
            return;
        }
        // The buffer lives only while a datagram is read, not in every idle app's task.
        let mut buf = vec![0u8; 4096];
        let n = match sock.try_recv(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(_) => return,
        };
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        for line in text.lines() {
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            let with_view = |f: &mut dyn FnMut(&mut HealthView)| {
                let mut g = info.lock().unwrap_or_else(|p| p.into_inner());
                f(g.health.get_or_insert_with(HealthView::default));
            };
            match (key, value) {
                ("READY", "1") => {
                    Stamps::arm(&stamps.watchdog);
                    with_view(&mut |v| v.notify_ready = true);
                    let _ = tx.send(Verdict::Ready(Source::Notify)).await;
                }
                ("WATCHDOG", "1") => {
                    Stamps::touch(&stamps.watchdog);
                    with_view(&mut |v| v.last_watchdog = Some(super::now_ms()));
                }
                ("WATCHDOG", "trigger") => {
                    let why = "the app asked for it (WATCHDOG=trigger)".to_string();
                    let _ = tx
                        .send(Verdict::Restart {
                            reason: "watchdog",
                            why,
                        })
                        .await;
                }
                ("STATUS", s) => {
                    let s: String = s.chars().take(256).collect();
                    with_view(&mut |v| v.notify_status = Some(s.clone()));
                }
                ("STOPPING", "1") => {
                    stamps.stopping.store(true, Ordering::Relaxed);
                    with_view(&mut |v| v.stopping = true);
                }
                ("MAINPID", p) => {
                    if let Ok(pid) = p.trim().parse::<u32>() {
                        with_view(&mut |v| v.main_pid = Some(pid));
                    }
                }
                _ => {}
            }
        }
    }
}
