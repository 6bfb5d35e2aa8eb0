//! `pm report`: what a bug report needs, in pm2's `fmt` layout (`--- Title ---`, `key : value`):
//! versions, the home, the daemon's pid and memory, the process list, the caller's environment
//! with secrets masked, and the end of the daemon's log.

use super::Out;
use crate::config::Home;

const SEP: &str = "===============================================================================";
const LINE: &str =
    "-------------------------------------------------------------------------------";

fn title(t: &str) -> String {
    let head = format!("--- {t} ");
    let rest = LINE.get(head.chars().count()..).unwrap_or("");
    format!("{head}{rest}")
}

fn field(key: &str, value: impl std::fmt::Display) -> String {
    format!("{key:<20} : {value}")
}

fn daemon_pid(home: &Home) -> Option<u32> {
    std::fs::read_to_string(home.pid_file())
        .ok()?
        .trim()
        .parse()
        .ok()
}

pub fn report(home: &Home, out: &Out) -> anyhow::Result<i32> {
    let list: Vec<_> = super::list(home)?
        .iter()
        .map(crate::protocol::secret::shown)
        .collect();
    let mut lines = vec![String::new(), "```".to_string(), title("PM2 report")];
    lines.push(field("Date", chrono::Local::now().to_rfc2822()));
    lines.push(SEP.into());
    lines.push(title("Daemon"));
    lines.push(field("pm version", crate::protocol::VERSION));
    let pid = daemon_pid(home);
    lines.push(field(
        "pid",
        pid.map_or("unknown".into(), |p| p.to_string()),
    ));
    let rss = pid.and_then(crate::sys::proc::rss_bytes);
    lines.push(field(
        "rss",
        rss.map_or("unknown".into(), |b| super::table::bytes_to_size(b as f64)),
    ));
    lines.push(field("home", home.root.display()));
    lines.push(field("pid file", home.pid_file().display()));
    lines.push(SEP.into());
    lines.push(title("CLI"));
    lines.push(field("pm version", crate::protocol::VERSION));
    let exe = std::env::current_exe().map(|p| p.display().to_string());
    lines.push(field("binary", exe.unwrap_or_else(|_| "unknown".into())));
    let argv: Vec<String> = std::env::args().collect();
    lines.push(field("argv", argv.join(",")));
    lines.push(field("uid", nix::unistd::geteuid()));
    lines.push(field("gid", nix::unistd::getegid()));
    lines.push(SEP.into());
    lines.push(title("System info"));
    lines.push(field("arch", std::env::consts::ARCH));
    lines.push(field("platform", std::env::consts::OS));
    lines.push(field("cpus nb", crate::sys::workload::cores()));
    lines.push(SEP.into());
    lines.push(title("PM2 list"));
    let now = crate::sys::clock::now_ms();
    lines.push(super::table::render(&list, now));
    lines.push(SEP.into());
    lines.push(title("Environment"));
    let mut env: Vec<(String, String)> = std::env::vars().collect();
    env.sort();
    let secrets = crate::protocol::secret::Secrets::new(
        env.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        [],
    );
    for (k, v) in &env {
        lines.push(format!("{k}={}", secrets.var(k, v)));
    }
    lines.push(SEP.into());
    lines.push(title("Daemon logs"));
    let log = home.daemon_log();
    lines.push(format!("{} last 20 lines:", log.display()));
    match crate::logs::tail::last_lines(&log, 20) {
        Ok(tail) => lines.extend(
            tail.into_iter()
                .map(|l| format!("PM2        | {}", secrets.text(&l))),
        ),
        Err(e) => lines.push(format!("cannot read {}: {e}", log.display())),
    }
    lines.push("```".into());
    lines.push(String::new());
    lines.push(
        "Please copy/paste the above report in your issue on https://github.com/Unitech/pm2/issues"
            .into(),
    );
    for l in lines {
        out.line(l);
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_fill_the_line_as_pm2_fmt() {
        assert_eq!(title("PM2 report").chars().count(), LINE.len());
        assert_eq!(field("arch", "x64"), "arch                 : x64");
    }
}
