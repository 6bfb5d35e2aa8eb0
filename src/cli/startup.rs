//! `pm startup` / `pm unstartup`: pm2's verbs and lines. What to write and run comes from
//! [`crate::startup`]; this file finds the values (user, home, `pm`, `node`, `PATH`), checks
//! for root, writes the script and runs the init system's commands.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{anyhow, bail, Context};
use clap::Args;

use super::Out;
use crate::startup::{self, Params, Platform, Step};

#[derive(Args, Debug, Clone)]
pub struct StartupArgs {
    /// systemd, upstart, systemv, openrc or launchd (pm2's aliases too); detected when omitted.
    pub platform: Option<String>,
    /// The user the daemon runs as.
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// That user's home directory (the daemon's home is <hp>/.pm).
    #[arg(long = "hp")]
    pub hp: Option<String>,
    /// The service's name (default pm2-<user>, as pm2).
    #[arg(long = "service-name")]
    pub service_name: Option<String>,
    /// Start once the network is online (systemd: After=network-online.target).
    #[arg(long = "wait-ip")]
    pub wait_ip: bool,
    /// Print the script instead of installing it; needs no root.
    #[arg(long, hide = true)]
    pub print: bool,
}

pub fn startup(a: StartupArgs, out: &Out) -> anyhow::Result<i32> {
    let quiet = Out {
        silent: out.silent || a.print,
        mini: false,
    };
    let platform = platform(a.platform.as_deref(), &quiet)?;
    let (params, node_dir) = params(&a)?;
    let install = startup::install(platform, &params);
    if a.print {
        print!("{}", install.text);
        return Ok(0);
    }
    if !nix::unistd::geteuid().is_root() {
        return Ok(not_root(
            "setup",
            "startup",
            platform,
            &params,
            node_dir.as_deref(),
            out,
        ));
    }
    out.line(format!("Platform {}", platform.name()));
    out.line("Template");
    out.line(&install.text);
    out.line("Target path");
    out.line(install.destination.display().to_string());
    out.line("Command list");
    out.line(inspect_list(&install.steps));
    out.line(format!(
        "[PM2] Writing init configuration in {}",
        install.destination.display()
    ));
    write_script(&install.destination, &install.text, install.mode)?;
    out.line("[PM2] Making script booting at startup...");
    for step in &install.steps {
        out.line(format!("[PM2] [-] Executing: {step}..."));
        perform(step)?;
        out.line("[PM2] [v] Command successfully executed.");
    }
    out.line("+---------------------------------------+");
    out.line("[PM2] Freeze a process list on reboot via:");
    out.line("$ pm save");
    out.line("");
    out.line("[PM2] Remove init script via:");
    out.line(format!("$ pm unstartup {}", platform.name()));
    Ok(0)
}

pub fn unstartup(a: StartupArgs, out: &Out) -> anyhow::Result<i32> {
    let platform = platform(a.platform.as_deref(), out)?;
    let (params, node_dir) = params(&a)?;
    if !nix::unistd::geteuid().is_root() {
        return Ok(not_root(
            "unsetup",
            "unstartup",
            platform,
            &params,
            node_dir.as_deref(),
            out,
        ));
    }
    for step in startup::uninstall(platform, &params) {
        perform(&step)?;
    }
    out.line("[PM2] Init file disabled.");
    Ok(0)
}

/// The platform asked for, else the detected one, with pm2's lines about both.
fn platform(asked: Option<&str>, out: &Out) -> anyhow::Result<Platform> {
    let path = std::env::var("PATH").ok();
    let detected =
        Platform::detect(|prog| crate::sys::which::which(prog, path.as_deref()).is_some());
    match detected {
        Some(d) => out.line(format!("[PM2] Init System found: {}", d.name())),
        None if asked.is_none() => bail!("Init system not found"),
        None => {}
    }
    let Some(asked) = asked else {
        return Ok(detected.expect("checked above"));
    };
    let asked = Platform::parse(asked).map_err(|e| anyhow!(e))?;
    if let Some(d) = detected.filter(|&d| d != asked) {
        out.line("-----------------------------------------------------------");
        out.line(format!(
            " PM2 detected {} but you chose {}",
            d.name(),
            asked.name()
        ));
        out.line(" Please verify that your choice is indeed your init system");
        out.line(" If you aren't sure, just run: pm startup");
        out.line("-----------------------------------------------------------");
    }
    Ok(asked)
}

/// The values the script is rendered with, and `node`'s directory for the root hint.
fn params(a: &StartupArgs) -> anyhow::Result<(Params, Option<PathBuf>)> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let user = match a
        .user
        .clone()
        .or_else(|| var("USER"))
        .or_else(|| var("LOGNAME"))
    {
        Some(u) => u,
        None => nix::unistd::User::from_uid(nix::unistd::getuid())
            .ok()
            .flatten()
            .map(|u| u.name)
            .context("cannot tell who you are: set USER or pass -u <user>")?,
    };
    let home = match (&a.hp, &a.user) {
        (Some(hp), _) => crate::config::paths::absolute(Path::new(hp)),
        // `sudo pm startup -u deploy` must not put deploy's daemon in root's home.
        (None, Some(u)) => nix::unistd::User::from_name(u)
            .ok()
            .flatten()
            .map(|u| u.dir)
            .with_context(|| format!("no user named {u} (or pass --hp <home>)"))?,
        (None, None) => var("HOME")
            .map(PathBuf::from)
            .context("HOME is not set: pass --hp <home>")?,
    };
    let pm = std::env::current_exe().context("cannot find the pm binary")?;
    let shell_path = var("PATH");
    let node_dir = crate::sys::which::which("node", shell_path.as_deref())
        .and_then(|n| n.parent().map(Path::to_path_buf));
    let path = startup::service_path(shell_path.as_deref(), node_dir.as_deref());
    let params = Params {
        pm,
        user,
        home,
        path,
        service: a.service_name.clone().filter(|s| !s.is_empty()),
        wait_ip: a.wait_ip,
    };
    Ok((params, node_dir))
}

/// pm2's answer without root: the one command to paste, and a non-zero exit.
fn not_root(
    what: &str,
    verb: &str,
    platform: Platform,
    p: &Params,
    node_dir: Option<&Path>,
    out: &Out,
) -> i32 {
    out.line(format!(
        "[PM2] To {what} the Startup Script, copy/paste the following command:"
    ));
    println!("{}", startup::sudo_hint(verb, platform, p, node_dir));
    1
}

/// Writes beside the target then renames, so a half-written unit is never loaded.
fn write_script(path: &Path, text: &str, mode: u32) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    // Then the mode again without the caller's umask, which may take bits the init system
    // needs (a script's execute bit).
    crate::config::paths::write_atomic_mode(path, text.as_bytes(), mode)
        .and_then(|()| std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)))
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Does one step; a failure is one line naming the command and what it said.
fn perform(step: &Step) -> anyhow::Result<()> {
    match step {
        Step::MakeDir(p) => {
            std::fs::create_dir_all(p).with_context(|| format!("cannot create {}", p.display()))
        }
        Step::Touch(p) => std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
            .map(drop)
            .with_context(|| format!("cannot create {}", p.display())),
        Step::Remove(p) => {
            std::fs::remove_file(p).with_context(|| format!("cannot remove {}", p.display()))
        }
        Step::Run(argv) => {
            let (program, args) = argv.split_first().expect("a step runs a program");
            let output = Command::new(program)
                .args(args)
                .output()
                .with_context(|| format!("cannot run {program}"))?;
            if output.status.success() {
                return Ok(());
            }
            let said = String::from_utf8_lossy(&output.stderr);
            let said = said.lines().map(str::trim).rfind(|l| !l.is_empty());
            let code = output.status.code().map_or_else(
                || "killed by a signal".to_string(),
                |c| format!("exit code {c}"),
            );
            match said {
                Some(said) => bail!("{step} failed ({code}): {said}"),
                None => bail!("{step} failed ({code})"),
            }
        }
    }
}

/// pm2 prints the command list as Node shows an array of strings.
fn inspect_list(steps: &[Step]) -> String {
    let items: Vec<String> = steps
        .iter()
        .map(|s| format!("'{}'", s.to_string().replace('\'', "\\'")))
        .collect();
    format!("[ {} ]", items.join(", "))
}
