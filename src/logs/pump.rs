//! Moves a child's output into its log files. Reads in large chunks and writes only complete
//! lines, so a fast writer is neither split mid-line nor slowed by per-line system calls. The
//! pipe itself is the bound: when the disk is slow the app blocks on a full pipe, as it would
//! writing to a file, and the pump never holds more than one partial line.

use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncReadExt};

use super::LogFile;

/// A partial line longer than this is written out as it is rather than buffered further.
const MAX_PARTIAL: usize = 1024 * 1024;
/// Read buffer bounds: a pipe holds 64 KiB, so larger reads gain nothing.
/// Quiet apps (most) never grow past the first: fifty of them hold 100 KiB, not 400.
const MIN_BUF: usize = 1024;
const MAX_BUF: usize = 64 * 1024;
/// How long a line without its newline waits for the rest before it is written as is.
const PARTIAL_FLUSH: std::time::Duration = std::time::Duration::from_millis(200);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Out,
    Err,
}

impl Stream {
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Out => "out",
            Stream::Err => "err",
        }
    }
}

/// How each line is decorated before it is written.
#[derive(Debug, Clone, Default)]
pub struct LineFormat {
    /// A chrono format string for a `<date>: ` prefix (pm2's `log_date_format`/`--time`).
    pub date_format: Option<String>,
    /// pm2's `log_type: json`: one JSON object a line.
    pub json: Option<JsonTag>,
}

#[derive(Debug, Clone)]
pub struct JsonTag {
    pub app_name: String,
    pub process_id: u32,
}

/// Where one stream goes: its own file and the combined `log_file`, either optional.
#[derive(Clone, Default)]
pub struct Sinks {
    pub files: Vec<Arc<LogFile>>,
    /// Told when writing to one of the files starts or stops failing: the first fault among
    /// them, or `None` once every file writes again.
    pub on_fault: Option<Arc<dyn Fn(Option<String>) + Send + Sync>>,
}

impl Sinks {
    fn write(&self, data: &[u8]) {
        let mut changed = false;
        for f in &self.files {
            changed |= f.write(data);
        }
        if let (true, Some(tell)) = (changed, &self.on_fault) {
            tell(self.files.iter().find_map(|f| f.fault()));
        }
    }
}

/// Copies `reader` to `sinks` until EOF; `on_line` sees every complete line (for the event bus).
pub async fn pump<R: AsyncRead + Unpin>(
    mut reader: R,
    stream: Stream,
    sinks: Sinks,
    format: LineFormat,
    mut on_line: impl FnMut(&[u8]),
) {
    // Most apps log little: start small and grow only for a stream that fills its buffer, so
    // fifty quiet apps do not pin 6 MiB of read buffers in the daemon.
    let mut buf = vec![0u8; MIN_BUF];
    let mut carry: Vec<u8> = Vec::new();
    let mut out: Vec<u8> = Vec::new();
    // Set while the sinks end in a partial line written because the app paused: its rest then
    // continues that line instead of starting a new, dated one, so a writer descheduled in the
    // middle of a line still gets the line whole.
    let mut open = false;
    loop {
        let read = reader.read(&mut buf);
        let n = if carry.is_empty() {
            read.await
        } else {
            // A partial line (a prompt such as "Loading... ") is written once the app pauses,
            // as pm2 would show it; a fast writer's lines are still never split.
            match tokio::time::timeout(PARTIAL_FLUSH, read).await {
                Ok(r) => r,
                Err(_) => {
                    let line = std::mem::take(&mut carry);
                    emit(
                        &line,
                        stream,
                        &sinks,
                        &format,
                        (&mut out, &mut open),
                        &mut on_line,
                    );
                    continue;
                }
            }
        };
        let n = match n {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if n == buf.len() && buf.len() < MAX_BUF {
            buf.resize(buf.len() * 2, 0);
        }
        let chunk = &buf[..n];
        let cut = match chunk.iter().rposition(|b| *b == b'\n') {
            Some(i) => i + 1,
            None => {
                carry.extend_from_slice(chunk);
                if carry.len() >= MAX_PARTIAL {
                    let line = std::mem::take(&mut carry);
                    emit(
                        &line,
                        stream,
                        &sinks,
                        &format,
                        (&mut out, &mut open),
                        &mut on_line,
                    );
                }
                continue;
            }
        };
        if carry.is_empty() {
            emit(
                &chunk[..cut],
                stream,
                &sinks,
                &format,
                (&mut out, &mut open),
                &mut on_line,
            );
        } else {
            carry.extend_from_slice(&chunk[..cut]);
            emit(
                &carry,
                stream,
                &sinks,
                &format,
                (&mut out, &mut open),
                &mut on_line,
            );
            carry.clear();
        }
        carry.extend_from_slice(&chunk[cut..]);
    }
    if !carry.is_empty() {
        emit(
            &carry,
            stream,
            &sinks,
            &format,
            (&mut out, &mut open),
            &mut on_line,
        );
    }
    if open {
        // A decorated log always ends its last line.
        sinks.write(b"\n");
    }
}

/// Writes a run of lines in one write per sink. The last may lack its newline (a partial line
/// flushed when the app paused, or at EOF): with a date prefix it is then left open, and `open`
/// says so, for the next run to continue it.
fn emit(
    lines: &[u8],
    stream: Stream,
    sinks: &Sinks,
    format: &LineFormat,
    (out, open): (&mut Vec<u8>, &mut bool),
    on_line: &mut impl FnMut(&[u8]),
) {
    for line in lines.split_inclusive(|b| *b == b'\n') {
        on_line(line.strip_suffix(b"\n").unwrap_or(line));
    }
    if format.date_format.is_none() && format.json.is_none() {
        sinks.write(lines);
        return;
    }
    out.clear();
    let now = chrono::Local::now();
    // One timestamp per chunk: its lines arrived together, and formatting a date per line
    // tripled the pump's cost.
    let date = format
        .date_format
        .as_deref()
        .map(|f| now.format(f).to_string());
    for line in lines.split_inclusive(|b| *b == b'\n') {
        let body = line.strip_suffix(b"\n").unwrap_or(line);
        let date = date.clone();
        match &format.json {
            Some(tag) => {
                // pm2 writes `new Date().toISOString()`: UTC with a Z.
                let ts = date.unwrap_or_else(|| {
                    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
                });
                let obj = serde_json::json!({
                    "message": String::from_utf8_lossy(line),
                    "timestamp": ts,
                    "type": stream.as_str(),
                    "process_id": tag.process_id,
                    "app_name": tag.app_name,
                });
                out.extend_from_slice(obj.to_string().as_bytes());
                out.push(b'\n');
            }
            None => {
                if let Some(d) = date.filter(|_| !*open) {
                    out.extend_from_slice(d.as_bytes());
                    out.extend_from_slice(b": ");
                }
                out.extend_from_slice(body);
                *open = body.len() == line.len();
                if !*open {
                    out.push(b'\n');
                }
            }
        }
    }
    sinks.write(out);
}

/// Translates a moment.js format (what pm2's `log_date_format` takes) into a chrono one.
/// `[...]` is literal text, as in moment.
pub fn moment_to_chrono(fmt: &str) -> String {
    const TOKENS: &[(&str, &str)] = &[
        ("YYYY", "%Y"),
        ("YY", "%y"),
        ("MMMM", "%B"),
        ("MMM", "%b"),
        ("MM", "%m"),
        ("M", "%-m"),
        ("DDDD", "%j"),
        ("DD", "%d"),
        ("Do", "%-d"),
        ("D", "%-d"),
        ("dddd", "%A"),
        ("ddd", "%a"),
        ("HH", "%H"),
        ("H", "%-H"),
        ("hh", "%I"),
        ("h", "%-I"),
        ("mm", "%M"),
        ("m", "%-M"),
        ("ss", "%S"),
        ("s", "%-S"),
        ("SSS", "%3f"),
        ("SS", "%2f"),
        ("S", "%1f"),
        ("ZZ", "%z"),
        ("Z", "%:z"),
        ("A", "%p"),
        ("a", "%P"),
        ("X", "%s"),
        ("x", "%s%3f"),
    ];
    let mut out = String::new();
    let mut rest = fmt;
    'outer: while let Some(c) = rest.chars().next() {
        if c == '[' {
            if let Some(end) = rest.find(']') {
                out.push_str(&rest[1..end].replace('%', "%%"));
                rest = &rest[end + 1..];
                continue;
            }
        }
        for (m, c) in TOKENS {
            if let Some(r) = rest.strip_prefix(m) {
                out.push_str(c);
                rest = r;
                continue 'outer;
            }
        }
        if c == '%' {
            out.push_str("%%");
        } else {
            out.push(c);
        }
        rest = &rest[c.len_utf8()..];
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn moment_formats() {
        assert_eq!(
            super::moment_to_chrono("YYYY-MM-DD HH:mm:ss Z"),
            "%Y-%m-%d %H:%M:%S %:z"
        );
        assert_eq!(
            super::moment_to_chrono("YYYY-MM-DDTHH:mm:ss.SSS"),
            "%Y-%m-%dT%H:%M:%S.%3f"
        );
        assert_eq!(super::moment_to_chrono("[at] HH:mm"), "at %H:%M");
    }

    use super::*;
    use crate::logs::LogFiles;

    #[tokio::test]
    async fn keeps_every_line_whole() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("out.log");
        let files = LogFiles::default();
        let sinks = Sinks {
            files: vec![files.get(&path).expect("open")],
            ..Default::default()
        };
        let mut input = Vec::new();
        for i in 0..20_000 {
            input.extend_from_slice(format!("line {i} {}\n", "x".repeat(i % 97)).as_bytes());
        }
        input.extend_from_slice(b"tail without newline");
        let mut seen = 0usize;
        pump(
            &input[..],
            Stream::Out,
            sinks,
            LineFormat::default(),
            |_| seen += 1,
        )
        .await;
        let written = std::fs::read(&path).expect("read back");
        assert_eq!(written, input);
        assert_eq!(seen, 20_001);
    }

    #[tokio::test]
    async fn a_partial_line_is_written_when_the_app_pauses() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("p.log");
        let files = LogFiles::default();
        let sinks = Sinks {
            files: vec![files.get(&path).expect("open")],
            ..Default::default()
        };
        let (mut w, r) = tokio::io::duplex(1024);
        let task = tokio::spawn(pump(r, Stream::Out, sinks, LineFormat::default(), |_| {}));
        tokio::io::AsyncWriteExt::write_all(&mut w, b"Loading... ")
            .await
            .expect("write");
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
        while std::fs::read(&path).expect("read").is_empty() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "partial line never written"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        tokio::io::AsyncWriteExt::write_all(&mut w, b"done\n")
            .await
            .expect("write");
        drop(w);
        task.await.expect("pump ends");
        assert_eq!(
            std::fs::read_to_string(&path).expect("read"),
            "Loading... done\n"
        );
    }

    #[tokio::test]
    async fn a_dated_line_flushed_in_a_pause_stays_one_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.log");
        let files = LogFiles::default();
        let sinks = Sinks {
            files: vec![files.get(&path).expect("open")],
            ..Default::default()
        };
        let fmt = LineFormat {
            date_format: Some("%Y".into()),
            json: None,
        };
        let (mut w, r) = tokio::io::duplex(1024);
        let task = tokio::spawn(pump(r, Stream::Out, sinks, fmt, |_| {}));
        tokio::io::AsyncWriteExt::write_all(&mut w, b"first\nhalf a ")
            .await
            .expect("write");
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
        while !std::fs::read_to_string(&path)
            .expect("read")
            .ends_with("half a ")
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "partial line never written"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        tokio::io::AsyncWriteExt::write_all(&mut w, b"line\nlast without newline")
            .await
            .expect("write");
        drop(w);
        task.await.expect("pump ends");
        let y = chrono::Local::now().format("%Y").to_string();
        assert_eq!(
            std::fs::read_to_string(&path).expect("read"),
            format!("{y}: first\n{y}: half a line\n{y}: last without newline\n")
        );
    }

    #[tokio::test]
    async fn prefixes_dates_and_renders_json() {
        let dir = tempfile::tempdir().expect("tempdir");
        let files = LogFiles::default();
        let p1 = dir.path().join("a.log");
        let fmt = LineFormat {
            date_format: Some("%Y".into()),
            json: None,
        };
        pump(
            &b"a\nb\n"[..],
            Stream::Out,
            Sinks {
                files: vec![files.get(&p1).expect("open")],
                ..Default::default()
            },
            fmt,
            |_| {},
        )
        .await;
        let year = chrono::Local::now().format("%Y").to_string();
        assert_eq!(
            std::fs::read_to_string(&p1).expect("read"),
            format!("{year}: a\n{year}: b\n")
        );

        let p2 = dir.path().join("b.log");
        let fmt = LineFormat {
            date_format: None,
            json: Some(JsonTag {
                app_name: "web".into(),
                process_id: 3,
            }),
        };
        pump(
            &b"hi\n"[..],
            Stream::Err,
            Sinks {
                files: vec![files.get(&p2).expect("open")],
                ..Default::default()
            },
            fmt,
            |_| {},
        )
        .await;
        let text = std::fs::read_to_string(&p2).expect("read");
        let v: serde_json::Value = serde_json::from_str(text.trim()).expect("json line");
        assert_eq!(v["message"], "hi\n");
        assert_eq!(v["type"], "err");
        assert_eq!(v["app_name"], "web");
    }
}
