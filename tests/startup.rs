//! Start at boot, without root or systemd as PID 1: the rendered unit passes
//! `systemd-analyze verify`, a user without root gets pm2's one command to paste, and the
//! unit's ExecStart (`pm daemon --resurrect`) speaks the notify protocol to a socket the test
//! listens on, as systemd would.
#![cfg(target_os = "linux")]

mod common;

use std::os::unix::net::{UnixDatagram, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{alive, read, wait_for, Pm};
use serde_json::Value;

const LONG: Duration = Duration::from_secs(20);
const PM: &str = env!("CARGO_BIN_EXE_pm");

fn me() -> String {
    nix::unistd::User::from_uid(nix::unistd::getuid())
        .ok()
        .flatten()
        .map(|u| u.name)
        .expect("the test's own user has a name")
}

/// Renders the unit as `pm startup` would install it, with the real `pm` binary, so
/// `systemd-analyze verify` can check that ExecStart exists.
fn render(dir: &Path, extra: &[&str]) -> PathBuf {
    let user = me();
    let hp = dir.display().to_string();
    let mut args = vec!["startup", "systemd", "--print", "-u", &user, "--hp", &hp];
    args.extend_from_slice(extra);
    let out = Command::new(PM).args(&args).output().expect("run pm");
    assert!(
        out.status.success(),
        "pm startup --print failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let unit = dir.join("pm2-test.service");
    std::fs::write(&unit, &out.stdout).expect("write the unit");
    unit
}

fn verify(unit: &Path) {
    let out = match Command::new("systemd-analyze")
        .arg("verify")
        .arg(unit)
        .output()
    {
        Ok(out) => out,
        Err(e) => {
            panic!("systemd-analyze is needed for this test (Debian: apt-get install systemd): {e}")
        }
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    let name = unit
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    // Unknown keys are only warnings (exit code 0), so the output counts too; lines about
    // other units on the machine do not.
    let ours: Vec<&str> = stderr.lines().filter(|l| l.contains(name)).collect();
    assert!(
        out.status.success() && ours.is_empty(),
        "systemd-analyze verify {}:\n{stderr}\n{}",
        unit.display(),
        read(unit)
    );
}

#[test]
fn the_rendered_unit_passes_systemd_analyze_verify() {
    let dir = tempfile::tempdir().expect("temp dir");
    let unit = render(dir.path(), &[]);
    let text = read(&unit);
    assert!(text.contains("Type=notify\n"), "{text}");
    assert!(
        text.contains(&format!("ExecStart={PM} daemon --resurrect\n")),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "Environment=PM_HOME={}/.pm\n",
            dir.path().display()
        )),
        "{text}"
    );
    verify(&unit);
    let online = render(dir.path(), &["--wait-ip"]);
    assert!(read(&online).contains("After=network-online.target\n"));
    verify(&online);
}

#[test]
fn without_root_startup_prints_the_command_to_paste_and_fails() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let dir = tempfile::tempdir().expect("temp dir");
    // Readable by `nobody`, whom a root test runs as.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).expect("mkdir");
    let systemctl = bin.join("systemctl");
    std::fs::write(&systemctl, "#!/bin/sh\nexit 0\n").expect("write");
    std::fs::set_permissions(&systemctl, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let node = which::which("node").expect("node on PATH");
    let node_dir = node.parent().expect("node's directory");
    let mut cmd = Command::new(PM);
    cmd.args(["startup", "-u", "deploy", "--hp", "/home/deploy"])
        .env("PATH", format!("{}:{}", bin.display(), node_dir.display()))
        .env("HOME", dir.path())
        .current_dir(dir.path());
    if nix::unistd::geteuid().is_root() {
        cmd.uid(65534).gid(65534);
    }
    let out = cmd.output().expect("run pm startup");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines,
        [
            "[PM2] Init System found: systemd",
            "[PM2] To setup the Startup Script, copy/paste the following command:",
            &format!(
                "sudo env PATH=$PATH:{} {PM} startup systemd -u deploy --hp /home/deploy",
                node_dir.display()
            ),
        ],
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// What systemd would be: a datagram socket named by `NOTIFY_SOCKET`.
struct Systemd {
    sock: UnixDatagram,
    path: PathBuf,
}

impl Systemd {
    fn listen(dir: &Path) -> Systemd {
        let path = dir.join("notify.sock");
        let sock = UnixDatagram::bind(&path).expect("bind the notify socket");
        Systemd { sock, path }
    }

    /// The next state the daemon sends, or a panic naming `what` after the deadline.
    fn next(&self, what: &str, deadline: Instant) -> String {
        let left = deadline.saturating_duration_since(Instant::now());
        self.sock
            .set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .expect("set timeout");
        let mut buf = [0u8; 4096];
        match self.sock.recv(&mut buf) {
            Ok(n) => String::from_utf8_lossy(&buf[..n]).into_owned(),
            Err(e) => panic!("no {what} from the daemon: {e}"),
        }
    }

    /// Waits for a state starting with `prefix`, skipping watchdog pings.
    fn wait(&self, prefix: &str) -> String {
        let deadline = Instant::now() + LONG;
        loop {
            let msg = self.next(prefix, deadline);
            if msg.starts_with(prefix) {
                return msg;
            }
            assert_eq!(msg, "WATCHDOG=1", "unexpected state before {prefix}");
        }
    }
}

/// `pm daemon --resurrect` as the unit's ExecStart runs it, killed by pid if the test fails.
struct Daemon {
    child: Child,
    log: PathBuf,
}

impl Daemon {
    fn start(pm: &Pm, systemd: &Systemd, env: &[(&str, &str)]) -> Daemon {
        let log = pm.path("daemon.log");
        let file = std::fs::File::create(&log).expect("daemon log");
        let child = Command::new(PM)
            .args(["daemon", "--resurrect"])
            .env("PM_HOME", pm.home())
            .env_remove("PM2_HOME")
            .env("NOTIFY_SOCKET", &systemd.path)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("dup"))
            .stderr(file)
            .spawn()
            .expect("start pm daemon");
        Daemon { child, log }
    }

    fn pid(&self) -> nix::unistd::Pid {
        nix::unistd::Pid::from_raw(self.child.id() as i32)
    }

    fn exited(&mut self) -> bool {
        self.status().is_some()
    }

    fn status(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(self.pid(), nix::sys::signal::Signal::SIGKILL);
        let _ = self.child.wait();
    }
}

/// A saved list with one app, and no daemon running.
fn saved_app(pm: &Pm) {
    pm.write("kept.js", "setInterval(() => {}, 1000)\n");
    pm.ok(&["start", "kept.js"]);
    pm.ok(&["save"]);
    pm.ok(&["kill"]);
    wait_for("the first daemon to be gone", LONG, || {
        UnixStream::connect(pm.home().join("rpc.sock"))
            .is_err()
            .then_some(())
    });
}

#[test]
fn ready_comes_after_the_socket_serves_and_the_saved_app_runs_then_stopping_on_sigterm() {
    let pm = Pm::new();
    saved_app(&pm);
    let systemd = Systemd::listen(pm.dir.path());
    let mut daemon = Daemon::start(&pm, &systemd, &[]);
    let ready = systemd.wait("READY=1");
    assert_eq!(ready, format!("READY=1\nMAINPID={}", daemon.child.id()));
    // At READY the socket must already answer: otherwise `pm jlist` would start a daemon.
    assert!(
        UnixStream::connect(pm.home().join("rpc.sock")).is_ok(),
        "READY before the socket serves"
    );
    let list = pm.jlist();
    let app = list
        .iter()
        .find(|p| p["name"] == "kept")
        .unwrap_or_else(|| panic!("READY before the saved app was started: {list:?}"));
    assert_eq!(
        app["pm2_env"]["status"], "online",
        "READY before the app runs: {app}"
    );
    let pid = app["pid"].as_i64().expect("a pid") as i32;
    assert!(pid > 0 && alive(pid), "the resurrected app runs: {app}");

    nix::sys::signal::kill(daemon.pid(), nix::sys::signal::Signal::SIGTERM).expect("SIGTERM");
    assert_eq!(systemd.wait("STOPPING=1"), "STOPPING=1");
    wait_for("the daemon to exit", LONG, || daemon.exited().then_some(()));
    assert!(!alive(pid), "SIGTERM to the daemon stops its apps");
    let log = read(&daemon.log);
    assert!(log.contains("restored kept"), "{log}");
}

#[test]
fn watchdog_pings_arrive_when_systemd_asks_for_them() {
    let pm = Pm::new();
    let systemd = Systemd::listen(pm.dir.path());
    // 200 ms: a ping every 100 ms.
    let _daemon = Daemon::start(&pm, &systemd, &[("WATCHDOG_USEC", "200000")]);
    let deadline = Instant::now() + LONG;
    assert!(systemd.next("READY=1", deadline).starts_with("READY=1"));
    for _ in 0..3 {
        assert_eq!(systemd.next("WATCHDOG=1", deadline), "WATCHDOG=1");
    }
}

#[test]
fn a_broken_dump_is_one_log_line_and_the_daemon_still_becomes_ready() {
    let pm = Pm::new();
    std::fs::create_dir_all(pm.home()).expect("mkdir home");
    std::fs::write(pm.home().join("dump.pm2"), "[{ not json").expect("write dump");
    let systemd = Systemd::listen(pm.dir.path());
    let daemon = Daemon::start(&pm, &systemd, &[]);
    systemd.wait("READY=1");
    assert!(pm.jlist().is_empty());
    let log = read(&daemon.log);
    let said: Vec<&str> = log.lines().filter(|l| l.contains("dump")).collect();
    assert_eq!(said.len(), 1, "{log}");
    assert!(said[0].contains("is not a valid dump"), "{log}");
}

#[test]
fn a_daemon_started_on_demand_does_not_take_the_callers_notify_socket() {
    let pm = Pm::new();
    let systemd = Systemd::listen(pm.dir.path());
    // As `ExecReload=pm reload all` would, with no daemon running: the CLI starts one.
    let out = Command::new(PM)
        .arg("ping")
        .env("PM_HOME", pm.home())
        .env_remove("PM2_HOME")
        .env("NOTIFY_SOCKET", &systemd.path)
        .output()
        .expect("run pm ping");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // `pm kill` returns once the daemon is gone, so anything it sent is queued by now.
    pm.ok(&["kill"]);
    systemd.sock.set_nonblocking(true).expect("non-blocking");
    let mut buf = [0u8; 256];
    match systemd.sock.recv(&mut buf) {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!(
            "the on-demand daemon spoke to the caller's notify socket: {:?}",
            other.map(|n| String::from_utf8_lossy(&buf[..n]).into_owned())
        ),
    }
}

#[test]
fn after_a_crash_the_restarted_unit_adopts_the_apps_instead_of_starting_them_twice() {
    let pm = Pm::new();
    saved_app(&pm);
    let systemd = Systemd::listen(pm.dir.path());
    let mut first = Daemon::start(&pm, &systemd, &[]);
    systemd.wait("READY=1");
    let before = pm.proc("kept");
    let pid = before["pid"].as_i64().expect("a pid") as i32;

    // A crash. With KillMode=process systemd leaves the rest of the cgroup alone, then
    // `Restart=on-failure` runs ExecStart again.
    nix::sys::signal::kill(first.pid(), nix::sys::signal::Signal::SIGKILL).expect("SIGKILL");
    wait_for("the first daemon to be gone", LONG, || {
        first.exited().then_some(())
    });
    assert!(alive(pid), "the app died with the daemon");
    let second = Daemon::start(&pm, &systemd, &[]);
    assert_eq!(
        systemd.wait("READY=1"),
        format!("READY=1\nMAINPID={}", second.child.id())
    );
    let list = pm.jlist();
    let kept: Vec<&Value> = list.iter().filter(|p| p["name"] == "kept").collect();
    assert_eq!(kept.len(), 1, "the app is listed once: {list:?}");
    assert_eq!(
        kept[0]["pid"].as_i64(),
        Some(pid as i64),
        "adopted, not restarted: {list:?}"
    );
    assert_eq!(kept[0]["pm2_env"]["status"], "online");
    assert_eq!(
        kept[0]["pm2_env"]["restart_time"], before["pm2_env"]["restart_time"],
        "the adoption is not counted as a restart"
    );
}

#[test]
fn pm_update_under_the_unit_leaves_the_apps_for_the_restarted_service_to_adopt() {
    let pm = Pm::new();
    saved_app(&pm);
    let systemd = Systemd::listen(pm.dir.path());
    let mut first = Daemon::start(&pm, &systemd, &[]);
    systemd.wait("READY=1");
    let pid = pm.proc("kept")["pid"].as_i64().expect("a pid") as i32;

    // `pm update` waits for the service manager to start the new daemon; it must not start one.
    let update = Command::new(PM)
        .arg("update")
        .env("PM_HOME", pm.home())
        .env_remove("PM2_HOME")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run pm update");
    let status = wait_for("the daemon to leave", LONG, || first.status());
    // Non-zero: what makes `Restart=on-failure` start the unit again.
    assert_eq!(status.code(), Some(75), "{status:?}");
    assert!(alive(pid), "the app died with the hand-over");
    // As systemd then does: ExecStart again, with whatever binary is installed now.
    let second = Daemon::start(&pm, &systemd, &[]);
    assert_eq!(
        systemd.wait("READY=1"),
        format!("READY=1\nMAINPID={}", second.child.id())
    );
    let out = update.wait_with_output().expect("pm update");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains(">>>>>>>>>> PM2 updated"), "{text}");
    let list = pm.jlist();
    let kept: Vec<&Value> = list.iter().filter(|p| p["name"] == "kept").collect();
    assert_eq!(kept.len(), 1, "the app is listed once: {list:?}");
    assert_eq!(
        kept[0]["pid"].as_i64(),
        Some(pid as i64),
        "adopted, not restarted"
    );
    assert_eq!(
        pm.daemon_pid(),
        Some(second.child.id() as i32),
        "the daemon is the service's, not one `pm update` started"
    );
}
