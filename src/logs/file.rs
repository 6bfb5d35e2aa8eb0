//! Log files shared by every writer that names the same path (merged logs, `log_file` combined
//! with `out_file`). Each is opened `O_APPEND`, and each complete line goes out in one `write`,
//! so two instances writing to one file never interleave inside a line.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

pub struct LogFile {
    path: PathBuf,
    file: Mutex<Option<File>>,
}

fn open(path: &Path) -> io::Result<File> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    OpenOptions::new().create(true).append(true).open(path)
}

impl LogFile {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes whole lines. A failed write (full disk, file removed) drops this chunk but keeps
    /// the app running: blocking the app on a broken log is worse than a gap in it.
    pub fn write(&self, data: &[u8]) {
        let mut guard = match self.file.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        if guard.is_none() {
            *guard = open(&self.path).ok();
        }
        if let Some(f) = guard.as_mut() {
            if f.write_all(data).is_err() {
                *guard = None;
            }
        }
    }

    /// Reopens the path (after an external rotation moved the file away).
    pub fn reopen(&self) -> io::Result<()> {
        let f = open(&self.path)?;
        let mut guard = self.file.lock().unwrap_or_else(|p| p.into_inner());
        *guard = Some(f);
        Ok(())
    }

    /// Empties the file in place; writers keep appending to the same inode.
    pub fn truncate(&self) -> io::Result<()> {
        let guard = self.file.lock().unwrap_or_else(|p| p.into_inner());
        match guard.as_ref() {
            Some(f) => f.set_len(0),
            None => OpenOptions::new()
                .write(true)
                .truncate(true)
                .open(&self.path)
                .map(|_| ()),
        }
    }
}

/// All open log files of the daemon, by path.
#[derive(Default, Clone)]
pub struct LogFiles {
    inner: Arc<Mutex<HashMap<PathBuf, Arc<LogFile>>>>,
}

impl LogFiles {
    pub fn get(&self, path: &Path) -> io::Result<Arc<LogFile>> {
        let mut map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(f) = map.get(path) {
            return Ok(f.clone());
        }
        let f = Arc::new(LogFile {
            path: path.to_path_buf(),
            file: Mutex::new(Some(open(path)?)),
        });
        map.insert(path.to_path_buf(), f.clone());
        Ok(f)
    }

    /// Drops files nobody writes to any more, so deleted apps do not keep descriptors open.
    pub fn release_unused(&self) {
        let mut map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, f| Arc::strong_count(f) > 1);
    }

    pub fn reopen_all(&self) -> io::Result<()> {
        let files: Vec<_> = self
            .inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect();
        for f in files {
            f.reopen()?;
        }
        Ok(())
    }
}
