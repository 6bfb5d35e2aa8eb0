//! `pm save`, `pm resurrect` and `pm cleardump`, with pm2's lines (`lib/API/Startup.js`).

use anyhow::Context;

use super::client::Client;
use super::Out;
use crate::config::{dump, paths::absolute, Home};
use crate::protocol::{DumpRequest, Request, Response, StartRequest};

/// `pm save [--force]` (or `FORCE=1`, as pm2): the daemon writes the dump; an empty list is refused unless forced, and
/// then, as in pm2, the command still succeeds (a deploy hook running `pm2 save` keeps working).
pub fn save(home: &Home, force: bool, out: &Out) -> anyhow::Result<i32> {
    // pm2 reads `FORCE` from the environment as well as `--force`.
    let force = force || std::env::var_os("FORCE").is_some_and(|v| !v.is_empty());
    out.line("[PM2] Saving current process list...");
    let req = Request::Dump(DumpRequest { force });
    let saved = match Client::connect(home)?.call_ok(&req)? {
        Response::Procs { procs } => procs.len(),
        _ => 0,
    };
    if saved == 0 && !force {
        out.line("[PM2][WARN] PM2 is not managing any process, skipping save...");
        out.line("[PM2][WARN] To force saving use: pm save --force");
        return Ok(0);
    }
    out.line(format!(
        "[PM2] Successfully saved in {}",
        home.dump_file().display()
    ));
    Ok(0)
}

/// `pm update` (`updatePM2`): the running daemon hands its apps over to this binary's daemon,
/// which adopts them (same pids, nothing restarted; see `daemon::live`). A daemon too old to
/// hand over is replaced as pm2 does it: save, stop the daemon, start this binary's and
/// resurrect. The list is saved either way, even when empty, so what comes back is what ran.
pub fn update(home: &Home, out: &Out) -> anyhow::Result<i32> {
    out.line("Be sure to have the latest version by doing `npm install pm-native@latest -g` before doing this procedure.");
    save(home, true, out)?;
    match hand_over(home)? {
        HandOver::Done => {
            // Connecting starts this binary's daemon, which adopts the apps before it answers.
            Client::connect(home)?;
            super::show_table(home, out)?;
            out.line(">>>>>>>>>> PM2 updated");
            return Ok(0);
        }
        HandOver::ToService => {
            // The unit's Restart=on-failure starts the new binary; starting one from here
            // would race it for the home and leave the daemon outside the service.
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
            while Client::connect_existing(home).ok().flatten().is_none() {
                if std::time::Instant::now() > deadline {
                    anyhow::bail!("the daemon left its apps to the service manager, which did not start it again within 30 s; the apps still run: start the service (systemctl start <unit>) and it adopts them");
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            super::show_table(home, out)?;
            out.line(">>>>>>>>>> PM2 updated");
            return Ok(0);
        }
        HandOver::Cannot => {}
    }
    super::actions::kill(home, out)?;
    let code = resurrect(home, None, out)?;
    out.line(">>>>>>>>>> PM2 updated");
    Ok(code)
}

enum HandOver {
    /// The daemon has gone; this binary's daemon is to be started.
    Done,
    /// The daemon has gone and its service manager starts the successor.
    ToService,
    /// No daemon able to hand over runs.
    Cannot,
}

/// Asks the running daemon to leave its apps to a successor (SIGUSR1) and waits until it has
/// gone. `Cannot` when it cannot (its live state does not say it can, or names another daemon).
fn hand_over(home: &Home) -> anyhow::Result<HandOver> {
    let pid = std::fs::read_to_string(home.pid_file())
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok());
    let live: Option<serde_json::Value> = std::fs::read(home.live_state())
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    let (Some(pid), Some(live)) = (pid, live) else {
        return Ok(HandOver::Cannot);
    };
    let capable = live.get("handover").and_then(serde_json::Value::as_u64) >= Some(1)
        && live.get("daemon_pid").and_then(serde_json::Value::as_u64) == Some(u64::from(pid));
    if !capable || !crate::sys::proc::is_live(pid) {
        return Ok(HandOver::Cannot);
    }
    let service = live.get("service").and_then(serde_json::Value::as_u64) >= Some(1);
    let target = nix::unistd::Pid::from_raw(pid as i32);
    nix::sys::signal::kill(target, nix::sys::signal::Signal::SIGUSR1)
        .with_context(|| format!("cannot signal the daemon (pid {pid})"))?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while crate::sys::proc::is_live(pid) {
        if std::time::Instant::now() > deadline {
            anyhow::bail!("the daemon (pid {pid}) did not hand its apps over within 30 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    Ok(if service {
        HandOver::ToService
    } else {
        HandOver::Done
    })
}

/// `pm cleardump`: an empty saved list, written as `pm save` writes.
pub fn cleardump(home: &Home, out: &Out) -> anyhow::Result<i32> {
    home.ensure()
        .with_context(|| format!("cannot create {}", home.root.display()))?;
    let path = home.dump_file();
    dump::clear(&path).with_context(|| format!("cannot write {}", path.display()))?;
    out.line(format!("[PM2] Successfully created {}", path.display()));
    Ok(0)
}

/// `pm resurrect [path]`: starts the saved apps that do not run yet, each with the environment
/// it had. Reads pm-native's dump or pm2's; falls back to the `.bak` when the dump is broken
/// (removing a broken dump of the home, as pm2 does; a file named on the command line is never
/// removed). Fails when nothing could be read, or when every app failed to start.
pub fn resurrect(home: &Home, path: Option<String>, out: &Out) -> anyhow::Result<i32> {
    out.line("[PM2] Resurrecting");
    let (path, ours) = match path {
        Some(p) => (absolute(std::path::Path::new(&p)), false),
        None => (home.dump_file(), true),
    };
    let loaded = match dump::load(&path, ours) {
        Ok(l) => l,
        Err(errors) => {
            for e in errors {
                eprintln!("[PM2][ERROR] {e}");
            }
            return Ok(1);
        }
    };
    if let Some(e) = &loaded.skipped {
        eprintln!("[PM2][ERROR] {e}");
    }
    out.line(format!(
        "[PM2] Restoring processes located in {}",
        loaded.from.display()
    ));
    let mut client = Client::connect(home)?;
    let running: Vec<String> = match client.call_ok(&Request::List)? {
        Response::Procs { procs } => procs.into_iter().map(|p| p.name).collect(),
        _ => Vec::new(),
    };
    let (mut started, mut failed) = (0, 0);
    for app in loaded.apps {
        let name = app.spec.resolved_name();
        if running.contains(&name) {
            out.line(format!("[PM2][WARN] {name} already running, skipped"));
            continue;
        }
        let script = app.spec.script.clone();
        match client.call(&Request::Start(StartRequest {
            apps: vec![app.spec],
            env: app.env,
            force: false,
        }))? {
            // Started meanwhile by the daemon itself (a daemon that finds its predecessor's
            // apps all gone restores the dump on its own): skipped, as a running app is.
            Response::Error {
                error: crate::protocol::Error::AlreadyRunning,
                ..
            } => out.line(format!("[PM2][WARN] {name} already running, skipped")),
            Response::Error { message, .. } => {
                eprintln!("[PM2][ERROR] {name}: {message}");
                failed += 1;
            }
            _ => {
                out.line(format!("[PM2] Process {script} restored"));
                started += 1;
            }
        }
    }
    super::show_table(home, out)?;
    Ok(if failed > 0 && started == 0 { 1 } else { 0 })
}
