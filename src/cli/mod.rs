//! The `pm` command: pm2's verbs and output, native. Parsing is clap; each verb is a small
//! function that talks to the daemon through [`client::Client`] and prints what pm2 prints.

mod actions;
pub mod args;
mod attach;
pub mod client;
mod conf;
mod deploy;
mod describe;
mod dump;
mod health;
pub mod inspect;
mod logs;
mod monit;
mod observe;
mod queue;
mod report;
mod serve;
pub(crate) mod start;
pub mod startup;
pub mod table;
mod tolerated;
mod verbs;

use std::io::Write;

use anyhow::{anyhow, Context};
use clap::Parser;

use crate::config::Home;
use crate::protocol::{DescribeRequest, ProcView, Request, Response};
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

/// Parses the command line; a bad one (or `--help`) is printed here and gives the exit code.
pub fn parse() -> Result<Cli, i32> {
    Cli::try_parse().map_err(clap_error)
}

/// Runs the CLI and returns the process exit code. Every error reaches the user as one line.
/// `pm daemon` is not run here: the binary's entry starts the daemon itself, so the CLI only
/// ever reaches it through the socket.
pub fn main(cli: Cli) -> i32 {
    if cli.version {
        println!("{}", crate::protocol::VERSION);
        return 0;
    }
    let out = Out {
        silent: cli.silent,
        mini: cli.mini,
    };
    tolerated::flags(&cli.pm2io);
    let mut cli = cli;
    if let Some(
        Cmd::Start(a)
        | Cmd::StartOrRestart(a)
        | Cmd::StartOrReload(a)
        | Cmd::StartOrGracefulReload(a),
    ) = cli.command.as_mut()
    {
        a.no_source_map_support = cli.pm2io.disable_source_map_support;
    }
    let Some(cmd) = cli.command else {
        eprintln!("[PM2][ERROR] no command given (see pm --help)");
        print!("{USAGE}");
        return 1;
    };
    match run(cmd, &out) {
        Ok(code) => code,
        Err(e) => {
            let msg = one_line(&e);
            // pm2 only warns when `all` finds nothing.
            if matches!(e.downcast_ref(), Some(crate::protocol::Error::NoProcess)) {
                eprintln!("[PM2][WARN] {msg}");
            } else {
                eprintln!("[PM2][ERROR] {msg}");
            }
            1
        }
    }
}

/// An error and its causes on one line, `a: b: c`, leaving out a cause whose text an outer
/// message already quotes (errors that print their source, as `cannot write x: <io error>`).
pub fn one_line(e: &anyhow::Error) -> String {
    let mut msg = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if msg.contains(&text) {
            continue;
        }
        if !msg.is_empty() {
            msg.push_str(": ");
        }
        msg.push_str(&text);
    }
    msg.replace('\n', " ")
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
    // `pm jlist | head` should end quietly, as any Unix tool does, not panic on EPIPE.
    // SAFETY: restoring the default disposition has no preconditions.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    match cmd {
        Cmd::Daemon { .. } | Cmd::Keeper => Err(anyhow!(
            "`pm daemon` and `pm keeper` are started by the pm binary's entry"
        )),
        Cmd::Runtime { .. } => Err(anyhow!("`pm runtime` is started by the pm binary's entry")),
        Cmd::Startup(a) => startup::startup(a, out),
        Cmd::Unstartup(a) => startup::unstartup(a, out),
        Cmd::Queue { cmd } => queue::run(&home, cmd, out),
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
            let mut list = briefs(&home)?;
            table::sort(&mut list, a.sort.as_deref());
            print_list(&list, out);
            Ok(0)
        }
        Cmd::Jlist => {
            let body = Client::connect(&home)?.call_raw(&Request::List)?;
            // pm2 prints jlist without a trailing newline; scripts pipe it straight to a parser.
            std::io::stdout().lock().write_all(procs_array(&body)?)?;
            Ok(0)
        }
        Cmd::Prettylist => {
            let list = list(&home)?;
            print!("{}", inspect::inspect(&serde_json::to_value(&list)?));
            Ok(0)
        }
        Cmd::Describe { target, .. } => describe::describe(&home, &target),
        Cmd::Env { id, .. } => verbs::env(&home, &id),
        Cmd::Id { name, .. } => verbs::id(&home, &name),
        Cmd::Inspect { name, .. } => verbs::inspect(&home, &name, out),
        Cmd::Trigger {
            target,
            action,
            params,
        } => verbs::trigger(&home, &target, &action, &params),
        Cmd::Slist { .. } => verbs::slist(),
        Cmd::Report => report::report(&home, out),
        Cmd::Link { .. } => verbs::pm2io("link"),
        Cmd::Unlink => verbs::pm2io("unlink"),
        Cmd::Plus { .. } => verbs::pm2io("plus"),
        Cmd::Open => verbs::pm2io("open"),
        Cmd::Monitor { .. } => verbs::pm2io("monitor"),
        Cmd::Unmonitor { .. } => verbs::pm2io("unmonitor"),
        Cmd::Logs(a) => logs::logs(&home, a),
        Cmd::Attach { pm_id, separator } => attach::attach(&home, &pm_id, separator.as_deref()),
        Cmd::Monit => monit::monit(&home),
        Cmd::Deploy { args } => deploy::deploy(args),
        Cmd::Metrics(a) => observe::metrics(&home, a, out),
        Cmd::Dashboard(a) => observe::dashboard(&home, a, out),
        Cmd::Flush { target, .. } => actions::flush(&home, target, out),
        Cmd::ReloadLogs => {
            out.line("Reloading all logs...");
            Client::connect(&home)?.call_ok(&Request::ReloadLogs)?;
            out.line("All logs reloaded");
            Ok(0)
        }
        Cmd::Pid { target, .. } => {
            let list = match &target {
                Some(t) => procs(
                    &home,
                    &Request::Describe(DescribeRequest { target: t.clone() }),
                )?,
                None => briefs(&home)?,
            };
            for p in &list {
                println!("{}", p.pid);
            }
            if target.is_some() && list.is_empty() {
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
        Cmd::Save { force } => dump::save(&home, force, out),
        Cmd::Resurrect { path } => dump::resurrect(&home, path, out),
        Cmd::Cleardump => dump::cleardump(&home, out),
        Cmd::Update => dump::update(&home, out),
        Cmd::Logrotate { user } => conf::logrotate(&home, user, out),
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
        Cmd::SendSignal { signal, target, .. } => {
            actions::send_signal(&home, &signal, &target, out)
        }
        Cmd::Send { target, line } => {
            let req = Request::SendLine(crate::protocol::SendLineRequest {
                target,
                cwd: Some(caller_cwd()?),
                line: line.join(" "),
            });
            Client::connect(&home)?.call_ok(&req)?;
            Ok(0)
        }
        Cmd::Set { key, value } => conf::set(&home, key, value, out),
        Cmd::Multiset { serial } => conf::multiset(&home, &serial, out),
        Cmd::Get { key } => conf::get(&home, key, out),
        Cmd::Conf { key, value } => conf::conf(&home, key, value, out),
        Cmd::Unset { key } => conf::unset(&home, &key, out),
        Cmd::Install { module } => conf::install(&home, &module, out),
        Cmd::Serve(a) => serve::serve(&home, a, out),
        Cmd::Init { kind, .. } => {
            let path = std::env::current_dir()
                .context("cannot read the current directory")?
                .join(crate::config::ecosystem::DEFAULT_FILE);
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

/// The caller's working directory, which the daemon needs for script paths given relative to
/// it (its own is `/`).
pub fn caller_cwd() -> anyhow::Result<String> {
    Ok(std::env::current_dir()
        .context("cannot read the current directory")?
        .display()
        .to_string())
}

/// The processes the daemon picks for `req` (`Select`, `Describe`, `List`).
pub fn procs(home: &Home, req: &Request) -> anyhow::Result<Vec<ProcView>> {
    match Client::connect(home)?.call_ok(req)? {
        Response::Procs { procs } => Ok(procs),
        other => Err(anyhow!("unexpected answer from the daemon: {other:?}")),
    }
}

/// The whole process list.
pub fn list(home: &Home) -> anyhow::Result<Vec<ProcView>> {
    procs(home, &Request::List)
}

/// The process list with only what `ls` prints, as views (the rest of each is empty).
pub fn briefs(home: &Home) -> anyhow::Result<Vec<ProcView>> {
    match Client::connect(home)?.call_ok(&Request::Brief)? {
        Response::Briefs { procs } => Ok(procs.into_iter().map(|b| b.into_view()).collect()),
        other => Err(anyhow!("unexpected answer from the daemon: {other:?}")),
    }
}

/// The `procs` array of a `Procs` answer, cut out of the frame's bytes unparsed: the daemon
/// serialises [`ProcView`]s exactly as `jlist` prints them, so decoding and encoding them
/// again would only cost time (most of `pm jlist`'s, with many apps). Any other answer is
/// decoded, and an error becomes one.
fn procs_array(body: &[u8]) -> anyhow::Result<&[u8]> {
    const HEAD: &[u8] = br#"{"kind":"procs","procs":"#;
    if let Some(rest) = body.strip_prefix(HEAD) {
        if let Some(array) = rest.strip_suffix(b"}") {
            return Ok(array);
        }
    }
    match crate::protocol::frame::decode::<Response>(body)? {
        Response::Error { error, .. } => Err(error.into()),
        other => Err(anyhow!("unexpected answer from the daemon: {other:?}")),
    }
}

pub fn print_list(list: &[ProcView], out: &Out) {
    if out.silent {
        return;
    }
    let now = crate::sys::clock::now_ms();
    if out.mini {
        print!("{}", table::render_mini(list, now));
    } else {
        println!("{}", table::render(list, now));
    }
    // On stderr, under the table (whose shape scripts parse): output being lost is news.
    for p in list {
        if let Some(e) = &p.pm2_env.log_error {
            eprintln!(
                "[PM2][WARN] {} (id {}): output is being dropped: {e}",
                p.name, p.pm_id
            );
        }
    }
}

/// Lists the processes again and prints the table, as pm2 does after every action.
pub fn show_table(home: &Home, out: &Out) -> anyhow::Result<()> {
    if out.silent {
        return Ok(());
    }
    let mut l = briefs(home)?;
    table::sort(&mut l, None);
    print_list(&l, out);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jlist_prints_the_procs_array_of_the_frame_unchanged() {
        let procs = vec![ProcView {
            name: "web".into(),
            pm2_env: crate::protocol::Pm2Env {
                name: "web".into(),
                instance_var: "NODE_APP_INSTANCE".into(),
                ..Default::default()
            },
            ..Default::default()
        }];
        let body = serde_json::to_vec(&Response::Procs {
            procs: procs.clone(),
        })
        .expect("encodes");
        let printed = procs_array(&body).expect("a procs answer");
        assert_eq!(
            printed,
            serde_json::to_vec(&procs).expect("encodes").as_slice()
        );
        let err = serde_json::to_vec(&Response::error(crate::protocol::Error::NoProcess))
            .expect("encodes");
        assert!(procs_array(&err).is_err(), "an error answer is an error");
    }
}
