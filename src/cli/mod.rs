//! The `pm` command: pm2's verbs and output, native. Parsing is clap; each verb is a small
//! function that talks to the daemon through [`client::Client`] and prints what pm2 prints.

mod actions;
pub mod args;
pub mod client;
mod describe;
pub mod inspect;
mod logs;
mod start;
pub mod table;

use std::io::Write;

use anyhow::{anyhow, Context};
use clap::Parser;
use serde_json::Value;

use crate::config::Home;
use crate::protocol::{Request, Response};
use args::{Cli, Cmd};
use client::Client;

const USAGE: &str = "usage: pm [options] <command>

pm -h, --help             all available commands and options
pm <command> -h           help on a specific command

Access pm files in ~/.pm (or $PM_HOME)
";

/// Output switches every command shares.
pub struct Out {
    pub silent: bool,
    pub mini: bool,
}

impl Out {
    pub fn line(&self, text: impl AsRef<str>) {
        if !self.silent {
            println!("{}", text.as_ref());
        }
    }
}

/// Runs the CLI and returns the process exit code. Every error reaches the user as one line.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => return clap_error(e),
    };
    if cli.version {
        println!("{}", crate::protocol::VERSION);
        return 0;
    }
    let out = Out {
        silent: cli.silent,
        mini: cli.mini,
    };
    let Some(cmd) = cli.command else {
        eprintln!("[PM2][ERROR] no command given (see pm --help)");
        print!("{USAGE}");
        return 1;
    };
    match run(cmd, &out) {
        Ok(code) => code,
        Err(e) => {
            let msg = format!("{e:#}").replace('\n', " ");
            if msg == "No process found" {
                eprintln!("[PM2][WARN] {msg}");
            } else {
                eprintln!("[PM2][ERROR] {msg}");
            }
            1
        }
    }
}

fn clap_error(e: clap::Error) -> i32 {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = e.print();
            0
        }
        ErrorKind::InvalidSubcommand => {
            let what = e
                .get(clap::error::ContextKind::InvalidSubcommand)
                .map(|v| format!(": {v}"))
                .unwrap_or_default();
            eprintln!("[PM2][ERROR] Command not found{what}");
            print!("{USAGE}");
            1
        }
        _ => {
            // clap's message up to its usage block, folded into one line.
            let text = e.render().to_string();
            let msg: Vec<&str> = text
                .lines()
                .map(str::trim)
                .take_while(|l| !l.is_empty())
                .collect();
            eprintln!(
                "[PM2][ERROR] {}",
                msg.join(" ").trim_start_matches("error: ")
            );
            1
        }
    }
}

fn run(cmd: Cmd, out: &Out) -> anyhow::Result<i32> {
    let home = Home::from_env();
    if !matches!(cmd, Cmd::Daemon) {
        // `pm jlist | head` should end quietly, as any Unix tool does, not panic on EPIPE.
        // SAFETY: restoring the default disposition has no preconditions.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    }
    match cmd {
        Cmd::Daemon => {
            crate::daemon::main(home)?;
            Ok(0)
        }
        Cmd::Start(a) => start::start(&home, a, start::Mode::Start, out),
        Cmd::StartOrRestart(a) => start::start(&home, a, start::Mode::OrRestart, out),
        Cmd::StartOrReload(a) | Cmd::StartOrGracefulReload(a) => {
            start::start(&home, a, start::Mode::OrReload, out)
        }
        Cmd::Stop(t) => actions::act(&home, actions::Verb::Stop, t, out),
        Cmd::Restart(t) => actions::act(&home, actions::Verb::Restart, t, out),
        Cmd::Reload(t) | Cmd::GracefulReload(t) => {
            actions::act(&home, actions::Verb::Reload, t, out)
        }
        Cmd::Delete(t) => actions::act(&home, actions::Verb::Delete, t, out),
        Cmd::Reset(t) => actions::act(&home, actions::Verb::Reset, t, out),
        Cmd::Ls(a) => {
            let mut list = list(&home)?;
            table::sort(&mut list, a.sort.as_deref());
            print_list(&list, out);
            Ok(0)
        }
        Cmd::Jlist => {
            let list = list(&home)?;
            let mut stdout = std::io::stdout().lock();
            // pm2 prints jlist without a trailing newline; scripts pipe it straight to a parser.
            write!(stdout, "{}", Value::Array(list))?;
            Ok(0)
        }
        Cmd::Prettylist => {
            let list = list(&home)?;
            print!("{}", inspect::inspect(&Value::Array(list)));
            Ok(0)
        }
        Cmd::Describe { target } => describe::describe(&home, &target),
        Cmd::Logs(a) => logs::logs(&home, a),
        Cmd::Flush { target } => actions::flush(&home, target, out),
        Cmd::ReloadLogs => {
            out.line("Reloading all logs...");
            Client::connect(&home)?.call_ok(&Request::ReloadLogs)?;
            out.line("All logs reloaded");
            Ok(0)
        }
        Cmd::Pid { target } => {
            let list = list(&home)?;
            for p in list.iter().filter(|p| {
                target
                    .as_deref()
                    .is_none_or(|t| p["name"] == t || crate::cli::is_id(&p["pm_id"], t))
            }) {
                println!("{}", p["pid"]);
            }
            let known = |t: &str| list.iter().any(|p| p["name"] == t || is_id(&p["pm_id"], t));
            if target.as_deref().is_some_and(|t| !known(t)) {
                println!();
            }
            Ok(0)
        }
        Cmd::Ping => {
            Client::connect(&home)?.call_ok(&Request::Ping)?;
            out.line("{ msg: 'pong' }");
            Ok(0)
        }
        Cmd::Kill => actions::kill(&home, out),
        Cmd::Save => {
            let saved = match Client::connect(&home)?.call_ok(&Request::Dump)? {
                Response::Procs { procs } => procs.len(),
                _ => 0,
            };
            if saved == 0 {
                out.line("[PM2][WARN] PM2 is not managing any process, skipping save...");
            } else {
                out.line("[PM2] Saving current process list...");
                out.line(format!(
                    "[PM2] Successfully saved in {}",
                    home.dump_file().display()
                ));
            }
            Ok(0)
        }
        Cmd::Resurrect => start::resurrect(&home, out),
        Cmd::Scale { name, count } => {
            let req = Request::Scale(crate::protocol::ScaleRequest {
                name: name.clone(),
                count,
            });
            if let Response::Procs { procs } = Client::connect(&home)?.call_ok(&req)? {
                out.line(format!("[PM2] Scaled {name} to {} instances", procs.len()));
            }
            show_table(&home, out)?;
            Ok(0)
        }
        Cmd::SendSignal { signal, target } => actions::send_signal(&home, &signal, &target, out),
        Cmd::Send { target, line } => {
            let req = Request::SendLine(crate::protocol::SendLineRequest {
                target,
                line: line.join(" "),
            });
            Client::connect(&home)?.call_ok(&req)?;
            Ok(0)
        }
        Cmd::Init { kind } => {
            let path = std::env::current_dir()
                .context("cannot read the current directory")?
                .join("ecosystem.config.js");
            let text = match kind.as_deref() {
                Some("simple") => crate::config::ecosystem::sample_simple(),
                _ => crate::config::ecosystem::sample(),
            };
            std::fs::write(&path, text)
                .with_context(|| format!("cannot write {}", path.display()))?;
            out.line(format!("File {} generated", path.display()));
            Ok(0)
        }
    }
}

/// Whether a jlist `pm_id` is the id the user typed.
pub fn is_id(id: &Value, typed: &str) -> bool {
    typed
        .parse::<u64>()
        .ok()
        .is_some_and(|t| id.as_u64() == Some(t))
}

/// The whole process list, in pm2's jlist shape.
pub fn list(home: &Home) -> anyhow::Result<Vec<Value>> {
    match Client::connect(home)?.call_ok(&Request::List)? {
        Response::Procs { procs } => Ok(procs),
        other => Err(anyhow!("unexpected answer from the daemon: {other:?}")),
    }
}

pub fn print_list(list: &[Value], out: &Out) {
    if out.silent {
        return;
    }
    let now = crate::supervisor::now_ms();
    if out.mini {
        print!("{}", table::render_mini(list, now));
    } else {
        println!("{}", table::render(list, now));
    }
}

/// Lists the processes again and prints the table, as pm2 does after every action.
pub fn show_table(home: &Home, out: &Out) -> anyhow::Result<()> {
    if out.silent {
        return Ok(());
    }
    let mut l = list(home)?;
    table::sort(&mut l, None);
    print_list(&l, out);
    Ok(())
}
