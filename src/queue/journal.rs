//! The queues on disk: `queues.journal` in the home, one JSON line per [`Record`], appended and
//! fsynced before a push is acknowledged (the broker commits a whole batch with one fsync).
//! When the file has grown well past what is still live, it is rewritten from the live jobs
//! with the dump's atomic write (temp file, fsync, rename, fsync of the folder), so a crash
//! mid-compaction leaves the old journal or the new one, never half of one.
//!
//! A daemon killed mid-append leaves at most one torn last line: reading stops there and the
//! file is cut back to the last whole line before anything is appended.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::state::Record;

/// Rewritten once it is this large and at least twice what is live.
const COMPACT_AT: u64 = 8 * 1024 * 1024;

#[derive(Serialize, Deserialize)]
#[serde(tag = "o")]
enum Line {
    #[serde(rename = "p")]
    Push {
        id: u64,
        q: String,
        d: Value,
        #[serde(default, skip_serializing_if = "is_zero_i32")]
        r: i32,
        #[serde(default, skip_serializing_if = "is_zero_u64")]
        t: u64,
    },
    #[serde(rename = "x")]
    Remove { id: u64 },
    #[serde(rename = "m")]
    Move { id: u64, q: String },
}

fn is_zero_i32(v: &i32) -> bool {
    *v == 0
}

fn is_zero_u64(v: &u64) -> bool {
    *v == 0
}

impl From<Record> for Line {
    fn from(r: Record) -> Self {
        match r {
            Record::Push {
                id,
                queue,
                data,
                priority,
                due,
            } => Line::Push {
                id,
                q: queue,
                d: data,
                r: priority,
                t: due,
            },
            Record::Remove { id } => Line::Remove { id },
            Record::Move { id, queue } => Line::Move { id, q: queue },
        }
    }
}

impl From<Line> for Record {
    fn from(l: Line) -> Self {
        match l {
            Line::Push { id, q, d, r, t } => Record::Push {
                id,
                queue: q,
                data: d,
                priority: r,
                due: t,
            },
            Line::Remove { id } => Record::Remove { id },
            Line::Move { id, q } => Record::Move { id, queue: q },
        }
    }
}

/// Appends records to `buf`, one line each.
pub fn encode(records: impl IntoIterator<Item = Record>, buf: &mut Vec<u8>) {
    for r in records {
        // A Value always serialises; a failure would be a bug, and losing the line is worse
        // than a visible panic in a test, so it is skipped with a message instead.
        if let Err(e) = serde_json::to_writer(&mut *buf, &Line::from(r)) {
            elog!("queue journal: cannot encode a record: {e}");
            continue;
        }
        buf.push(b'\n');
    }
}

/// Whether a journal of `size` bytes and `lines` records should be rewritten, `live` jobs
/// being all it still has to say.
pub fn wants_compaction(size: u64, lines: u64, live: u64) -> bool {
    size >= COMPACT_AT && lines >= 4 * live.max(1)
}

pub struct Journal {
    path: PathBuf,
    file: Arc<File>,
    size: u64,
    lines: u64,
}

impl Journal {
    /// Opens (or creates) the journal and reads it back.
    pub fn open(path: &Path) -> std::io::Result<(Journal, Vec<Record>)> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e),
        };
        let mut records = Vec::new();
        let mut good = 0usize;
        for line in bytes.split_inclusive(|b| *b == b'\n') {
            if line.last() != Some(&b'\n') {
                break; // torn tail
            }
            match serde_json::from_slice::<Line>(&line[..line.len() - 1]) {
                Ok(l) => records.push(l.into()),
                Err(e) => {
                    elog!(
                        "queue journal {}: stopped reading at byte {good}: {e}",
                        path.display()
                    );
                    break;
                }
            }
            good += line.len();
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)?;
        if good < bytes.len() {
            file.set_len(good as u64)?;
        }
        Ok((
            Journal {
                path: path.to_path_buf(),
                file: Arc::new(file),
                size: good as u64,
                lines: records.len() as u64,
            },
            records,
        ))
    }

    pub fn lines(&self) -> u64 {
        self.lines
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends (and fsyncs when `sync`) on a blocking thread, so the daemon's one thread keeps
    /// serving while the disk works; batches that arrive meanwhile share the next fsync.
    pub async fn append(&mut self, buf: Vec<u8>, lines: u64, sync: bool) -> std::io::Result<()> {
        if buf.is_empty() {
            return Ok(());
        }
        let file = self.file.clone();
        let len = buf.len() as u64;
        tokio::task::spawn_blocking(move || {
            (&*file).write_all(&buf)?;
            if sync {
                file.sync_data()?;
            }
            Ok::<_, std::io::Error>(())
        })
        .await
        .map_err(std::io::Error::other)??;
        self.size += len;
        self.lines += lines;
        Ok(())
    }

    /// Replaces the journal with `records` (the live jobs), atomically.
    pub async fn rewrite(&mut self, records: Vec<Record>) -> std::io::Result<()> {
        let path = self.path.clone();
        let lines = records.len() as u64;
        let file = tokio::task::spawn_blocking(move || {
            let mut buf = Vec::new();
            encode(records, &mut buf);
            crate::config::paths::write_private(&path, &buf)?;
            let f = OpenOptions::new().append(true).mode(0o600).open(&path)?;
            Ok::<_, std::io::Error>((f, buf.len() as u64))
        })
        .await
        .map_err(std::io::Error::other)??;
        self.file = Arc::new(file.0);
        self.size = file.1;
        self.lines = lines;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[tokio::test]
    async fn round_trip_torn_tail_and_rewrite() {
        let dir = std::env::temp_dir().join(format!("pm-journal-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("queues.journal");
        let (mut j, recs) = Journal::open(&path).expect("opens");
        assert!(recs.is_empty());
        let mut buf = Vec::new();
        let push = Record::Push {
            id: 1,
            queue: "q".into(),
            data: json!({"a": 1}),
            priority: 0,
            due: 0,
        };
        encode([push.clone(), Record::Remove { id: 1 }], &mut buf);
        j.append(buf, 2, true).await.expect("appends");
        // A daemon killed mid-line.
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .and_then(|mut f| f.write_all(b"{\"o\":\"p\",\"id\":2"))
            .expect("torn write");
        let (mut j, recs) = Journal::open(&path).expect("reopens");
        assert_eq!(recs, vec![push.clone(), Record::Remove { id: 1 }]);
        let mut buf = Vec::new();
        encode([push.clone()], &mut buf);
        j.append(buf, 1, true).await.expect("appends after the cut");
        let (mut j, recs) = Journal::open(&path).expect("reopens");
        assert_eq!(recs.len(), 3, "the torn line was cut, not glued to");
        j.rewrite(vec![push.clone()]).await.expect("rewrites");
        let (_, recs) = Journal::open(&path).expect("reopens");
        assert_eq!(recs, vec![push]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
