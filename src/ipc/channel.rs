//! One end of a Node IPC channel. Reading uses `recvmsg` because a child may pass a handle
//! (`process.send(msg, server)`), and Node stalls every later message on that channel until the
//! handle is acknowledged, so the reader must see the fd and answer it.

use std::collections::VecDeque;
use std::io;
use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use nix::sys::socket::{
    recvmsg, sendmsg, socketpair, AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags,
    SockFlag, SockType,
};
use std::sync::Arc;
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;
use tokio::sync::Mutex;

use super::lines::Lines;

/// A line longer than this without a newline is a broken peer; Node's own parser has no limit,
/// but the daemon must not buffer without bound.
const MAX_LINE: usize = 256 * 1024 * 1024;
/// Read size.
const CHUNK: usize = 64 * 1024;

/// The answers to a handle a child sent (`NODE_HANDLE`). Node queues every later message on
/// the channel until it hears one of the two.
pub const HANDLE_ACK: &str = "{\"cmd\":\"NODE_HANDLE_ACK\"}";
pub const HANDLE_NACK: &str = "{\"cmd\":\"NODE_HANDLE_NACK\"}";

/// Creates the pair: (parent end, child end). Both are close-on-exec; the spawner `dup2`s the
/// child end onto fd 3, which clears the flag for that copy only.
pub fn pair() -> io::Result<(OwnedFd, OwnedFd)> {
    socketpair(
        AddressFamily::Unix,
        SockType::Stream,
        None,
        SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
    )
    .map_err(io::Error::from)
}

/// A message from the child: the raw JSON line, and a handle when one came with it.
#[derive(Debug)]
pub struct Incoming {
    pub line: String,
    pub fd: Option<OwnedFd>,
}

/// Opens the parent's end: a reader for the owning task and a cloneable writer.
pub fn open(fd: OwnedFd) -> io::Result<(Reader, Writer)> {
    let flags = nix::fcntl::fcntl(&fd, nix::fcntl::FcntlArg::F_GETFL).map_err(io::Error::from)?;
    let flags = nix::fcntl::OFlag::from_bits_truncate(flags) | nix::fcntl::OFlag::O_NONBLOCK;
    nix::fcntl::fcntl(&fd, nix::fcntl::FcntlArg::F_SETFL(flags)).map_err(io::Error::from)?;
    // SAFETY: the AsyncFd owns the OwnedFd, so the descriptor stays open and unchanged for
    // as long as it is registered.
    let io =
        unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE | Interest::WRITABLE) }
            .map_err(|e| io::Error::other(e.to_string()))?;
    let io = Arc::new(io);
    Ok((
        Reader {
            io: io.clone(),
            lines: Lines::new(CHUNK, MAX_LINE),
            fds: VecDeque::new(),
        },
        Writer {
            io,
            lock: Arc::new(Mutex::new(())),
        },
    ))
}

pub struct Reader {
    io: Arc<AsyncFd<OwnedFd>>,
    lines: Lines,
    /// fds received with bytes not yet split into lines; Node sends one fd with the first bytes
    /// of its NODE_HANDLE line, so they pair up with lines in order.
    fds: VecDeque<OwnedFd>,
}

impl Reader {
    /// The next line from the child; `None` at EOF (the child exited or called disconnect()).
    pub async fn recv(&mut self) -> io::Result<Option<Incoming>> {
        loop {
            if let Some(line) = self.lines.next_line() {
                let line = String::from_utf8_lossy(line).into_owned();
                let fd = if line.contains("\"NODE_HANDLE\"") {
                    self.fds.pop_front()
                } else {
                    None
                };
                return Ok(Some(Incoming { line, fd }));
            }
            // Read into a buffer only once there is something to read: one held across the
            // wait would cost every idle app 64 KiB of daemon memory.
            self.lines.release();
            if self.read_some().await? == 0 {
                return Ok(None);
            }
        }
    }

    async fn read_some(&mut self) -> io::Result<usize> {
        loop {
            let mut guard = self.io.readable().await?;
            let raw = guard.get_inner().as_raw_fd();
            let spare = self.lines.spare()?;
            match guard.try_io(|_| recv_with_fds(raw, spare)) {
                Ok(Ok((n, fds))) => {
                    self.lines.commit(n);
                    self.fds.extend(fds);
                    return Ok(n);
                }
                Ok(Err(e)) => return Err(e),
                Err(_would_block) => continue,
            }
        }
    }
}

/// Writes whole messages; clones share one lock so two messages never interleave on the wire.
#[derive(Clone)]
pub struct Writer {
    io: Arc<AsyncFd<OwnedFd>>,
    lock: Arc<Mutex<()>>,
}

impl Writer {
    /// Writes one message (a JSON text without newline), optionally passing an fd with its first
    /// byte, as Node expects for NODE_HANDLE.
    pub async fn send(&self, json: &str, fd: Option<RawFd>) -> io::Result<()> {
        let _w = self.lock.lock().await;
        let mut data = Vec::with_capacity(json.len() + 1);
        data.extend_from_slice(json.as_bytes());
        data.push(b'\n');
        let mut off = 0;
        let mut fd = fd;
        while off < data.len() {
            let mut guard = self.io.writable().await?;
            let raw = guard.get_inner().as_raw_fd();
            match guard.try_io(|_| send_with_fd(raw, &data[off..], fd)) {
                Ok(Ok(n)) => {
                    off += n;
                    fd = None;
                }
                Ok(Err(e)) => return Err(e),
                Err(_would_block) => continue,
            }
        }
        Ok(())
    }

    /// Answers a handle the child sent (`NODE_HANDLE`): ACK when its fd arrived, NACK when not.
    pub async fn answer_handle(&self, got_fd: bool) -> io::Result<()> {
        let answer = if got_fd { HANDLE_ACK } else { HANDLE_NACK };
        self.send(answer, None).await
    }

    /// Sends a JSON value as one message.
    pub async fn send_value(&self, v: &serde_json::Value) -> io::Result<()> {
        self.send(&v.to_string(), None).await
    }
}

/// One non-blocking `recvmsg` into `buf`: the bytes read, and the descriptors that came with
/// them (a child passing a handle), owned by the caller.
pub fn recv_with_fds(fd: RawFd, buf: &mut [u8]) -> io::Result<(usize, Vec<OwnedFd>)> {
    let mut iov = [IoSliceMut::new(buf)];
    let mut space = nix::cmsg_space!([RawFd; 8]);
    let msg = recvmsg::<()>(
        fd,
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC | MsgFlags::MSG_DONTWAIT,
    )
    .map_err(io::Error::from)?;
    let mut fds = Vec::new();
    for c in msg.cmsgs().map_err(io::Error::from)? {
        if let ControlMessageOwned::ScmRights(list) = c {
            // SAFETY: the kernel just installed these descriptors in our table and nobody else
            // owns them yet.
            fds.extend(list.into_iter().map(|f| unsafe { OwnedFd::from_raw_fd(f) }));
        }
    }
    Ok((msg.bytes, fds))
}

fn send_with_fd(sock: RawFd, data: &[u8], fd: Option<RawFd>) -> io::Result<usize> {
    let iov = [IoSlice::new(data)];
    let fds;
    let cmsgs: &[ControlMessage] = match fd {
        Some(f) => {
            fds = [f];
            &[ControlMessage::ScmRights(&fds)]
        }
        None => &[],
    };
    sendmsg::<()>(sock, &iov, cmsgs, MsgFlags::MSG_NOSIGNAL, None).map_err(io::Error::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn lines_round_trip_across_the_pair() {
        let (a, b) = pair().expect("socketpair");
        let (ra, a) = open(a).expect("channel a");
        let (mut b, _wb) = open(b).expect("channel b");
        a.send("{\"hello\":1}", None).await.expect("send");
        a.send("\"ready\"", None).await.expect("send");
        assert_eq!(
            b.recv().await.expect("recv").expect("line").line,
            "{\"hello\":1}"
        );
        assert_eq!(
            b.recv().await.expect("recv").expect("line").line,
            "\"ready\""
        );
        drop((ra, a));
        assert!(
            b.recv().await.expect("recv").is_none(),
            "EOF after the peer closes"
        );
    }

    #[tokio::test]
    async fn passes_an_fd_with_a_handle_line() {
        let (a, b) = pair().expect("socketpair");
        let (_ra, a) = open(a).expect("channel a");
        let (mut b, _wb) = open(b).expect("channel b");
        let (x, _y) = pair().expect("another pair");
        a.send(
            "{\"cmd\":\"NODE_HANDLE\",\"type\":\"net.Native\"}",
            Some(x.as_raw_fd()),
        )
        .await
        .expect("send");
        let got = b.recv().await.expect("recv").expect("line");
        assert!(got.fd.is_some(), "the fd arrives with its line");
    }
}
