//! `pm logs`: the last lines of each app's files with pm2's `<id>|<name> | ` prefix, then (unless
//! `--nostream`) new lines as they are appended.

use std::path::PathBuf;
use std::time::Duration;

use super::args::LogsArgs;
use crate::config::Home;
use crate::logs::tail;
use crate::protocol::{Error, ProcView, Request, TargetRequest};

struct Source {
    path: PathBuf,
    /// `<id>|<name>`, before pm2's padding.
    label: String,
    is_err: bool,
}

fn sources(list: &[ProcView], a: &LogsArgs) -> Vec<Source> {
    let mut out: Vec<Source> = Vec::new();
    for p in list {
        let label = format!("{}|{}", p.pm_id, p.name);
        let files = [
            (&p.pm2_env.pm_out_log_path, false),
            (&p.pm2_env.pm_err_log_path, true),
        ];
        for (path, is_err) in files {
            if (is_err && a.out) || (!is_err && a.err) || path == "/dev/null" {
                continue;
            }
            let path = PathBuf::from(path);
            if !out.iter().any(|s| s.path == path) {
                out.push(Source {
                    path,
                    label: label.clone(),
                    is_err,
                });
            }
        }
    }
    out
}

/// pm2's prefixes: the tail pads or cuts `<id>|<name>` to 10 characters; the live stream pads
/// it to the longest label plus one.
fn prefix(src: &Source, width: Option<usize>) -> String {
    match width {
        Some(w) => format!("{:<w$} | ", src.label),
        None => {
            let cut: String = src.label.chars().take(10).collect();
            format!("{cut:<10} | ")
        }
    }
}

fn emit(src: &Source, line: &str, a: &LogsArgs, width: Option<usize>) {
    let stamp = a
        .timestamp
        .as_deref()
        .map(|f| {
            format!(
                "{} ",
                chrono::Local::now().format(&crate::logs::pump::moment_to_chrono(f))
            )
        })
        .unwrap_or_default();
    if a.raw {
        if src.is_err {
            eprintln!("{line}");
        } else {
            println!("{line}");
        }
    } else if a.json {
        let v = serde_json::json!({ "message": line, "type": if src.is_err { "err" } else { "out" }, "app_name": src.label });
        println!("{v}");
    } else {
        println!("{}{stamp}{line}", prefix(src, width));
    }
}

pub fn logs(home: &Home, a: LogsArgs) -> anyhow::Result<i32> {
    // The daemon picks the processes by pm2's rules; a target that names none shows nothing.
    let list = match &a.target {
        None => super::list(home)?,
        Some(t) => {
            let req = Request::Select(TargetRequest {
                targets: vec![t.clone()],
                cwd: Some(super::caller_cwd()?),
            });
            match super::procs(home, &req) {
                Ok(list) => list,
                Err(e) if e.downcast_ref::<Error>().is_some_and(Error::is_not_found) => Vec::new(),
                Err(e) => return Err(e),
            }
        }
    };
    let label = a.target.clone().unwrap_or_else(|| "all".into());
    if a.lines > 0 || !a.nostream {
        println!("[TAILING] Tailing last {} lines for [{label}] process (change the value with --lines option)", a.lines);
    }
    let srcs = sources(&list, &a);
    let mut offsets = Vec::new();
    for s in &srcs {
        let len = std::fs::metadata(&s.path).map(|m| m.len()).unwrap_or(0);
        offsets.push(len);
        if a.lines == 0 {
            continue;
        }
        println!("{} last {} lines:", s.path.display(), a.lines);
        for line in tail::last_lines(&s.path, a.lines).unwrap_or_default() {
            emit(s, &line, &a, None);
        }
        println!();
    }
    if a.nostream {
        return Ok(0);
    }
    let width = srcs.iter().map(|s| s.label.chars().count() + 1).max();
    // Follow: a short poll keeps `pm logs` a plain file reader that needs no daemon stream.
    loop {
        for (s, off) in srcs.iter().zip(offsets.iter_mut()) {
            if let Ok((lines, next)) = tail::read_new(&s.path, *off) {
                *off = next;
                for line in lines {
                    emit(s, &line, &a, width);
                }
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
