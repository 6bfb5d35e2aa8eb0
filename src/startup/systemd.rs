//! The systemd unit. pm2's is `Type=forking` with a `PIDFile`: `pm2 resurrect` forks a daemon
//! and exits, and systemd guesses the main process from a pid file that may be stale or
//! written late (pm2 issues #2912 "PID file not readable (yet)", #3924 "did not take the
//! steps required by its unit configuration"). Here the daemon itself is the service's main process, in the foreground
//! (`pm daemon --resurrect`), and tells systemd when it is ready (`Type=notify`): after its
//! socket serves and the saved apps have started, so units ordered after it find them up.

use std::path::PathBuf;

use super::Params;

pub fn unit_path(service: &str) -> PathBuf {
    PathBuf::from("/etc/systemd/system").join(format!("{service}.service"))
}

/// pm2's template appends these to the caller's `PATH`, so the usual tools are found even when
/// `pm startup` ran under a stripped `PATH`.
const SYSTEM_PATH: &str = "/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin";

/// How long systemd waits between two `WATCHDOG=1` before it restarts the service: long
/// enough that a busy machine does not trip it, short enough that a hung daemon comes back.
const WATCHDOG_SEC: u32 = 30;

pub fn render(p: &Params) -> String {
    let pm = p.pm.display().to_string();
    let path = if p.path.is_empty() {
        SYSTEM_PATH.to_string()
    } else {
        format!("{}:{SYSTEM_PATH}", p.path)
    };
    let network = if p.wait_ip {
        "Wants=network-online.target\nAfter=network-online.target"
    } else {
        "After=network.target"
    };
    format!(
        "\
[Unit]
Description=pm-native process manager (pm2 compatible)
{network}

[Service]
# The daemon runs in the foreground as the main process and sends READY=1 once its socket
# serves and the apps saved by `pm save` have started.
Type=notify
NotifyAccess=main
User={user}
LimitNOFILE=infinity
LimitNPROC=infinity
LimitCORE=infinity
Environment={env_path}
Environment={env_home}
ExecStart={exec_start}
ExecReload={exec_reload}
# No ExecStop: systemd's SIGTERM is the daemon's own shutdown, which stops every app with its
# kill_signal and kill_timeout, then exits. KillMode=process sends signals to the daemon alone
# and leaves the rest of the cgroup be: after a crash or a watchdog timeout the apps (and the fd
# keeper holding their pipes) keep running, and the restarted daemon adopts them rather than
# starting them twice.
KillMode=process
Restart=on-failure
WatchdogSec={WATCHDOG_SEC}

[Install]
WantedBy=multi-user.target
",
        user = escape(&p.user),
        env_path = quote(&format!("PATH={path}"), false),
        env_home = quote(&format!("PM_HOME={}", p.pm_home().display()), false),
        exec_start = command(&[&pm, "daemon", "--resurrect"]),
        exec_reload = command(&[&pm, "reload", "all"]),
    )
}

/// `%` starts a specifier in every unit setting.
fn escape(s: &str) -> String {
    s.replace('%', "%%")
}

/// A command line for `ExecStart=`-like settings: each word quoted when it has to be.
fn command(words: &[&str]) -> String {
    words
        .iter()
        .map(|w| quote(w, true))
        .collect::<Vec<_>>()
        .join(" ")
}

/// One word of a unit setting, double-quoted with C escapes when it holds anything but plain
/// path characters. In command lines `$` expands variables, so it is doubled there.
fn quote(word: &str, exec: bool) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "/._:@+,=-".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        return word.to_string();
    }
    let mut out = String::from("\"");
    for c in word.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '%' => out.push_str("%%"),
            '$' if exec => out.push_str("$$"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<&str> {
        text.lines().filter(|l| !l.starts_with('#')).collect()
    }

    #[test]
    fn the_unit_runs_the_daemon_in_the_foreground_with_notify() {
        let p = crate::startup::sample();
        let unit = render(&p);
        let l = lines(&unit);
        for want in [
            "Type=notify",
            "NotifyAccess=main",
            "KillMode=process",
            "Restart=on-failure",
            "User=deploy",
            "LimitNOFILE=infinity",
            "Environment=PM_HOME=/home/deploy/.pm",
            "Environment=PATH=/usr/local/bin:/usr/bin:/opt/node/bin:/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin",
            "ExecStart=/opt/app/node_modules/pm-native/bin/pm daemon --resurrect",
            "ExecReload=/opt/app/node_modules/pm-native/bin/pm reload all",
            "After=network.target",
            "WantedBy=multi-user.target",
        ] {
            assert!(l.contains(&want), "missing {want:?} in\n{unit}");
        }
        for gone in ["Type=forking", "PIDFile", "ExecStop", "PM2_HOME"] {
            assert!(!l.iter().any(|x| x.starts_with(gone)), "{gone} in\n{unit}");
        }
    }

    #[test]
    fn wait_ip_orders_after_network_online() {
        let mut p = crate::startup::sample();
        p.wait_ip = true;
        let unit = render(&p);
        let l = lines(&unit);
        assert!(l.contains(&"Wants=network-online.target"));
        assert!(l.contains(&"After=network-online.target"));
        assert!(!l.contains(&"After=network.target"));
        assert!(
            l.contains(&"WantedBy=multi-user.target"),
            "not pm2's WantedBy=network-online.target"
        );
    }

    #[test]
    fn odd_paths_are_quoted_not_reinterpreted() {
        let mut p = crate::startup::sample();
        p.pm = PathBuf::from("/opt/my app/100%/$x/pm");
        p.home = PathBuf::from("/home/a b");
        let unit = render(&p);
        assert!(
            unit.contains("ExecStart=\"/opt/my app/100%%/$$x/pm\" daemon --resurrect"),
            "{unit}"
        );
        assert!(
            unit.contains("Environment=\"PM_HOME=/home/a b/.pm\""),
            "{unit}"
        );
        assert_eq!(quote("a\"b\\c\nd", false), "\"a\\\"b\\\\c\\nd\"");
        assert_eq!(quote("", true), "\"\"");
    }
}
