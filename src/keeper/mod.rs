//! The fd keeper: a tiny process per home (`pm keeper`, the same binary, no runtime, no V8)
//! holding a duplicate of every descriptor an app needs the daemon's end of: its stdout and
//! stderr pipes' read ends, its stdin's write end, its Node IPC channel, and the cluster
//! listening sockets. While the keeper holds them, a daemon that dies (SIGKILL, OOM, a crash)
//! closes nothing an app can see: a write to stdout still lands in the pipe (an app blocks, at
//! worst, once the pipe is full), a cluster worker's channel does not reach EOF, so it does not
//! exit. The next daemon takes the duplicates back over the same socket (SCM_RIGHTS) and carries
//! on reading where its predecessor stopped (see `daemon::live`).
//!
//! The wire is a `SOCK_SEQPACKET` unix socket, `keeper.sock` in the home (0600): one message is
//! one request, so a header and its descriptors never straddle two reads. Text headers, lines
//! separated by `\n`:
//!
//! - `put` / owner / kinds (space-separated), with one descriptor per kind: keep these under
//!   `owner`, replacing what it had;
//! - `forget` / owner: close them;
//! - `take`: the keeper answers `have` / owner / kinds with the descriptors, once per owner
//!   (it keeps its own copies), then `end`;
//! - `bye`: the daemon stopped every app on purpose; the keeper exits.
//!
//! Owners name what they hold: `app <pm_id> <pid> <start ticks>` for a child, `sock <key>` for
//! a listening socket of the cluster primary. Nothing is acknowledged except `take`: puts and
//! forgets are ordered by the socket, and a keeper that has gone costs only the survival of
//! apps across a daemon death, never a running app.

pub mod serve;

use std::collections::BTreeMap;
use std::io::{self, IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::socket::{
    self as sock, AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags, SockFlag, SockType,
    UnixAddr,
};

/// A header is a few words and a cluster key (a unix socket path at most 108 bytes).
const MAX_HEADER: usize = 4096;
/// Descriptors one message carries at most (an app's four; the kernel allows 253).
const MAX_FDS: usize = 8;

/// The keeper's socket in a home.
pub fn socket_path(home: &Path) -> PathBuf {
    home.join("keeper.sock")
}

/// What the keeper held under one owner.
#[derive(Debug)]
pub struct Held {
    pub owner: String,
    pub fds: BTreeMap<String, OwnedFd>,
}

/// The daemon's connection to its home's keeper. Cloning shares it; a disabled one (container
/// mode, or no keeper could be started) does nothing.
#[derive(Clone, Default)]
pub struct Keeper {
    inner: Option<Arc<Inner>>,
}

/// A keeper being started (see [`Keeper::start`]).
type Pending = std::thread::JoinHandle<io::Result<OwnedFd>>;

struct Inner {
    /// The home, to start another keeper should this one go (killed by hand).
    home: PathBuf,
    /// None while one is being started, or when starting it failed.
    conn: Mutex<Option<OwnedFd>>,
    pending: Mutex<Option<Pending>>,
    /// Starting the keeper failed: the daemon goes on without one.
    failed: AtomicBool,
    /// Set on a hand-over: the daemon exits without stopping its apps, and what its tasks do on
    /// the way out (dropping children, closing sockets) must not reach the keeper.
    frozen: AtomicBool,
}

impl Keeper {
    /// Connects to the home's keeper, or starts one (`<exe> keeper`, detached) when none
    /// answers. Starting one takes a few milliseconds that a cold `pm start` would wait for,
    /// so it goes on on a thread of its own: the first use waits for it, by when it is
    /// usually up. On failure the daemon runs without one: apps then do not outlive it.
    pub fn start(home: &Path) -> Keeper {
        let path = socket_path(home);
        if let Ok(conn) = connect(&path) {
            return Keeper::with(home.to_path_buf(), Some(conn), None);
        }
        let owned = home.to_path_buf();
        match std::thread::Builder::new()
            .name("keeper-start".into())
            .spawn(move || open(&owned))
        {
            Ok(pending) => Keeper::with(home.to_path_buf(), None, Some(pending)),
            Err(e) => match open(home) {
                Ok(conn) => Keeper::with(home.to_path_buf(), Some(conn), None),
                Err(e2) => {
                    elog!("fd keeper: {e2} (no thread to start it: {e}); apps will not outlive this daemon");
                    Keeper::default()
                }
            },
        }
    }

    /// Connects to a keeper already listening on `path`.
    pub fn connect(path: &Path) -> io::Result<Keeper> {
        let home = path.parent().unwrap_or(Path::new("/")).to_path_buf();
        Ok(Keeper::with(home, Some(connect(path)?), None))
    }

    fn with(home: PathBuf, conn: Option<OwnedFd>, pending: Option<Pending>) -> Keeper {
        Keeper {
            inner: Some(Arc::new(Inner {
                home,
                conn: Mutex::new(conn),
                pending: Mutex::new(pending),
                failed: AtomicBool::new(false),
                frozen: AtomicBool::new(false),
            })),
        }
    }

    /// Whether a keeper holds this daemon's descriptors (one being started counts once up).
    pub fn is_enabled(&self) -> bool {
        self.inner.as_deref().is_some_and(|i| {
            drop(i.conn());
            !i.failed.load(Ordering::SeqCst)
        })
    }

    /// Keeps duplicates of `fds` (kind, descriptor) under `owner`.
    pub fn put(&self, owner: &str, fds: &[(&str, BorrowedFd<'_>)]) {
        let Some(inner) = self.live() else { return };
        let kinds: Vec<&str> = fds.iter().map(|(k, _)| *k).collect();
        let raw: Vec<RawFd> = fds.iter().map(|(_, fd)| fd.as_raw_fd()).collect();
        let header = format!("put\n{owner}\n{}", kinds.join(" "));
        let mut conn = inner.conn();
        let Some(fd) = conn.as_ref() else { return };
        let sent = send(fd, header.as_bytes(), &raw).or_else(|e| {
            // The keeper went (killed by hand): another keeps what is handed over from now
            // on; what the first one held is lost.
            elog!("fd keeper: {e}; starting another");
            let fresh = open(&inner.home)?;
            let sent = send(&fresh, header.as_bytes(), &raw);
            *conn = Some(fresh);
            sent
        });
        if let Err(e) = sent {
            elog!("fd keeper: cannot hand over {owner}: {e}");
        }
    }

    /// Closes what the keeper holds under `owner` (the child exited, the socket was released).
    pub fn forget(&self, owner: &str) {
        let Some(inner) = self.live() else { return };
        if let Some(fd) = inner.conn().as_ref() {
            let _ = send(fd, format!("forget\n{owner}").as_bytes(), &[]);
        }
    }

    /// Everything the keeper holds; it keeps its copies until told to forget them.
    pub fn take(&self) -> io::Result<Vec<Held>> {
        let Some(inner) = self.inner.as_ref() else {
            return Ok(Vec::new());
        };
        let guard = inner.conn();
        let Some(conn) = guard.as_ref() else {
            return Err(io::Error::other("no keeper could be started"));
        };
        send(conn, b"take", &[])?;
        let mut out = Vec::new();
        loop {
            let (header, mut fds) = recv(conn)?;
            let mut lines = header.split('\n');
            match lines.next() {
                Some("end") => return Ok(out),
                Some("have") => {
                    let owner = lines.next().unwrap_or_default().to_string();
                    let kinds = lines.next().unwrap_or_default().split_ascii_whitespace();
                    let mut held = BTreeMap::new();
                    for kind in kinds {
                        if fds.is_empty() {
                            break;
                        }
                        held.insert(kind.to_string(), fds.remove(0));
                    }
                    out.push(Held { owner, fds: held });
                }
                _ => return Err(io::Error::other("unexpected answer from the fd keeper")),
            }
        }
    }

    /// From now on nothing reaches the keeper: this daemon hands its apps to the next one.
    pub fn freeze(&self) {
        if let Some(inner) = self.inner.as_ref() {
            inner.frozen.store(true, Ordering::SeqCst);
        }
    }

    /// Every app was stopped on purpose: the keeper has nothing left to keep and exits.
    pub fn bye(&self) {
        if let Some(inner) = self.live() {
            if let Some(fd) = inner.conn().as_ref() {
                let _ = send(fd, b"bye", &[]);
            }
        }
    }

    fn live(&self) -> Option<&Inner> {
        self.inner
            .as_deref()
            .filter(|i| !i.frozen.load(Ordering::SeqCst))
    }
}

impl Inner {
    /// The connection, once the keeper being started (if any) is up.
    fn conn(&self) -> std::sync::MutexGuard<'_, Option<OwnedFd>> {
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let pending = self
            .pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(pending) = pending {
            match pending.join() {
                Ok(Ok(fd)) => *conn = Some(fd),
                Ok(Err(e)) => {
                    elog!("fd keeper: {e}; apps will not outlive this daemon");
                    self.failed.store(true, Ordering::SeqCst);
                }
                Err(_) => {
                    elog!("fd keeper: its start failed; apps will not outlive this daemon");
                    self.failed.store(true, Ordering::SeqCst);
                }
            }
        }
        conn
    }
}

/// The owner name of a child: its instance, pid and start time (`/proc/<pid>/stat` field 22),
/// so a pid the kernel gave to another process since is never taken for it.
pub fn app_owner(pm_id: u32, pid: u32, start: u64) -> String {
    format!("app {pm_id} {pid} {start}")
}

/// `(pm_id, pid, start)` of an [`app_owner`] name.
pub fn parse_app_owner(owner: &str) -> Option<(u32, u32, u64)> {
    let mut w = owner.strip_prefix("app ")?.split(' ');
    let (id, pid, start) = (w.next()?, w.next()?, w.next()?);
    Some((id.parse().ok()?, pid.parse().ok()?, start.parse().ok()?))
}

/// The owner name of a cluster listening socket.
pub fn sock_owner(key: &str) -> String {
    format!("sock {key}")
}

/// A connection to the home's keeper, starting one (`<exe> keeper`, detached) when none answers.
fn open(home: &Path) -> io::Result<OwnedFd> {
    let path = socket_path(home);
    if let Ok(fd) = connect(&path) {
        return Ok(fd);
    }
    spawn(home).map_err(|e| io::Error::other(format!("cannot start it: {e}")))?;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match connect(&path) {
            Ok(fd) => return Ok(fd),
            Err(e) if Instant::now() > deadline => {
                let shown = path.display();
                return Err(io::Error::other(format!("not answering on {shown}: {e}")));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(2)),
        }
    }
}

fn connect(path: &Path) -> io::Result<OwnedFd> {
    let fd = sock::socket(
        AddressFamily::Unix,
        SockType::SeqPacket,
        SockFlag::SOCK_CLOEXEC,
        None,
    )?;
    sock::connect(fd.as_raw_fd(), &UnixAddr::new(path)?)?;
    // A keeper that stops reading must not stall the daemon's loop for long.
    let timeout = |s| nix::sys::time::TimeVal::new(s, 0);
    sock::setsockopt(&fd, sock::sockopt::SendTimeout, &timeout(1))?;
    sock::setsockopt(&fd, sock::sockopt::ReceiveTimeout, &timeout(5))?;
    Ok(fd)
}

fn send(fd: &OwnedFd, header: &[u8], fds: &[RawFd]) -> io::Result<()> {
    let iov = [IoSlice::new(header)];
    let rights = [ControlMessage::ScmRights(fds)];
    let cmsgs: &[ControlMessage] = if fds.is_empty() { &[] } else { &rights };
    sock::sendmsg::<()>(fd.as_raw_fd(), &iov, cmsgs, MsgFlags::MSG_NOSIGNAL, None)?;
    Ok(())
}

/// One message: its header and the descriptors that came with it (close-on-exec). An empty
/// header means the peer closed the connection.
fn recv(fd: &OwnedFd) -> io::Result<(String, Vec<OwnedFd>)> {
    recv_with(fd, MsgFlags::empty())
}

/// [`recv`] with more flags (`MSG_DONTWAIT`).
fn recv_with(fd: &OwnedFd, flags: MsgFlags) -> io::Result<(String, Vec<OwnedFd>)> {
    let mut buf = vec![0u8; MAX_HEADER];
    let mut space = nix::cmsg_space!([RawFd; MAX_FDS]);
    let mut iov = [IoSliceMut::new(&mut buf)];
    let msg = sock::recvmsg::<()>(
        fd.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC | flags,
    )?;
    let mut fds = Vec::new();
    for c in msg.cmsgs()? {
        if let ControlMessageOwned::ScmRights(list) = c {
            // SAFETY: the kernel installed these descriptors for us just now; nothing else
            // owns them.
            fds.extend(list.into_iter().map(|r| unsafe { OwnedFd::from_raw_fd(r) }));
        }
    }
    let n = msg.bytes;
    Ok((String::from_utf8_lossy(&buf[..n]).into_owned(), fds))
}

/// Starts `pm keeper` for the home, which detaches itself: its own session (a terminal's hangup
/// or the daemon's process group never reaches it), stdin on /dev/null, output where the
/// daemon's goes.
fn spawn(home: &Path) -> io::Result<()> {
    let exe = std::env::current_exe()?;
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("keeper")
        .env("PM_HOME", home)
        .stdin(std::process::Stdio::null())
        .current_dir("/");
    // SAFETY: setsid is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            nix::unistd::setsid().map_err(io::Error::from)?;
            Ok(())
        });
    }
    // It forks once it listens and returns (see `serve::main`): a short wait, no zombie.
    let status = cmd.status()?;
    if !status.success() {
        return Err(io::Error::other(format!("pm keeper exited with {status}")));
    }
    Ok(())
}
