//! Reading log files back: the last N lines, and following new ones as they are appended.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The last `n` lines of a file (without their newlines), reading backwards in blocks so a huge
/// log costs only what is shown.
pub fn last_lines(path: &Path, n: usize) -> io::Result<Vec<String>> {
    let mut f = File::open(path)?;
    let len = f.metadata()?.len();
    if n == 0 || len == 0 {
        return Ok(Vec::new());
    }
    let mut pos = len;
    let mut data: Vec<u8> = Vec::new();
    const BLOCK: u64 = 64 * 1024;
    loop {
        let start = pos.saturating_sub(BLOCK);
        let mut block = vec![0u8; (pos - start) as usize];
        f.seek(SeekFrom::Start(start))?;
        f.read_exact(&mut block)?;
        block.extend_from_slice(&data);
        data = block;
        pos = start;
        let body = data.strip_suffix(b"\n").unwrap_or(&data);
        let newlines = body.iter().filter(|b| **b == b'\n').count();
        if newlines >= n || pos == 0 {
            break;
        }
    }
    let body = data.strip_suffix(b"\n").unwrap_or(&data);
    let lines: Vec<&[u8]> = body.split(|b| *b == b'\n').collect();
    let skip = if pos > 0 || lines.len() > n {
        lines.len().saturating_sub(n)
    } else {
        0
    };
    Ok(lines[skip..]
        .iter()
        .map(|l| String::from_utf8_lossy(l).into_owned())
        .collect())
}

/// Follows one log file as `tail -F` does. The file is read through the descriptor it was
/// opened with, so lines appended to it after a rotation renamed it away are still read; once
/// that file is drained and another file is at the path, the follower moves to the new one
/// from its first byte. A file truncated in place (`pm flush`, copytruncate) is read again
/// from the start.
pub struct Follow {
    path: PathBuf,
    file: Option<(File, u64, u64)>,
    /// Bytes up to the last newline read: a line still being written waits for its end.
    offset: u64,
}

impl Follow {
    /// A follower that shows only what is appended from now on.
    pub fn from_end(path: &Path) -> Follow {
        let mut f = Follow {
            path: path.to_path_buf(),
            file: None,
            offset: 0,
        };
        if let Some(file) = open(path) {
            f.offset = file.0.metadata().map(|m| m.len()).unwrap_or(0);
            f.file = Some(file);
        }
        f
    }

    /// The whole lines appended since the last call, old file first across a rotation.
    pub fn poll(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        self.drain(&mut out, false);
        let now = std::fs::metadata(&self.path)
            .ok()
            .map(|m| (m.dev(), m.ino()));
        let held = self.file.as_ref().map(|(_, dev, ino)| (*dev, *ino));
        if now.is_some() && now != held {
            // Rotated: what the old file got last is whole lines (writes are), but a final
            // line without its newline is shown too rather than lost with the file.
            self.drain(&mut out, held.is_some());
            self.file = open(&self.path);
            self.offset = 0;
            self.drain(&mut out, false);
        }
        out
    }

    fn drain(&mut self, out: &mut Vec<String>, to_the_end: bool) {
        let Some((file, _, _)) = self.file.as_mut() else {
            return;
        };
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        if len < self.offset {
            self.offset = 0;
        }
        if len == self.offset || file.seek(SeekFrom::Start(self.offset)).is_err() {
            return;
        }
        let mut data = Vec::with_capacity((len - self.offset) as usize);
        if file.take(len - self.offset).read_to_end(&mut data).is_err() {
            return;
        }
        let complete = match data.iter().rposition(|b| *b == b'\n') {
            Some(i) => i + 1,
            None if to_the_end => data.len(),
            None => return,
        };
        let body = data[..complete]
            .strip_suffix(b"\n")
            .unwrap_or(&data[..complete]);
        out.extend(
            body.split(|b| *b == b'\n')
                .map(|l| String::from_utf8_lossy(l).into_owned()),
        );
        self.offset += complete as u64;
        if to_the_end && complete < data.len() {
            let rest = &data[complete..];
            out.push(String::from_utf8_lossy(rest).into_owned());
            self.offset += rest.len() as u64;
        }
    }
}

fn open(path: &Path) -> Option<(File, u64, u64)> {
    let f = File::open(path).ok()?;
    let m = f.metadata().ok()?;
    Some((f, m.dev(), m.ino()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_lines_across_blocks() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("x.log");
        let text: String = (0..50_000).map(|i| format!("line {i}\n")).collect();
        std::fs::write(&p, &text).expect("write");
        let got = last_lines(&p, 3).expect("tail");
        assert_eq!(got, vec!["line 49997", "line 49998", "line 49999"]);
        assert_eq!(last_lines(&p, 60_000).expect("tail").len(), 50_000);
        std::fs::write(&p, "a\nb").expect("write");
        assert_eq!(last_lines(&p, 5).expect("tail"), vec!["a", "b"]);
    }

    fn append(p: &Path, text: &str) {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
            .expect("open");
        f.write_all(text.as_bytes()).expect("append");
    }

    #[test]
    fn follows_appends_and_truncation() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("y.log");
        std::fs::write(&p, "before\n").expect("write");
        let mut f = Follow::from_end(&p);
        assert!(f.poll().is_empty(), "what was there is not followed");
        append(&p, "one\ntw");
        assert_eq!(f.poll(), vec!["one"]);
        append(&p, "o\n");
        assert_eq!(f.poll(), vec!["two"]);
        // Truncated in place (same inode): from the start.
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(&p)
            .expect("open");
        file.set_len(0).expect("truncate");
        append(&p, "new\n");
        assert_eq!(f.poll(), vec!["new"]);
    }

    #[test]
    fn follows_across_a_rotation_without_losing_the_old_files_last_lines() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("app-out.log");
        let mut f = Follow::from_end(&p);
        assert!(f.poll().is_empty(), "no file yet");
        append(&p, "a\n");
        assert_eq!(f.poll(), vec!["a"]);
        // Written, then rotated away before the next poll; the new file is already longer
        // than what was read of the old one, so an offset alone would skip its start.
        append(&p, "b\nc\n");
        std::fs::rename(&p, dir.path().join("app-out__1.log")).expect("rotate");
        append(&p, "first of the new file\nsecond\n");
        assert_eq!(f.poll(), vec!["b", "c", "first of the new file", "second"]);
        append(&p, "third\n");
        assert_eq!(f.poll(), vec!["third"]);
    }
}
