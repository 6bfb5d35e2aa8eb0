//! `pm monit` (also `imonit` and `dash`, pm2's names): a terminal dashboard on ratatui. The
//! list is asked of the daemon every second; log lines arrive from the bus as they are
//! written; actions run on their own connection so the screen stays live. The terminal is
//! restored on quit, on SIGINT / SIGTERM / SIGHUP and on a panic.

mod state;
mod view;

use std::collections::HashSet;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use ratatui::backend::CrosstermBackend;
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
use ratatui::crossterm::{cursor, execute, terminal};
use ratatui::Terminal;

use super::client::Client;
use crate::config::Home;
use crate::protocol::{BusEvent, Request, Response, RestartRequest, TargetRequest};
use state::{Act, Key, Outcome, State};

const REFRESH: Duration = Duration::from_secs(1);

/// Set by SIGINT, SIGTERM and SIGHUP: the loop ends and the terminal is restored.
static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

enum Feed {
    Log { pm_id: u32, err: bool, text: String },
    Done(String),
}

/// The terminal in raw mode on the alternate screen, for as long as this lives.
struct Screen;

impl Screen {
    fn enter() -> anyhow::Result<Screen> {
        terminal::enable_raw_mode().context("cannot put the terminal in raw mode")?;
        let screen = Screen;
        execute!(
            std::io::stdout(),
            terminal::EnterAlternateScreen,
            cursor::Hide
        )
        .context("cannot switch to the alternate screen")?;
        Ok(screen)
    }
}

fn restore() {
    let _ = terminal::disable_raw_mode();
    let _ = execute!(
        std::io::stdout(),
        terminal::LeaveAlternateScreen,
        cursor::Show
    );
}

impl Drop for Screen {
    fn drop(&mut self) {
        restore();
    }
}

pub fn monit(home: &Home) -> anyhow::Result<i32> {
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        bail!("pm monit needs a terminal (for a snapshot, use pm ls or pm jlist)");
    }
    let mut client = Client::connect(home)?;
    let (tx, rx) = mpsc::channel();
    follow_bus(home.clone(), tx.clone());
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
        unsafe { libc::signal(sig, on_signal as *const () as libc::sighandler_t) };
    }
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore();
        hook(info);
    }));
    exit_on_hangup();
    let _screen = Screen::enter()?;
    let mut term = Terminal::new(CrosstermBackend::new(std::io::stdout()))
        .context("cannot draw on the terminal")?;
    let mut s = State::default();
    let mut tailed = HashSet::new();
    let mut next_refresh = Instant::now();
    while !STOP.load(Ordering::SeqCst) {
        if Instant::now() >= next_refresh {
            refresh(home, &mut client, &mut s);
            next_refresh = Instant::now() + REFRESH;
        }
        if let Some(p) = s.current() {
            if tailed.insert(p.pm_id) {
                let (id, out, err) = (
                    p.pm_id,
                    p.pm2_env.pm_out_log_path.clone(),
                    p.pm2_env.pm_err_log_path.clone(),
                );
                for (path, is_err) in [(out, false), (err, true)] {
                    let lines = crate::logs::tail::last_lines(std::path::Path::new(&path), 50)
                        .unwrap_or_default();
                    for l in lines {
                        s.push_log(id, is_err, &l);
                    }
                }
            }
        }
        while let Ok(feed) = rx.try_recv() {
            match feed {
                Feed::Log { pm_id, err, text } => s.push_log(pm_id, err, &text),
                Feed::Done(msg) => {
                    s.status = msg;
                    next_refresh = Instant::now();
                }
            }
        }
        let now = crate::sys::clock::now_ms();
        term.draw(|f| view::draw(f, &s, now))
            .context("cannot draw on the terminal")?;
        if !event::poll(Duration::from_millis(100)).unwrap_or(false) {
            continue;
        }
        let key = match event::read() {
            Ok(Event::Key(k)) if k.kind != KeyEventKind::Release => k,
            _ => continue,
        };
        let key = match key.code {
            KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => Key::CtrlC,
            KeyCode::Char(c) => Key::Char(c),
            KeyCode::Up => Key::Up,
            KeyCode::Down => Key::Down,
            KeyCode::Enter => Key::Enter,
            KeyCode::Esc => Key::Esc,
            KeyCode::Backspace => Key::Backspace,
            _ => continue,
        };
        match s.key(key) {
            Outcome::Nothing => {}
            Outcome::Quit => break,
            Outcome::Run(act, id, name) => {
                s.status = format!("{} {name}...", act.verb());
                run(home.clone(), act, id, name, tx.clone());
            }
        }
    }
    Ok(0)
}

/// Ends monit when its terminal goes away (ssh dropped, tmux or the window closed). crossterm
/// then reads the dead terminal in a loop of empty reads inside `event::poll`, so the main
/// loop would never come back to see SIGHUP and monit would spin on a core forever: this
/// thread waits for the hang-up on stdin itself. Nothing is left to restore on such a terminal.
fn exit_on_hangup() {
    std::thread::spawn(|| loop {
        let mut fd = libc::pollfd {
            fd: libc::STDIN_FILENO,
            events: 0, // only hang-up and errors, which poll always reports
            revents: 0,
        };
        // SAFETY: one valid pollfd, alive for the duration of the call.
        let n = unsafe { libc::poll(&mut fd, 1, -1) };
        if n > 0 && fd.revents & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0 {
            std::process::exit(1);
        }
        if n < 0 && std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            return;
        }
    });
}

/// Asks for the list; a daemon gone away is shown, and looked for again (never started).
fn refresh(home: &Home, client: &mut Client, s: &mut State) {
    match client.call_ok(&Request::List) {
        Ok(Response::Procs { procs }) => {
            s.set_procs(procs);
            s.queues = if s.consumes() {
                super::queue::stats(home).unwrap_or_default()
            } else {
                Vec::new()
            };
            if !s.daemon_ok {
                s.daemon_ok = true;
                s.status.clear();
            }
        }
        Ok(_) => {}
        Err(e) => {
            s.daemon_ok = false;
            s.status = e.to_string();
            if let Ok(Some(c)) = Client::connect_existing(home) {
                *client = c;
            }
        }
    }
}

/// Streams log lines from the bus into the loop, reconnecting when the daemon comes back.
fn follow_bus(home: Home, tx: mpsc::Sender<Feed>) {
    std::thread::spawn(move || loop {
        if let Ok(Some(c)) = Client::connect_existing(&home) {
            if let Ok(mut bus) = c.subscribe() {
                while let Ok(ev) = bus.next_event() {
                    let feed = match ev {
                        BusEvent::Out(l) => Feed::Log {
                            pm_id: l.process.pm_id,
                            err: false,
                            text: l.data,
                        },
                        BusEvent::Err(l) => Feed::Log {
                            pm_id: l.process.pm_id,
                            err: true,
                            text: l.data,
                        },
                        _ => continue,
                    };
                    if tx.send(feed).is_err() {
                        return;
                    }
                }
            }
        }
        std::thread::sleep(Duration::from_secs(1));
    });
}

fn run(home: Home, act: Act, id: u32, name: String, tx: mpsc::Sender<Feed>) {
    std::thread::spawn(move || {
        let targets = TargetRequest {
            targets: vec![id.to_string()],
            cwd: None,
        };
        let req = match act {
            Act::Restart | Act::Reload => Request::Restart(RestartRequest {
                targets: targets.targets,
                cwd: None,
                update_env: None,
                app_env: None,
                update: Default::default(),
                graceful: act == Act::Reload,
            }),
            Act::Stop => Request::Stop(targets),
            Act::Delete => Request::Delete(targets),
        };
        let msg = match Client::connect_existing(&home).and_then(|c| match c {
            Some(mut c) => c.call_ok(&req),
            None => bail!("the daemon is not running"),
        }) {
            Ok(_) => format!("{} {name}: done", act.verb()),
            Err(e) => format!("{} {name}: {e}", act.verb()),
        };
        let _ = tx.send(Feed::Done(msg));
    });
}
