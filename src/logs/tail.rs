//! Reading log files back: the last N lines, and following new ones as they are appended.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

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

/// Follows a file from `offset`: returns complete new lines and the new offset. A file that
/// shrank (flushed or rotated) is read again from the start.
pub fn read_new(path: &Path, offset: u64) -> io::Result<(Vec<String>, u64)> {
    let mut f = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((Vec::new(), 0)),
        Err(e) => return Err(e),
    };
    let len = f.metadata()?.len();
    let from = if len < offset { 0 } else { offset };
    if len == from {
        return Ok((Vec::new(), from));
    }
    f.seek(SeekFrom::Start(from))?;
    let mut data = Vec::with_capacity((len - from) as usize);
    f.take(len - from).read_to_end(&mut data)?;
    let complete = match data.iter().rposition(|b| *b == b'\n') {
        Some(i) => i + 1,
        None => return Ok((Vec::new(), from)),
    };
    let lines = data[..complete - 1]
        .split(|b| *b == b'\n')
        .map(|l| String::from_utf8_lossy(l).into_owned())
        .collect();
    Ok((lines, from + complete as u64))
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

    #[test]
    fn follows_appends_and_truncation() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("y.log");
        std::fs::write(&p, "one\ntw").expect("write");
        let (lines, off) = read_new(&p, 0).expect("read");
        assert_eq!(lines, vec!["one"]);
        std::fs::write(&p, "one\ntwo\n").expect("write");
        let (lines, off) = read_new(&p, off).expect("read");
        assert_eq!(lines, vec!["two"]);
        std::fs::write(&p, "new\n").expect("truncate");
        let (lines, _) = read_new(&p, off).expect("read");
        assert_eq!(lines, vec!["new"]);
    }
}
