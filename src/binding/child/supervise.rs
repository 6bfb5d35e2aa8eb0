//! One task per `fork()`: owns the running child, restarts it by pm2's policy
//! ([`crate::process::policy`]), and stops it for good on request ([`crate::process::stop`]).
//! What is left here is fork()'s own: the channel kept across restarts, the readers, and the
//! events JS sees.

use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use serde_json::json;
use tokio::sync::{mpsc, oneshot};

use super::events::{Attach, Emitter, Event};
use super::launch::{launch, LaunchConfig, Launched};
use super::outbox::Outbox;
use super::reader::read_loop;
use crate::process::policy::{self, Decision, Policy, PolicyState};
use crate::process::Exit;

/// How long the reader may keep draining what a dead child wrote before its exit is reported.
/// A grandchild that inherited the channel would otherwise hold it open forever.
const DRAIN_AFTER_EXIT: Duration = Duration::from_millis(250);
/// A child's channel closes a moment before the child can be reaped; only a channel closed
/// this long before any exit counts as the child disconnecting on purpose.
const EXIT_AFTER_EOF: Duration = Duration::from_millis(100);

pub struct Config {
    pub launch: LaunchConfig,
    pub policy: Policy,
    pub kill_signal: Signal,
    pub kill_timeout: Duration,
    /// Read channels on Node's loop ([`super::uv`]) rather than on the runtime.
    pub main_thread_reader: bool,
}

pub enum Control {
    /// Stop for good: `kill_signal` to the group, SIGKILL after `kill_timeout`.
    Stop,
    /// Close the channel; the running child is not restarted when it exits.
    Disconnect,
}

/// State the JS thread reads without asking the task.
pub struct Shared {
    pub outbox: Arc<Outbox>,
    /// The current child's pid, 0 between children and after the end.
    pub pid: AtomicU32,
    pub control: mpsc::UnboundedSender<Control>,
}

pub async fn supervise(
    first: Launched,
    cfg: Config,
    shared: Arc<Shared>,
    emit: Emitter,
    mut control: mpsc::UnboundedReceiver<Control>,
) {
    let mut policy_state = PolicyState::default();
    let mut restarts: u32 = 0;
    let mut current = first;
    // Set once stop() or disconnect() has been asked for: whatever exits next is the last.
    let mut last = false;
    loop {
        let outcome = run_one(&mut current, &cfg, &shared, &emit, &mut control, restarts).await;
        last |= outcome.last;
        let exit = outcome.status.as_ref().map(Exit::from).unwrap_or_default();
        let (code, signal) = (exit.code, exit.node_signal());
        let decision = if last {
            Decision::Stop
        } else {
            policy::on_exit(&cfg.policy, &mut policy_state, code, outcome.uptime).0
        };
        let delay_ms = match decision {
            Decision::Restart { delay_ms } => delay_ms,
            Decision::Stop | Decision::Errored => {
                return finish(&shared, &emit, json!({ "code": code, "signal": signal }));
            }
        };
        emit.emit(Event::Restart(
            json!({ "code": code, "signal": signal, "delay": delay_ms, "restarts": restarts + 1 })
                .to_string(),
        ));
        // Wait out the delay, unless stop() or disconnect() ends it all first.
        let sleep = tokio::time::sleep(Duration::from_millis(delay_ms));
        tokio::pin!(sleep);
        let cancelled = tokio::select! {
            _ = &mut sleep => false,
            // Stop, disconnect, or the JS object is gone.
            _ = control.recv() => true,
        };
        if cancelled {
            return finish(&shared, &emit, json!({ "code": code, "signal": signal }));
        }
        current = match launch(&cfg.launch) {
            Ok(l) => l,
            Err(e) => {
                emit.emit(Event::Error(
                    json!({ "message": format!("cannot restart {}: {e}", cfg.launch.exec_path),
                            "code": e.raw_os_error().map(|n| nix::errno::Errno::from_raw(n).to_string()) })
                    .to_string(),
                ));
                return finish(&shared, &emit, json!({ "code": code, "signal": signal }));
            }
        };
        restarts += 1;
    }
}

/// The last child is gone: fail what is still queued and tell JS it is over.
fn finish(shared: &Shared, emit: &Emitter, exit: serde_json::Value) {
    shared.pid.store(0, Ordering::Release);
    shared.outbox.close();
    emit.emit(Event::Exit(exit.to_string()));
}

struct Outcome {
    status: Option<std::process::ExitStatus>,
    uptime: Duration,
    /// stop() or disconnect() was asked for during this run.
    last: bool,
}

/// Runs one child from spawn to reaped exit.
async fn run_one(
    child: &mut Launched,
    cfg: &Config,
    shared: &Shared,
    emit: &Emitter,
    control: &mut mpsc::UnboundedReceiver<Control>,
    restarts: u32,
) -> Outcome {
    let started = Instant::now();
    shared.pid.store(child.child.pid(), Ordering::Release);
    let Some(chan) = child.channel.take() else {
        // Cannot happen (launch always sets it); without a channel the child is useless.
        let status = terminate(child, cfg).await;
        return Outcome {
            status,
            uptime: started.elapsed(),
            last: true,
        };
    };
    shared.outbox.attach(chan.clone());
    let pumps = pump_stdio(child, emit);
    let info = json!({ "pid": child.child.pid(), "restarts": restarts }).to_string();
    let (done_tx, mut done_rx) = oneshot::channel();
    let tokio_reader = if cfg.main_thread_reader {
        let attach = Attach {
            chan: chan.clone(),
            outbox: shared.outbox.clone(),
            done: done_tx,
        };
        emit.emit(Event::Spawn(info, Some(attach)));
        None
    } else {
        emit.emit(Event::Spawn(info, None));
        let reader = read_loop(chan.clone(), emit.clone(), shared.outbox.clone(), done_tx);
        Some(tokio::spawn(reader))
    };
    let mut reader_done = false;
    let mut last = false;
    let status = loop {
        tokio::select! {
            st = child.child.wait() => break st.ok(),
            c = control.recv() => match c {
                Some(Control::Stop) | None => {
                    last = true;
                    break terminate(child, cfg).await;
                }
                Some(Control::Disconnect) => {
                    last = true;
                    shared.outbox.close();
                    // Shut the socket down (not just our fd): the child reads EOF at once and
                    // emits 'disconnect', as with Node's subprocess.disconnect().
                    let _ = nix::sys::socket::shutdown(chan.as_raw_fd(), nix::sys::socket::Shutdown::Both);
                }
            },
            _ = &mut done_rx, if !reader_done => {
                reader_done = true;
                if let Ok(st) = tokio::time::timeout(EXIT_AFTER_EOF, child.child.wait()).await {
                    break st.ok();
                }
                if !last {
                    emit.emit(Event::ChannelClosed);
                }
            }
        }
    };
    shared.pid.store(0, Ordering::Release);
    if !reader_done {
        let _ = tokio::time::timeout(DRAIN_AFTER_EXIT, &mut done_rx).await;
    }
    if let Some(r) = tokio_reader {
        r.abort();
    }
    // Output still in the pipes comes first; a grandchild holding them open does not hold
    // this child's events (and its JS objects) forever.
    for mut p in pumps {
        if tokio::time::timeout(DRAIN_AFTER_EXIT, &mut p)
            .await
            .is_err()
        {
            p.abort();
        }
    }
    shared.outbox.detach();
    Outcome {
        status,
        uptime: started.elapsed(),
        last,
    }
}

/// With `silent: true`, the child's stdout and stderr become `stdout`/`stderr` events.
fn pump_stdio(child: &mut Launched, emit: &Emitter) -> Vec<tokio::task::JoinHandle<()>> {
    use tokio::io::AsyncReadExt;
    let pipes = [
        child
            .child
            .take_stdout()
            .map(|p| (std::os::fd::OwnedFd::from(p), true)),
        child
            .child
            .take_stderr()
            .map(|p| (std::os::fd::OwnedFd::from(p), false)),
    ];
    let mut tasks = Vec::new();
    for (fd, is_out) in pipes.into_iter().flatten() {
        let Ok(mut pipe) = tokio::net::unix::pipe::Receiver::from_owned_fd(fd) else {
            continue;
        };
        let emit = emit.clone();
        tasks.push(tokio::spawn(async move {
            let mut buf = vec![0u8; 64 * 1024];
            while let Ok(n) = pipe.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                let chunk = buf[..n].to_vec();
                emit.emit(if is_out {
                    Event::Stdout(chunk)
                } else {
                    Event::Stderr(chunk)
                });
            }
        }));
    }
    tasks
}

/// pm2's stop, from the process core: `kill_signal` to the whole group, SIGKILL after
/// `kill_timeout`, and the group is gone (grandchildren included) before this returns.
async fn terminate(child: &mut Launched, cfg: &Config) -> Option<std::process::ExitStatus> {
    let deadline = tokio::time::Instant::now() + cfg.kill_timeout;
    crate::process::stop::stop(&mut child.child, Some(cfg.kill_signal), deadline)
        .await
        .ok()
}
