//! The keeper process (`pm keeper`): a blocking loop over one listening socket and the daemons
//! connected to it. It holds descriptors and does nothing with them; its whole state is the map
//! of owners, so it needs no runtime and keeps a few hundred KiB resident.
//!
//! It exits when told `bye` (a daemon stopped every app on purpose), or once no daemon is
//! connected and every app it keeps descriptors for has gone (each of them hung up: a pipe's
//! writer closed, the channel's peer closed), so a home whose apps were all killed by hand does
//! not keep a keeper forever.

use std::collections::{BTreeMap, BTreeSet};
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::path::Path;
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{
    self as sock, AddressFamily, Backlog, MsgFlags, SockFlag, SockType, UnixAddr,
};

use super::{recv, recv_with, send, socket_path, MAX_FDS};

/// A keeper nobody connected to yet waits this long for its daemon before judging its map.
const FIRST_CONTACT: Duration = Duration::from_secs(10);
/// How often the keeper looks whether its apps are gone while no daemon is connected.
const IDLE_CHECK_MS: u16 = 1000;

type Owners = BTreeMap<String, Vec<(String, OwnedFd)>>;

pub fn main(home: &Path) -> i32 {
    // Inherited descriptors would be kept open for as long as the keeper lives.
    // SAFETY: nothing in this process uses descriptors above stderr yet.
    unsafe { libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32) };
    raise_nofile();
    let path = socket_path(home);
    if super::Keeper::connect(&path).is_ok() {
        // Another keeper serves this home; two would split the descriptors between them.
        return 0;
    }
    let listener = match listen(&path) {
        Ok(l) => l,
        Err(e) => {
            elog!("fd keeper: cannot listen on {}: {e}", path.display());
            return 1;
        }
    };
    // Bound, so the daemon can connect as soon as this process exits: the keeper goes on in a
    // child of its own, which is nobody's child once this one has gone. The daemon then need
    // not keep a thread waiting to reap it (a second thread in the daemon keeps its
    // descriptors open for a moment after a SIGKILL, while the main thread already shows as a
    // zombie: a client would connect to a socket about to close).
    // SAFETY: this process has a single thread; the child only runs the loop below.
    match unsafe { nix::unistd::fork() } {
        Ok(nix::unistd::ForkResult::Parent { .. }) => return 0,
        Ok(nix::unistd::ForkResult::Child) => {}
        Err(e) => {
            elog!("fd keeper: fork: {e}");
            return 1;
        }
    }
    let code = serve(&listener, &path);
    let _ = std::fs::remove_file(&path);
    code
}

fn listen(path: &Path) -> std::io::Result<OwnedFd> {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::remove_file(path);
    let fd = sock::socket(
        AddressFamily::Unix,
        SockType::SeqPacket,
        SockFlag::SOCK_CLOEXEC,
        None,
    )?;
    sock::bind(fd.as_raw_fd(), &UnixAddr::new(path)?)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    sock::listen(&fd, Backlog::new(16).unwrap_or(Backlog::MAXCONN))?;
    Ok(fd)
}

fn serve(listener: &OwnedFd, path: &Path) -> i32 {
    let born = Instant::now();
    let mut ever_connected = false;
    let mut conns: Vec<OwnedFd> = Vec::new();
    let mut owners = Owners::new();
    loop {
        let mut fds = vec![PollFd::new(listener.as_fd(), PollFlags::POLLIN)];
        fds.extend(
            conns
                .iter()
                .map(|c| PollFd::new(c.as_fd(), PollFlags::POLLIN)),
        );
        let timeout = if conns.is_empty() {
            PollTimeout::from(IDLE_CHECK_MS)
        } else {
            PollTimeout::NONE
        };
        match poll(&mut fds, timeout) {
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => {
                elog!("fd keeper: poll: {e}");
                return 1;
            }
        }
        let ready: Vec<bool> = fds
            .iter()
            .map(|p| p.revents().is_some_and(|r| !r.is_empty()))
            .collect();
        drop(fds);
        let mut closed = BTreeSet::new();
        for i in 0..conns.len() {
            if !ready[i + 1] || closed.contains(&i) {
                continue;
            }
            match recv(&conns[i]) {
                Ok((header, _)) if header.is_empty() => {
                    closed.insert(i);
                }
                Ok((header, got)) => match handle(&header, got, &mut owners) {
                    Step::Go => {}
                    Step::Bye => return 0,
                    Step::Take => {
                        // What a dead daemon sent before it died may still wait in its
                        // connection: all of it counts before the successor is answered.
                        for j in (0..conns.len()).filter(|j| *j != i) {
                            match drain(&conns[j], &mut owners) {
                                Drained::Open => {}
                                Drained::Closed => {
                                    closed.insert(j);
                                }
                                Drained::Bye => return 0,
                            }
                        }
                        answer_take(&conns[i], &owners);
                    }
                },
                Err(_) => {
                    closed.insert(i);
                }
            }
        }
        for i in closed.into_iter().rev() {
            conns.remove(i);
        }
        if ready[0] {
            if let Ok(c) = sock::accept4(listener.as_raw_fd(), SockFlag::SOCK_CLOEXEC) {
                // SAFETY: accept4 returned a new descriptor that nothing else owns.
                let conn = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(c) };
                if peer_allowed(&conn) {
                    conns.push(conn);
                    ever_connected = true;
                }
            }
        }
        let waited = ever_connected || born.elapsed() > FIRST_CONTACT;
        if conns.is_empty() && waited && all_gone(&owners) {
            elog!(
                "fd keeper for {}: every app has gone and no daemon is connected, exiting",
                path.display()
            );
            return 0;
        }
    }
}

enum Step {
    Go,
    Bye,
    /// Answer with everything held (after the other connections' queued requests).
    Take,
}

enum Drained {
    Open,
    Closed,
    Bye,
}

/// Handles every request already queued on `conn`, without waiting for more.
/// `take` hands out every app's pipes and channel: only the keeper's own user (the daemon's)
/// and root may connect, by the kernel's word (`SO_PEERCRED`), whatever the socket's mode.
fn peer_allowed(conn: &OwnedFd) -> bool {
    let me = nix::unistd::geteuid().as_raw();
    match sock::getsockopt(conn, sock::sockopt::PeerCredentials) {
        Ok(c) if crate::sys::user::may_connect(c.uid(), me) => true,
        Ok(c) => {
            elog!(
                "fd keeper: refused a connection from uid {} (pid {})",
                c.uid(),
                c.pid()
            );
            false
        }
        Err(e) => {
            elog!("fd keeper: refused a connection whose peer is unknown: {e}");
            false
        }
    }
}

fn drain(conn: &OwnedFd, owners: &mut Owners) -> Drained {
    loop {
        match recv_with(conn, MsgFlags::MSG_DONTWAIT) {
            Ok((header, _)) if header.is_empty() => return Drained::Closed,
            Ok((header, got)) => match handle(&header, got, owners) {
                Step::Bye => return Drained::Bye,
                Step::Take => answer_take(conn, owners),
                Step::Go => {}
            },
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Drained::Open,
            Err(_) => return Drained::Closed,
        }
    }
}

fn answer_take(conn: &OwnedFd, owners: &Owners) {
    for (owner, held) in owners.iter() {
        for chunk in held.chunks(MAX_FDS) {
            let kinds: Vec<&str> = chunk.iter().map(|(k, _)| k.as_str()).collect();
            let raw: Vec<RawFd> = chunk.iter().map(|(_, f)| f.as_raw_fd()).collect();
            let header = format!("have\n{owner}\n{}", kinds.join(" "));
            if send(conn, header.as_bytes(), &raw).is_err() {
                return;
            }
        }
    }
    let _ = send(conn, b"end", &[]);
}

fn handle(header: &str, mut got: Vec<OwnedFd>, owners: &mut Owners) -> Step {
    let mut lines = header.split('\n');
    match lines.next() {
        Some("put") => {
            let owner = lines.next().unwrap_or_default().to_string();
            let kinds = lines.next().unwrap_or_default().split_ascii_whitespace();
            let held: Vec<(String, OwnedFd)> = kinds.map(String::from).zip(got.drain(..)).collect();
            owners.insert(owner, held);
        }
        Some("forget") => {
            owners.remove(lines.next().unwrap_or_default());
        }
        Some("take") => return Step::Take,
        Some("bye") => return Step::Bye,
        _ => {}
    }
    Step::Go
}

/// Whether every app owner's descriptors have all hung up (its process and its children are
/// gone). Listening sockets never hang up and do not count.
fn all_gone(owners: &Owners) -> bool {
    owners
        .iter()
        .filter(|(o, _)| o.starts_with("app "))
        .all(|(_, held)| {
            let mut fds: Vec<PollFd> = held
                .iter()
                .map(|(_, f)| PollFd::new(f.as_fd(), PollFlags::empty()))
                .collect();
            if poll(&mut fds, PollTimeout::ZERO).is_err() {
                return false;
            }
            fds.iter().all(|p| {
                p.revents()
                    .is_some_and(|r| r.intersects(PollFlags::POLLHUP | PollFlags::POLLERR))
            })
        })
}

/// A keeper of a thousand apps holds four thousand descriptors: the soft limit goes up to the
/// hard one.
fn raise_nofile() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit read and write one rlimit struct we own.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::os::fd::AsFd;

    use super::*;
    use crate::keeper::{parse_app_owner, Keeper};

    #[test]
    fn a_kept_pipe_outlives_the_senders_copy_and_comes_back_with_its_data() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = socket_path(dir.path());
        let listener = listen(&path).expect("listen");
        let server = {
            let path = path.clone();
            std::thread::spawn(move || serve(&listener, &path))
        };
        let (r, w) = std::io::pipe().expect("pipe");
        let (r2, _w2) = std::io::pipe().expect("pipe");
        {
            let daemon = Keeper::connect(&path).expect("connect");
            daemon.put("app 3 100 42", &[("out", r.as_fd())]);
            daemon.put("app 4 101 43", &[("out", r2.as_fd())]);
            daemon.forget("app 4 101 43");
            // The "daemon" goes: its connection and its copy of the read end close.
        }
        drop(r);
        // The writer still has a reader: no EPIPE.
        let mut w = w;
        w.write_all(b"kept line\n")
            .expect("write while only the keeper holds the pipe");
        let next = Keeper::connect(&path).expect("connect again");
        let held = next.take().expect("take");
        assert_eq!(held.len(), 1, "the forgotten owner is gone");
        assert_eq!(held[0].owner, "app 3 100 42");
        assert_eq!(parse_app_owner(&held[0].owner), Some((3, 100, 42)));
        let fd = held
            .into_iter()
            .next()
            .and_then(|mut h| h.fds.remove("out"));
        let mut back = std::fs::File::from(fd.expect("the out fd"));
        drop(w);
        let mut got = String::new();
        // The keeper still holds its copy, but EOF comes from the writer's side only.
        back.read_to_string(&mut got).expect("read");
        assert_eq!(got, "kept line\n");
        next.bye();
        assert_eq!(server.join().expect("keeper thread"), 0);
    }

    #[test]
    fn owner_names_round_trip_and_reject_garbage() {
        assert_eq!(
            parse_app_owner(&crate::keeper::app_owner(7, 1234, 99)),
            Some((7, 1234, 99))
        );
        assert_eq!(parse_app_owner("sock 0.0.0.0:80"), None);
        assert_eq!(parse_app_owner("app x 1 2"), None);
        assert_eq!(parse_app_owner("app 1 2"), None);
    }
}
