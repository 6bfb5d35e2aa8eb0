//! Cutting the channel's bytes into lines: Node writes one `JSON.stringify(msg)` per line, and a
//! read may end anywhere in one. Both readers use this, the daemon's ([`super::Reader`]) and
//! library-mode `fork()`'s (which reads many lines per wake-up on Node's loop), so how lines
//! are found and how long one may grow is decided here only.
//!
//! Consumed lines are not copied out: `start` moves past them and the unread rest is moved to
//! the front only when a read needs the room, so a read holding thousands of small messages
//! costs one pass, not one copy of the remainder per message.

use std::io;

pub struct Lines {
    /// `buf[start..filled]` holds unread bytes; the rest is room for the next read. Kept at
    /// full length, so a read does not zero-fill memory each time.
    buf: Vec<u8>,
    /// Where the lines not yet handed on begin.
    start: usize,
    filled: usize,
    /// Where the search for the next newline resumes: bytes before it hold none.
    scanned: usize,
    /// End of the complete lines in `buf`.
    complete: usize,
    /// The buffer's first size; a read wants a quarter of it free.
    chunk: usize,
    /// A line longer than this is a broken peer, not a message (Node itself has no limit).
    max_line: usize,
    /// The last read filled less than the room it had.
    short: bool,
}

impl Lines {
    /// Allocates nothing until the first read.
    pub fn new(chunk: usize, max_line: usize) -> Lines {
        Lines {
            buf: Vec::new(),
            start: 0,
            filled: 0,
            scanned: 0,
            complete: 0,
            chunk,
            max_line,
            short: false,
        }
    }

    /// Whether a read can make progress before the complete lines are handed on: the buffer
    /// grows only for a message longer than it, never to hoard many short ones.
    pub fn has_room(&self) -> bool {
        self.complete == self.start || self.buf.len() - self.filled >= self.chunk / 4
    }

    /// Room to read into; pass what was read to [`Lines::commit`]. Fails once an unfinished
    /// line has outgrown the bound.
    pub fn spare(&mut self) -> io::Result<&mut [u8]> {
        let want = self.chunk / 4;
        if self.buf.len() - self.filled < want {
            self.compact();
        }
        if self.buf.len() - self.filled < want {
            if self.filled > self.max_line {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "IPC message too large",
                ));
            }
            let len = (self.buf.len() * 2).max(self.chunk);
            self.buf.resize(len, 0);
        }
        Ok(&mut self.buf[self.filled..])
    }

    /// `n` bytes were read into [`Lines::spare`].
    pub fn commit(&mut self, n: usize) {
        self.short = n < self.buf.len() - self.filled;
        self.filled += n;
        if let Some(nl) = memchr::memrchr(b'\n', &self.buf[self.scanned..self.filled]) {
            self.complete = self.scanned + nl + 1;
        }
        self.scanned = self.filled;
    }

    /// Whether the last read came back short: the socket was empty then, so another read
    /// would only say EAGAIN.
    pub fn last_read_short(&self) -> bool {
        self.short
    }

    /// The next complete line, without its newline (an empty line is returned as such).
    pub fn next_line(&mut self) -> Option<&[u8]> {
        if self.start >= self.complete {
            return None;
        }
        let from = self.start;
        let rest = &self.buf[from..self.complete];
        // `complete` always ends just after a newline.
        let nl = memchr::memchr(b'\n', rest).unwrap_or(rest.len() - 1);
        self.start = from + nl + 1;
        if self.start == self.filled {
            // Everything consumed: the next read starts at the front for free. The bytes
            // returned below stay in place until then.
            self.start = 0;
            self.filled = 0;
            self.scanned = 0;
            self.complete = 0;
        }
        Some(&self.buf[from..from + nl])
    }

    /// Gives the buffer back while nothing is pending: for a reader that sits idle most of the
    /// time and should hold no memory meanwhile.
    pub fn release(&mut self) {
        if self.filled == 0 {
            self.buf = Vec::new();
        }
    }

    /// Moves the unread bytes to the front of the buffer.
    fn compact(&mut self) {
        if self.start == 0 {
            return;
        }
        self.buf.copy_within(self.start..self.filled, 0);
        self.filled -= self.start;
        self.scanned -= self.start;
        self.complete -= self.start;
        self.start = 0;
        // After a very large message, give the memory back rather than keep the peak forever.
        if self.buf.len() > 8 * self.chunk && self.filled < self.chunk {
            self.buf.truncate(self.chunk);
            self.buf.shrink_to_fit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` in `piece`-byte reads and collects every line.
    fn split(input: &[u8], piece: usize, lines: &mut Lines) -> io::Result<Vec<String>> {
        let mut out = Vec::new();
        for mut p in input.chunks(piece) {
            while !p.is_empty() {
                let spare = lines.spare()?;
                let n = spare.len().min(p.len());
                spare[..n].copy_from_slice(&p[..n]);
                lines.commit(n);
                p = &p[n..];
                while let Some(l) = lines.next_line() {
                    out.push(String::from_utf8_lossy(l).into_owned());
                }
            }
        }
        Ok(out)
    }

    #[test]
    fn lines_cut_anywhere_come_out_whole_and_in_order() {
        for piece in [1, 2, 3, 7, 100] {
            let got = split(
                b"{\"a\":1}\n\"two\"\n\n[3]\n",
                piece,
                &mut Lines::new(16, 1 << 20),
            )
            .expect("lines");
            assert_eq!(got, ["{\"a\":1}", "\"two\"", "", "[3]"], "piece {piece}");
        }
    }

    #[test]
    fn an_unfinished_line_past_the_bound_is_an_error() {
        let mut lines = Lines::new(16, 64);
        let err = split(&[b'x'; 200], 4, &mut lines).expect_err("too long");
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        let mut lines = Lines::new(16, 64);
        let long = [vec![b'y'; 60], b"\n".to_vec()].concat();
        assert_eq!(split(&long, 4, &mut lines).expect("fits").len(), 1);
    }

    #[test]
    fn an_idle_reader_can_hold_no_buffer() {
        let mut lines = Lines::new(16, 64);
        split(b"1\n2", 100, &mut lines).expect("lines");
        lines.release();
        assert!(!lines.buf.is_empty(), "a half line is kept");
        split(b"\n", 100, &mut lines).expect("lines");
        lines.release();
        assert!(lines.buf.is_empty());
    }
}
