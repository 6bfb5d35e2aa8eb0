use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::logs::LogFiles;

/// A policy whose date is the same for the whole test (a year), so every rotation in it
/// competes for one name.
fn policy(max_size: u64) -> RotatePolicy {
    RotatePolicy {
        max_size,
        retain: None,
        date_format: "YYYY".into(),
        ..RotatePolicy::default()
    }
}

fn year() -> String {
    chrono::Local::now().format("%Y").to_string()
}

/// The log and its rotated files, oldest first.
fn all_files(log: &Path) -> Vec<PathBuf> {
    let mut files = rotated_files(log).expect("list rotated");
    files.reverse();
    files.push(log.to_path_buf());
    files
}

#[test]
fn names_follow_pm2_logrotate() {
    let p = RotatePolicy::default();
    let at = chrono::DateTime::parse_from_rfc3339("2024-03-05T07:08:09Z")
        .expect("date")
        .with_timezone(&Utc);
    let tokyo = RotatePolicy {
        tz: Some(crate::sys::zone::Zone::named("Asia/Tokyo").expect("zone")),
        ..p.clone()
    };
    assert_eq!(
        rotated_path(Path::new("/l/web-out.log"), &tokyo, at).expect("name"),
        Path::new("/l/web-out__2024-03-05_16-08-09.log")
    );
    assert_eq!(rotated_prefix(Path::new("/l/app.txt")), "app.txt__");
    let slash = RotatePolicy {
        date_format: "YYYY/MM".into(),
        ..p
    };
    assert!(rotated_path(Path::new("/l/a.log"), &slash, at).is_err());
}

#[test]
fn rotates_by_size_to_a_new_inode() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("app-out.log");
    let files = LogFiles::default();
    files.set_policy(Some(policy(10)));
    let f = files.get(&log).expect("open");
    let before = std::fs::metadata(&log).expect("stat").ino();
    f.write(b"0123456789\n");
    let rotated = dir.path().join(format!("app-out__{}.log", year()));
    assert_eq!(std::fs::read(&rotated).expect("rotated"), b"0123456789\n");
    assert_eq!(std::fs::metadata(&rotated).expect("stat").ino(), before);
    assert_ne!(std::fs::metadata(&log).expect("stat").ino(), before);
    f.write(b"next\n");
    assert_eq!(std::fs::read(&log).expect("log"), b"next\n");
}

#[test]
fn same_second_rotations_do_not_overwrite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("a.log");
    let files = LogFiles::default();
    files.set_policy(Some(policy(u64::MAX)));
    let f = files.get(&log).expect("open");
    for i in 0..12 {
        f.write(format!("{i}\n").as_bytes());
        assert!(f.rotate().expect("rotate").is_some());
    }
    assert!(f.rotate().expect("rotate").is_none(), "empty file rotated");
    let y = year();
    assert!(dir.path().join(format!("a__{y}.log")).exists());
    assert!(dir.path().join(format!("a__{y}_11.log")).exists());
    let got: Vec<String> = rotated_files(&log)
        .expect("list")
        .iter()
        .map(|p| std::fs::read_to_string(p).expect("read"))
        .collect();
    let want: Vec<String> = (0..12).rev().map(|i| format!("{i}\n")).collect();
    assert_eq!(got, want, "newest first, one file per rotation");
}

#[test]
fn retention_keeps_the_newest() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("api-out.log");
    // Not ours despite the shared suffix: pm2-logrotate would prune these too.
    let other = dir.path().join("web-api-out__2020.log");
    std::fs::write(&other, "other app").expect("write");
    let files = LogFiles::default();
    files.set_policy(Some(RotatePolicy {
        retain: Some(2),
        ..policy(u64::MAX)
    }));
    let f = files.get(&log).expect("open");
    for i in 0..5 {
        f.write(format!("{i}\n").as_bytes());
        f.rotate().expect("rotate");
    }
    assert!(files.wait_rotations(Duration::from_secs(10)), "prune hangs");
    let left: Vec<String> = rotated_files(&log)
        .expect("list")
        .iter()
        .map(|p| std::fs::read_to_string(p).expect("read"))
        .collect();
    assert_eq!(left, vec!["4\n", "3\n"]);
    assert!(other.exists());
}

#[test]
fn concurrent_writer_loses_splits_and_repeats_nothing() {
    const LINES: usize = 200_000;
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("busy.log");
    let files = LogFiles::default();
    files.set_policy(Some(policy(64 * 1024)));
    let f = files.get(&log).expect("open");
    let done = Arc::new(AtomicBool::new(false));
    let writer = {
        let (f, done) = (f.clone(), done.clone());
        std::thread::spawn(move || {
            // Several lines a write, of varied length, as the pump hands them over.
            let mut chunk = String::new();
            for i in 0..LINES {
                chunk.push_str(&format!("line {i} {}\n", "x".repeat(i % 61)));
                if i % 7 == 6 {
                    f.write(chunk.as_bytes());
                    chunk.clear();
                }
            }
            f.write(chunk.as_bytes());
            done.store(true, Ordering::SeqCst);
        })
    };
    // Forced rotations race the size-triggered ones.
    let mut forced = 0;
    while !done.load(Ordering::SeqCst) {
        if f.rotate().expect("rotate").is_some() {
            forced += 1;
        }
        std::thread::yield_now();
    }
    writer.join().expect("writer");
    let mut seen = HashSet::new();
    let paths = all_files(&log);
    assert!(paths.len() > 20, "only {} files", paths.len());
    for p in &paths {
        let text = std::fs::read_to_string(p).expect("read");
        assert!(
            text.is_empty() || text.ends_with('\n'),
            "{p:?} ends mid-line"
        );
        for line in text.lines() {
            let mut parts = line.splitn(3, ' ');
            assert_eq!(parts.next(), Some("line"), "split line {line:?}");
            let i: usize = parts.next().and_then(|n| n.parse().ok()).expect("number");
            assert_eq!(
                parts.next().map(str::len),
                Some(i % 61),
                "split line {line:?}"
            );
            assert!(seen.insert(i), "line {i} twice");
        }
    }
    assert_eq!(seen.len(), LINES, "lines lost ({forced} forced rotations)");
}

#[test]
fn compressed_rotation_round_trips() {
    use std::io::Read;
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("z.log");
    let files = LogFiles::default();
    files.set_policy(Some(RotatePolicy {
        compress: true,
        retain: Some(2),
        ..policy(u64::MAX)
    }));
    let f = files.get(&log).expect("open");
    let mut texts = Vec::new();
    for round in 0..3 {
        let text: String = (0..5000)
            .map(|i| format!("round {round} line {i} {}\n", i * 7919 % 1000))
            .collect();
        f.write(text.as_bytes());
        f.rotate().expect("rotate");
        texts.push(text);
        // Each rotation waits for the last compression: the name after `a__<date>.log.gz`
        // must still be `_1`, not `a__<date>.log` again.
        assert!(files.wait_rotations(Duration::from_secs(10)), "gzip hangs");
    }
    let y = year();
    let left = rotated_files(&log).expect("list");
    assert_eq!(
        left,
        vec![
            dir.path().join(format!("z__{y}_2.log.gz")),
            dir.path().join(format!("z__{y}_1.log.gz")),
        ]
    );
    for (path, text) in left.iter().zip(texts.iter().rev()) {
        let mut got = String::new();
        flate2::read::GzDecoder::new(std::fs::File::open(path).expect("open gz"))
            .read_to_string(&mut got)
            .expect("gunzip");
        assert_eq!(&got, text, "{path:?}");
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(path).expect("stat").permissions(),
        );
        // The test's umask (022 or 002) takes no bit of 0640 away.
        assert_eq!(mode & 0o777, 0o640, "{path:?} keeps the log's mode");
    }
    let f_mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&log).expect("stat").permissions(),
    );
    assert_eq!(f_mode & 0o777, 0o640, "the live log is created 0640");
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .expect("list")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(
        names.len(),
        3,
        "no .log or .tmp left beside the .gz: {names:?}"
    );
}

/// Polls `cond` every 20 ms for up to 10 s.
async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn cron_rotates_under_max_size_and_follows_policy_changes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("c.log");
    let files = LogFiles::default();
    let f = files.get(&log).expect("open");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    // Started with no policy: it must pick up the one set afterwards.
    let task = tokio::spawn(run_cron(files.clone(), async {
        let _ = stopped.await;
    }));
    f.write(b"first\n");
    files.set_policy(Some(RotatePolicy {
        rotate_interval: "* * * * * *".into(),
        ..policy(u64::MAX)
    }));
    let count = || rotated_files(&log).expect("list").len();
    eventually("first cron rotation", || count() == 1).await;
    f.write(b"second\n");
    eventually("second cron rotation", || count() == 2).await;
    let texts: Vec<String> = rotated_files(&log)
        .expect("list")
        .iter()
        .map(|p| std::fs::read_to_string(p).expect("read"))
        .collect();
    assert_eq!(texts, vec!["second\n", "first\n"]);
    stop.send(()).expect("cron task alive");
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("cron task ends on shutdown")
        .expect("cron task");
}

/// An app's own settings apply to its files only, for size and for the cron pattern.
#[tokio::test]
async fn an_override_applies_to_its_file_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (own, global) = (dir.path().join("own.log"), dir.path().join("global.log"));
    let files = LogFiles::default();
    files.set_policy(Some(RotatePolicy {
        rotate_interval: "0 0 1 1 *".into(),
        ..policy(1 << 20)
    }));
    let every_second = RotateOverride {
        max_size: Some(10),
        rotate_interval: Some("* * * * * *".into()),
        ..Default::default()
    };
    let fo = files.get_for(&own, every_second).expect("open");
    let fg = files
        .get_for(&global, RotateOverride::default())
        .expect("open");
    fo.write(b"0123456789\n");
    fg.write(b"0123456789\n");
    assert!(files.wait_rotations(Duration::from_secs(5)));
    assert_eq!(rotated_files(&own).expect("list").len(), 1, "own max_size");
    assert_eq!(rotated_files(&global).expect("list").len(), 0);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(run_cron(files.clone(), async {
        let _ = stopped.await;
    }));
    fo.write(b"a\n");
    fg.write(b"a\n");
    eventually("own cron rotation", || {
        rotated_files(&own).expect("list").len() == 2
    })
    .await;
    assert_eq!(
        rotated_files(&global).expect("list").len(),
        0,
        "global cron not due"
    );
    // A new global policy keeps the override over it.
    files.set_policy(Some(policy(1 << 20)));
    fo.write(b"0123456789\n");
    eventually("own max_size after a global change", || {
        rotated_files(&own).expect("list").len() == 3
    })
    .await;
    stop.send(()).expect("cron task alive");
    task.await.expect("cron task");
}
