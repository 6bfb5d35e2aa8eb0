//! The parent → child half of the channel, with Node's `send()` semantics.
//!
//! `send` writes straight from the JS thread with a non-blocking `sendmsg`, as libuv's
//! try-write does for `child_process`: most messages cost one syscall and no thread hop. What
//! the socket does not take is queued and written by [`flush`] on the runtime when the socket
//! drains; its completion reaches JS as a `sent` event so the send callback fires after the
//! write, like Node's. While no child is attached (between a crash and the restart) messages
//! are queued, up to `max_queue` of them, and go to the next child in order.

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::sync::{Arc, Mutex, MutexGuard};

use nix::sys::socket::{sendmsg, MsgFlags};
use tokio::io::unix::AsyncFd;
use tokio::sync::Notify;

use super::events::Event;

/// Where the outbox reports `sent` and `dropped` (the child's event stream).
pub type Report = Box<dyn Fn(Event) + Send + Sync>;

/// The parent's end of one child's channel, shared by the writer and the reader.
pub type Channel = Arc<OwnedFd>;

/// What `send` did with a message.
#[derive(Debug, PartialEq, Eq)]
pub enum Sent {
    /// Entirely written to the socket.
    Written,
    /// Queued under this sequence number; a `sent` event reports it written.
    Queued(u64),
    /// The channel is closed for good (stopped, disconnected, or gave up restarting).
    Closed,
    /// No child is attached and `max_queue` messages already wait for one.
    Full,
}

struct Pending {
    seq: u64,
    data: Vec<u8>,
    /// Bytes already written; a message cut short by a dying child cannot be resumed.
    off: usize,
    /// Channel bookkeeping (a handle ACK) that only makes sense to the current child.
    internal: bool,
    /// JS waits for a `sent` event for it (a send callback).
    ack: bool,
}

struct Inner {
    chan: Option<Channel>,
    /// The current channel failed (EPIPE): the child is dying, hold messages for the next one.
    broken: bool,
    /// The socket was full at the last write; only a writability report (a drain) clears it,
    /// so sends meanwhile queue without a write attempt bound to fail.
    blocked: bool,
    queue: VecDeque<Pending>,
    queued_bytes: usize,
    next_seq: u64,
    closed: bool,
    max_queue: usize,
    /// Under the lock, so JS sees `sent` and `dropped` in the order they happened. Dropped at
    /// close: it holds the JS callback, which holds the JS object that holds this outbox, and
    /// that cycle would otherwise keep every finished child's objects alive.
    report: Option<Report>,
}

impl Inner {
    fn report(&self, ev: Event) {
        if let Some(r) = self.report.as_ref() {
            r(ev);
        }
    }
}

pub struct Outbox {
    inner: Mutex<Inner>,
    /// Wakes [`flush`] when there is something to write or the channel changed.
    wake: Notify,
}

impl Outbox {
    pub fn new(max_queue: usize, report: Report) -> Self {
        Outbox {
            inner: Mutex::new(Inner {
                chan: None,
                broken: false,
                blocked: false,
                queue: VecDeque::new(),
                queued_bytes: 0,
                next_seq: 1,
                closed: false,
                max_queue,
                report: Some(report),
            }),
            wake: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sends one JSON text (without its newline). With `ack`, a queued message is reported by
    /// a `sent` event once written (JS only asks when the caller passed a callback).
    pub fn send(&self, json: &[u8], ack: bool) -> Sent {
        self.push(json, false, ack)
    }

    /// Bookkeeping for the current child only (e.g. NODE_HANDLE_ACK); never queued for the next.
    pub fn send_internal(&self, json: &str) {
        let _ = self.push(json.as_bytes(), true, false);
    }

    fn push(&self, json: &[u8], internal: bool, ack: bool) -> Sent {
        let mut g = self.lock();
        if g.closed {
            return Sent::Closed;
        }
        let live = g.chan.as_ref().filter(|_| !g.broken).cloned();
        if internal && live.is_none() {
            return Sent::Closed;
        }
        let mut off = 0;
        if let Some(chan) = live.as_ref() {
            // A backlog the socket may have room for by now goes first, keeping the order.
            if !g.queue.is_empty() && !g.blocked {
                self.drain_locked(&mut g, chan);
            }
            if g.queue.is_empty() {
                match write_parts(chan.as_raw_fd(), &[json, b"\n"]) {
                    Ok(n) if n == json.len() + 1 => return Sent::Written,
                    Ok(n) => {
                        off = n;
                        g.blocked = true;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => g.blocked = true,
                    // The child is going away; the supervisor re-attaches or closes shortly.
                    Err(_) => g.broken = true,
                }
            }
        } else if g.queue.len() >= g.max_queue {
            return Sent::Full;
        }
        let was_idle = g.queue.is_empty();
        let seq = g.next_seq;
        g.next_seq += 1;
        let mut data = Vec::with_capacity(json.len() + 1);
        data.extend_from_slice(json);
        data.push(b'\n');
        g.queued_bytes += data.len() - off;
        g.queue.push_back(Pending {
            seq,
            data,
            off,
            internal,
            ack,
        });
        drop(g);
        // Only an idle flusher needs waking; a busy one picks this up with the rest.
        if was_idle {
            self.wake.notify_one();
        }
        Sent::Queued(seq)
    }

    /// Bytes waiting to be written (Node's `channel.writeQueueSize`).
    pub fn queued_bytes(&self) -> usize {
        self.lock().queued_bytes
    }

    /// A new child is up: queued messages go to it.
    pub fn attach(&self, chan: Channel) {
        let mut g = self.lock();
        if g.closed {
            return;
        }
        g.chan = Some(chan);
        g.broken = false;
        g.blocked = false;
        drop(g);
        self.wake.notify_one();
    }

    /// The child is gone. A message it got only part of is lost, as is bookkeeping meant for
    /// it, and so is the oldest of any backlog beyond `max_queue`; the rest wait for the next
    /// child. What is lost is reported as dropped (the send callbacks get an error).
    pub fn detach(&self) {
        let mut g = self.lock();
        g.chan = None;
        g.broken = false;
        g.blocked = false;
        let mut dropped = None;
        g.queue.retain(|p| !p.internal || p.off > 0);
        while let Some(front) = g.queue.front() {
            if front.off == 0 && g.queue.len() <= g.max_queue {
                break;
            }
            dropped = Some(front.seq);
            g.queue.pop_front();
        }
        g.queued_bytes = g.queue.iter().map(|p| p.data.len() - p.off).sum();
        if let Some(seq) = dropped {
            g.report(Event::Dropped(seq));
        }
    }

    /// No more children will come: every queued message fails with "channel closed".
    pub fn close(&self) {
        let mut g = self.lock();
        if g.closed {
            return;
        }
        g.closed = true;
        g.chan = None;
        if let Some(last) = g.queue.back() {
            g.report(Event::Dropped(last.seq));
        }
        g.queue.clear();
        g.queued_bytes = 0;
        g.report = None;
        drop(g);
        self.wake.notify_one();
    }

    pub fn is_closed(&self) -> bool {
        self.lock().closed
    }
}

/// Writes what `send` could not, whenever the socket has room, until the outbox closes.
///
/// The channel is registered with tokio only while there is a backlog: a registration that
/// stayed would wake a runtime thread each time the child reads, for nothing.
pub async fn flush(outbox: Arc<Outbox>) {
    let mut waiter: Option<(Channel, AsyncFd<OwnedFd>)> = None;
    loop {
        let chan = {
            let g = outbox.lock();
            if g.closed {
                return;
            }
            match (&g.chan, g.broken, g.queue.is_empty()) {
                (Some(c), false, false) => Some(c.clone()),
                _ => None,
            }
        };
        let Some(chan) = chan else {
            waiter = None;
            outbox.wake.notified().await;
            continue;
        };
        if !waiter.as_ref().is_some_and(|(c, _)| Arc::ptr_eq(c, &chan)) {
            // A dup, so this registration never collides with the reader's.
            let reg = chan.as_fd().try_clone_to_owned().and_then(|fd| {
                // SAFETY: the AsyncFd owns the dup, so the descriptor stays open and the same.
                unsafe { AsyncFd::register_with_interest(fd, tokio::io::Interest::WRITABLE) }
                    .map_err(|e| io::Error::other(e.to_string()))
            });
            match reg {
                Ok(fd) => waiter = Some((chan.clone(), fd)),
                Err(_) => {
                    outbox.lock().broken = true;
                    continue;
                }
            }
        }
        let Some((_, fd)) = waiter.as_ref() else {
            continue;
        };
        let mut ready = tokio::select! {
            r = fd.writable() => match r {
                Ok(r) => r,
                Err(_) => {
                    outbox.lock().broken = true;
                    continue;
                }
            },
            // A detach or close while we wait for room.
            _ = outbox.wake.notified() => continue,
        };
        if outbox.drain(&chan) == Drain::Blocked {
            ready.clear_ready();
        }
    }
}

/// Where [`Outbox::drain`] stopped.
#[derive(Debug, PartialEq, Eq)]
pub enum Drain {
    /// Nothing left to write (or `chan` is no longer the current channel).
    Empty,
    /// The socket is full; wait until it is writable.
    Blocked,
    /// The child is gone.
    Broken,
}

impl Outbox {
    /// Writes queued messages to `chan` until the socket is full or the queue empty. Called
    /// by whoever watches the socket for room: [`flush`], or the JS-thread poll in uv.rs.
    pub fn drain(&self, chan: &Channel) -> Drain {
        let mut g = self.lock();
        if !g.chan.as_ref().is_some_and(|c| Arc::ptr_eq(c, chan)) || g.broken {
            return Drain::Empty;
        }
        self.drain_locked(&mut g, chan)
    }

    fn drain_locked(&self, g: &mut Inner, chan: &Channel) -> Drain {
        g.blocked = false;
        let mut done = None;
        let mut result = Drain::Empty;
        while let Some(front) = g.queue.front_mut() {
            match write_parts(chan.as_raw_fd(), &[&front.data[front.off..]]) {
                Ok(n) => {
                    front.off += n;
                    let finished = front.off == front.data.len();
                    let (seq, ack) = (front.seq, front.ack);
                    g.queued_bytes -= n;
                    if finished {
                        g.queue.pop_front();
                        if ack {
                            done = Some(seq);
                        }
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    g.blocked = true;
                    result = Drain::Blocked;
                    break;
                }
                Err(_) => {
                    g.broken = true;
                    result = Drain::Broken;
                    break;
                }
            }
        }
        if let Some(seq) = done {
            g.report(Event::Sent(seq));
        }
        result
    }

    /// Whether messages wait to be written to the current channel.
    pub fn has_backlog(&self) -> bool {
        let g = self.lock();
        !g.queue.is_empty() && g.chan.is_some() && !g.broken
    }
}

/// One non-blocking `sendmsg` of several slices; MSG_NOSIGNAL turns a dead peer into EPIPE.
fn write_parts(fd: RawFd, parts: &[&[u8]]) -> io::Result<usize> {
    let iov: Vec<IoSlice> = parts.iter().map(|p| IoSlice::new(p)).collect();
    loop {
        match sendmsg::<()>(
            fd,
            &iov,
            &[],
            MsgFlags::MSG_NOSIGNAL | MsgFlags::MSG_DONTWAIT,
            None,
        ) {
            Err(nix::errno::Errno::EINTR) => continue,
            other => return other.map_err(io::Error::from),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::os::unix::net::UnixStream;
    use std::sync::Mutex as StdMutex;

    fn outbox(max_queue: usize) -> (Arc<Outbox>, Arc<StdMutex<Vec<String>>>) {
        let seen = Arc::new(StdMutex::new(Vec::new()));
        let log = seen.clone();
        let report: Report = Box::new(move |ev| {
            let s = match ev {
                Event::Sent(n) => format!("sent {n}"),
                Event::Dropped(n) => format!("dropped {n}"),
                _ => "other".into(),
            };
            log.lock().expect("log").push(s);
        });
        (Arc::new(Outbox::new(max_queue, report)), seen)
    }

    fn channel() -> (Channel, UnixStream) {
        let (ours, theirs) = crate::ipc::pair().expect("pair");
        let theirs = UnixStream::from(theirs);
        theirs.set_nonblocking(false).expect("blocking");
        (Arc::new(ours), theirs)
    }

    #[test]
    fn writes_at_once_then_queues_when_the_socket_is_full() {
        let (ob, seen) = outbox(4);
        let (chan, mut peer) = channel();
        ob.attach(chan.clone());
        assert_eq!(ob.send(b"\"hi\"", false), Sent::Written);
        let big = vec![b'x'; 64 * 1024];
        let mut queued = None;
        let mut sent = 0;
        for _ in 0..100 {
            sent += 1;
            if let Sent::Queued(seq) = ob.send(&big, true) {
                queued = Some(seq);
                break;
            }
        }
        let seq = queued.expect("a full socket queues");
        let total = 5 + sent * (big.len() + 1);
        assert!(ob.queued_bytes() > 0);
        assert!(ob.has_backlog());
        // The peer reads everything; a drain then writes the backlog and reports it.
        let reader = std::thread::spawn(move || {
            let mut all = Vec::new();
            let mut buf = vec![0u8; 1 << 20];
            while all.len() < total {
                let n = peer.read(&mut buf).expect("read");
                all.extend_from_slice(&buf[..n]);
            }
            all
        });
        while ob.drain(&chan) == Drain::Blocked {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let all = reader.join().expect("reader");
        assert!(all.starts_with(b"\"hi\"\n"));
        assert_eq!(ob.queued_bytes(), 0);
        assert_eq!(
            seen.lock().expect("log").last().cloned(),
            Some(format!("sent {seq}"))
        );
    }

    #[test]
    fn between_children_the_queue_is_bounded_and_closing_drops_it() {
        let (ob, seen) = outbox(2);
        assert_eq!(ob.send(b"1", true), Sent::Queued(1));
        assert_eq!(ob.send(b"2", true), Sent::Queued(2));
        assert_eq!(ob.send(b"3", true), Sent::Full);
        // A new child gets what waited, in order.
        let (chan, mut peer) = channel();
        ob.attach(chan.clone());
        assert_eq!(ob.drain(&chan), Drain::Empty);
        let mut buf = [0u8; 4];
        peer.read_exact(&mut buf).expect("read");
        assert_eq!(&buf, b"1\n2\n");
        assert_eq!(seen.lock().expect("log").as_slice(), ["sent 2"]);
        ob.detach();
        assert_eq!(ob.send(b"4", true), Sent::Queued(3));
        ob.close();
        assert_eq!(ob.send(b"5", true), Sent::Closed);
        assert_eq!(
            seen.lock().expect("log").last().map(String::as_str),
            Some("dropped 3")
        );
    }

    #[test]
    fn a_crash_drops_the_backlog_beyond_max_queue_oldest_first() {
        let (ob, seen) = outbox(1);
        let (chan, _peer) = channel();
        ob.attach(chan);
        // Fill the socket (nobody reads), so what follows queues.
        let big = vec![b'x'; 64 * 1024];
        while ob.send(&big, false) == Sent::Written {}
        let seqs: Vec<u64> = [b"a", b"b", b"c"]
            .iter()
            .map(|m| match ob.send(*m, true) {
                Sent::Queued(seq) => seq,
                other => panic!("{other:?}"),
            })
            .collect();
        ob.detach();
        let dropped = seen.lock().expect("log").clone();
        assert_eq!(dropped, [format!("dropped {}", seqs[1])]);
        assert_eq!(
            ob.queued_bytes(),
            2,
            "only the newest (\"c\\n\") waits for the next child"
        );
    }
}
