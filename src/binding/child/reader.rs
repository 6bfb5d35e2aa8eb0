//! The child → parent half of the channel: Node's newline-delimited JSON, cut into batches of
//! complete lines (see [`super::events`]). [`LineBuf`] is shared by the two readers: the one on
//! Node's own loop ([`super::uv`]) and the tokio fallback ([`read_loop`]).
//!
//! The lines are found by the same [`Lines`] as the daemon's `crate::ipc::Reader`, but read here
//! with a loop of our own: that reader is async, allocates a `String` per line and keeps handles
//! for the caller, while this one runs synchronously on Node's loop, closes handles, and hands
//! JS whole batches (one JS call per message would cost more than Node's own channel does).

use std::borrow::Cow;
use std::io;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::sync::Arc;

use serde_json::Value;
use tokio::io::unix::AsyncFd;
use tokio::sync::oneshot;

use super::events::{Emitter, Event};
use super::outbox::{Channel, Outbox};
use crate::ipc::channel::{recv_with_fds, HANDLE_ACK};
use crate::ipc::lines::Lines;

/// Read size; a longer message just takes several reads.
const CHUNK: usize = 256 * 1024;
/// A line longer than this is a broken child, not a message (Node itself has no limit).
const MAX_LINE: usize = 512 * 1024 * 1024;

/// Lines are handed to JS in batches of about this many bytes (a longer line goes alone):
/// small enough that V8 keeps the batch string out of its large-object space, which maps and
/// unmaps memory for every such string.
const BATCH: usize = 64 * 1024;

/// Bytes read but not yet handed on, cut into batches of whole lines.
pub struct LineBuf {
    lines: Lines,
}

impl Default for LineBuf {
    fn default() -> Self {
        LineBuf {
            lines: Lines::new(CHUNK, MAX_LINE),
        }
    }
}

impl LineBuf {
    /// Whether a read can make progress before the complete lines are handed on.
    pub fn has_room(&self) -> bool {
        self.lines.has_room()
    }

    /// One non-blocking read; `Ok(0)` is EOF.
    pub fn read_from(&mut self, fd: RawFd) -> io::Result<usize> {
        // fork() does not pass handles on to JS: any that came along close here.
        let (n, _handles) = recv_with_fds(fd, self.lines.spare()?)?;
        self.lines.commit(n);
        Ok(n)
    }

    /// Whether the last read came back short, so another would only say EAGAIN (libuv's
    /// `UV_HANDLE_READ_PARTIAL`): with a level-triggered poll, more data wakes us again.
    pub fn drained(&self) -> bool {
        self.lines.last_read_short()
    }

    /// Fills `out` with the next batch, `[line,\nline,...]`, of the complete lines read so far
    /// (as bytes: V8 decodes the UTF-8 itself, so checking it here too would be a wasted
    /// pass). False when no complete line is left.
    /// `on_handle` runs for each handle message (the caller answers it, see [`handle_line`]).
    pub fn next_batch(&mut self, out: &mut Vec<u8>, on_handle: &mut dyn FnMut()) -> bool {
        out.clear();
        out.push(b'[');
        let mut any = false;
        while out.len() < BATCH {
            let Some(line) = self.lines.next_line() else {
                break;
            };
            if line.is_empty() {
                continue;
            }
            let Some(line) = handle_line(line, on_handle) else {
                continue;
            };
            if any {
                // JSON ignores the newline, and since a line never holds a raw one, JS can
                // split a batch back into lines on ",\n" if one of them is not valid JSON.
                out.extend_from_slice(b",\n");
            }
            out.extend_from_slice(&line);
            any = true;
        }
        out.push(b']');
        any
    }
}

/// The tokio reader, for hosts whose libuv symbols are not reachable: reads until EOF (the
/// child exited or disconnected) or a read error, then reports on `done`.
pub async fn read_loop(
    chan: Channel,
    emit: Emitter,
    outbox: Arc<Outbox>,
    done: oneshot::Sender<()>,
) {
    let mut lines = LineBuf::default();
    let mut out = Vec::new();
    let reg = chan.as_fd().try_clone_to_owned().and_then(|fd| {
        // SAFETY: the AsyncFd owns the dup, so the descriptor stays open and the same.
        unsafe { AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE) }
            .map_err(|e| io::Error::other(e.to_string()))
    });
    let Ok(chan) = reg else {
        let _ = done.send(());
        return;
    };
    loop {
        emit.in_flight().wait_for_room().await;
        let n = {
            let Ok(mut ready) = chan.readable().await else {
                break;
            };
            match ready.try_io(|fd| lines.read_from(fd.as_raw_fd())) {
                Ok(r) => r,
                Err(_would_block) => continue,
            }
        };
        while lines.next_batch(&mut out, &mut || outbox.send_internal(HANDLE_ACK)) {
            let text = String::from_utf8_lossy(&out).into_owned();
            emit.emit(Event::Messages(text));
        }
        if !matches!(n, Ok(n) if n > 0) {
            break;
        }
    }
    let _ = done.send(());
}

/// A `process.send(msg, handle)` line: Node stalls the channel until it is acknowledged, so
/// answer it. fork() does not pass handles to JS: the descriptor is closed and the message is
/// delivered without it.
fn handle_line<'a>(line: &'a [u8], on_handle: &mut dyn FnMut()) -> Option<Cow<'a, [u8]>> {
    // Node writes `{ cmd: 'NODE_HANDLE', type, msg }`, cmd first; checking the prefix keeps a
    // scan of every (possibly huge) line off the hot path.
    if !line.starts_with(b"{\"cmd\":\"NODE_HANDLE\"") {
        return Some(Cow::Borrowed(line));
    }
    let v: Value = serde_json::from_slice(line).ok()?;
    if v.get("cmd").and_then(Value::as_str) != Some("NODE_HANDLE") {
        return Some(Cow::Borrowed(line));
    }
    on_handle();
    v.get("msg").map(|m| Cow::Owned(m.to_string().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::net::UnixStream;

    /// Everything `next_batch` hands on from `input`, written to a socket in `chunk`-byte
    /// writes (each must fit the socket buffer: the reading happens in between), and how many
    /// handle messages it answered.
    fn batches(input: &[u8], chunk: usize) -> (Vec<String>, usize) {
        let (mut a, b) = UnixStream::pair().expect("socketpair");
        b.set_nonblocking(true).expect("nonblocking");
        let mut lines = LineBuf::default();
        let (mut out, mut batches, mut acks) = (Vec::new(), Vec::new(), 0);
        for piece in input.chunks(chunk) {
            a.write_all(piece).expect("write");
            while let Ok(n) = lines.read_from(b.as_raw_fd()) {
                assert!(n > 0);
            }
            while lines.next_batch(&mut out, &mut || acks += 1) {
                batches.push(String::from_utf8(out.clone()).expect("utf8"));
            }
        }
        (batches, acks)
    }

    #[test]
    fn lines_split_across_reads_come_out_whole_in_order() {
        let input = b"{\"a\":1}\n\"two\"\n\n[3]\n";
        for chunk in [1, 2, 5, 100] {
            let (b, _) = batches(input, chunk);
            let all: Vec<serde_json::Value> = b
                .iter()
                .flat_map(|s| {
                    serde_json::from_str::<Vec<serde_json::Value>>(s).expect("a JSON array")
                })
                .collect();
            assert_eq!(
                all,
                vec![
                    serde_json::json!({"a":1}),
                    "two".into(),
                    serde_json::json!([3])
                ],
                "chunk {chunk}"
            );
        }
        assert_eq!(
            batches(b"1\n2\n", 100).0,
            vec!["[1,\n2]"],
            "lines joined by ,\\n"
        );
    }

    #[test]
    fn handle_messages_are_answered_and_delivered_without_the_handle() {
        let input = b"{\"cmd\":\"NODE_HANDLE\",\"type\":\"net.Server\",\"msg\":{\"x\":1}}\n2\n";
        let (b, acks) = batches(input, 1000);
        assert_eq!(acks, 1);
        assert_eq!(b, vec!["[{\"x\":1},\n2]"]);
    }

    #[test]
    fn batches_stay_small_and_long_lines_grow_the_buffer() {
        let line = format!("\"{}\"\n", "x".repeat(1000));
        let (b, _) = batches(line.repeat(300).as_bytes(), 64 << 10);
        assert!(b.len() > 1, "300 KB of lines come in several batches");
        assert!(b.iter().all(|s| s.len() < BATCH + 2000));
        let big = format!("\"{}\"\n", "y".repeat(3 << 20));
        let (b, _) = batches(big.as_bytes(), 64 << 10);
        assert_eq!(b.len(), 1);
        assert_eq!(b[0].len(), (3 << 20) + 4);
    }
}
