//! Unix sockets whose file is created with the mode asked for. `bind(2)` has no mode argument:
//! the file gets the socket inode's mode less the umask, so setting the mode on the socket
//! before binding (`fchmod`, which Linux applies to that inode) means the path never exists
//! with a wider mode, not even between `bind` and a later `chmod`.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

use nix::sys::socket::{self, AddressFamily, Backlog, SockFlag, SockType, UnixAddr};
use nix::sys::stat::{fchmod, Mode};

fn bound(path: &Path, kind: SockType, mode: u32) -> io::Result<OwnedFd> {
    let fd = socket::socket(
        AddressFamily::Unix,
        kind,
        SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
        None,
    )?;
    fchmod(&fd, Mode::from_bits_truncate(mode))?;
    socket::bind(fd.as_raw_fd(), &UnixAddr::new(path)?)?;
    Ok(fd)
}

/// A listening stream socket at `path` (non-blocking, close-on-exec), created with `mode`.
pub fn listener(path: &Path, mode: u32) -> io::Result<std::os::unix::net::UnixListener> {
    let fd = bound(path, SockType::Stream, mode)?;
    socket::listen(&fd, Backlog::new(1024).unwrap_or(Backlog::MAXCONN))?;
    Ok(fd.into())
}

/// A datagram socket bound at `path` (non-blocking, close-on-exec), created with `mode`.
pub fn datagram(path: &Path, mode: u32) -> io::Result<std::os::unix::net::UnixDatagram> {
    Ok(bound(path, SockType::Datagram, mode)?.into())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn the_socket_file_has_the_mode_asked_for_under_a_permissive_umask() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (s, d) = (dir.path().join("s.sock"), dir.path().join("d.sock"));
        let _l = super::listener(&s, 0o600).expect("listener");
        let _d = super::datagram(&d, 0o600).expect("datagram");
        for p in [&s, &d] {
            let mode = std::fs::metadata(p).expect("stat").permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", p.display());
        }
        std::os::unix::net::UnixStream::connect(&s).expect("connects");
    }
}
