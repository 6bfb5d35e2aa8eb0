//! `pm logs`: the last lines of each app's files with pm2's `<id>|<name> | ` prefix, then (unless
//! `--nostream`) new lines as they are appended, followed across rotations. `--json` and
//! `--format` are pm2's machine-readable streams: new lines only, from the daemon's bus.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use super::args::LogsArgs;
use super::client::Client;
use crate::config::Home;
use crate::logs::tail::{self, Follow};
use crate::protocol::event::{BusEvent, LogLine};
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

/// `--highlight <value>`: its first occurrence on a grey background, as pm2 (chalk) does, and
/// only where chalk would colour: on a terminal, or with `FORCE_COLOR` set.
struct Highlight(Option<String>);

impl Highlight {
    fn new(a: &LogsArgs) -> Highlight {
        let colour = std::io::stdout().is_terminal()
            || std::env::var("FORCE_COLOR").is_ok_and(|v| !matches!(v.as_str(), "0" | "false"));
        let value = a.highlight.clone().filter(|v| !v.is_empty() && colour);
        Highlight(value)
    }

    fn apply(&self, line: &str) -> String {
        match &self.0 {
            Some(v) => line.replacen(v.as_str(), &format!("\x1b[100m{v}\x1b[49m"), 1),
            None => line.to_string(),
        }
    }
}

/// The current time in a format already turned from moment.js's tokens into chrono's (once
/// per stream, not per line).
fn stamp(chrono_format: &str) -> String {
    chrono::Local::now().format(chrono_format).to_string()
}

struct Style {
    /// `--timestamp`, in chrono's tokens.
    stamp: Option<String>,
    highlight: Highlight,
}

fn emit(src: &Source, line: &str, a: &LogsArgs, width: Option<usize>, st: &Style) {
    if a.raw {
        if src.is_err {
            eprintln!("{line}");
        } else {
            println!("{line}");
        }
        return;
    }
    let stamp = st
        .stamp
        .as_deref()
        .map(|f| stamp(f) + " ")
        .unwrap_or_default();
    println!("{}{stamp}{}", prefix(src, width), st.highlight.apply(line));
}

pub fn logs(home: &Home, a: LogsArgs) -> anyhow::Result<i32> {
    if (a.json || a.format) && !a.nostream {
        return bus_stream(home, &a);
    }
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
    let st = Style {
        stamp: a
            .timestamp
            .as_deref()
            .map(crate::logs::pump::moment_to_chrono),
        highlight: Highlight::new(&a),
    };
    let label = a.target.clone().unwrap_or_else(|| "all".into());
    // As pm2: no header when no old lines are asked for, and "processes" for all of them.
    if a.lines > 0 {
        let plural = if label == "all" { "es" } else { "" };
        println!("[TAILING] Tailing last {} lines for [{label}] process{plural} (change the value with --lines option)", a.lines);
    }
    let srcs = sources(&list, &a);
    // Followers first: a line appended while the tail is printed is shown once, by them.
    let mut follows: Vec<Follow> = srcs.iter().map(|s| Follow::from_end(&s.path)).collect();
    for s in &srcs {
        if a.lines == 0 {
            continue;
        }
        println!("{} last {} lines:", s.path.display(), a.lines);
        for line in tail::last_lines(&s.path, a.lines).unwrap_or_default() {
            emit(s, &line, &a, None, &st);
        }
        println!();
    }
    if a.nostream {
        return Ok(0);
    }
    let width = srcs.iter().map(|s| s.label.chars().count() + 1).max();
    // Follow: a short poll keeps `pm logs` a plain file reader that needs no daemon stream.
    loop {
        for (s, f) in srcs.iter().zip(follows.iter_mut()) {
            for line in f.poll() {
                emit(s, &line, &a, width, &st);
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// pm2's `logs --json` (`Log.jsonStream`) and `logs --format` (`Log.formatStream`): what the
/// bus carries from now on, for `all` or an app named by name or id.
fn bus_stream(home: &Home, a: &LogsArgs) -> anyhow::Result<i32> {
    let target = a.target.clone().unwrap_or_else(|| "all".into());
    let matches = |l: &LogLine| {
        target == "all" || l.process.name == target || l.process.pm_id.to_string() == target
    };
    let hl = Highlight::new(a);
    let format_stamp = crate::logs::pump::moment_to_chrono("YYYY-MM-DD-HH:mm:ssZZ");
    let mut bus = Client::connect(home)?.subscribe()?;
    loop {
        let ev = bus.next_event()?;
        let (line, is_err) = match ev {
            BusEvent::Out(l) => (l, false),
            BusEvent::Err(l) => (l, true),
            BusEvent::Process(p) if a.json => {
                let v = serde_json::json!({
                    "timestamp": iso(p.at),
                    "type": "process_event",
                    "status": p.event,
                    "app_name": p.process.name,
                });
                println!("{v}");
                continue;
            }
            BusEvent::Kill(_) => return Ok(0),
            _ => continue,
        };
        if !matches(&line) || (is_err && a.out) || (!is_err && a.err) {
            continue;
        }
        if a.json {
            let v = serde_json::json!({
                "message": line.data.replace(['\r', '\n'], ""),
                "timestamp": iso(line.at),
                "type": if is_err { "err" } else { "out" },
                "process_id": line.process.pm_id,
                "app_name": line.process.name,
            });
            println!("{v}");
            continue;
        }
        for text in line.data.split('\n').filter(|t| !t.is_empty()) {
            let when = stamp(&format_stamp);
            println!(
                "timestamp={when} app={} id={} type={} message={}",
                line.process.name,
                line.process.pm_id,
                if is_err { "error" } else { "out" },
                hl.apply(text)
            );
        }
    }
}

/// dayjs's JSON form, which pm2 prints: UTC with milliseconds.
fn iso(at_ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(at_ms)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}
