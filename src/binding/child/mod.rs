//! Library-mode `fork()` (DESIGN.md §7): `NativeChild` is the napi half of `lib/fork.js`.
//!
//! The child is spawned and supervised on the addon's tokio runtime, not by `child_process`. Its
//! IPC channel is Node's own wire format (so worker scripts need no change), written straight
//! from the JS thread and read there too, from a libuv poll handle on Node's loop (`uv`), or by
//! a tokio task where libuv cannot be reached. A crashed child is restarted by pm2's policy and
//! keeps the same logical channel: messages sent meanwhile wait in a bounded queue
//! (`maxQueue`, default 1024, then send fails with ERR_IPC_QUEUE_FULL) and go to the next child.
//!
//! Spawning, waiting, stopping and the restart decisions are the process core's
//! ([`crate::process`]), shared with the daemon. Files: `launch` builds the command for one
//! child, `supervise` owns it (restarts, stop), `outbox` and `reader` are the two halves of the
//! channel, `uv` and `js` run the reader on Node's loop, `events` carries everything else to JS
//! through a thread-safe function.

mod events;
mod js;
mod launch;
mod outbox;
mod reader;
mod supervise;
mod uv;

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use napi::bindgen_prelude::{Function, JsValue};
use napi::sys;
use napi::JsString;
use napi_derive::napi;
use tokio::sync::mpsc;

use crate::process::policy::{self, Policy};
use crate::process::stop;
use events::Emitter;
use launch::LaunchConfig;
use outbox::{Outbox, Sent};
use supervise::{Control, Shared};

/// Messages held for the next child while a crashed one restarts, when not set.
pub const DEFAULT_MAX_QUEUE: u32 = 1024;

/// `send()` return codes besides a queue sequence number (> 0).
const SENT_NOW: i64 = 0;
const CLOSED: i64 = -1;
const QUEUE_FULL: i64 = -2;

/// What `lib/fork.js` resolved from `fork(modulePath, args, options)`.
#[napi(object)]
pub struct ForkOptions {
    /// The Node binary (`process.execPath`).
    pub exec_path: String,
    /// `execArgv`, the module path, then its arguments.
    pub args: Vec<String>,
    pub cwd: Option<String>,
    /// The child's whole environment.
    pub env: HashMap<String, String>,
    pub silent: Option<bool>,
    /// `never` (default), `on-failure` (a non-zero exit or a signal) or `always`.
    pub restart: Option<String>,
    /// Unstable restarts in a row (runs shorter than `minUptime`) before giving up (pm2: 16).
    pub max_restarts: Option<u32>,
    /// Milliseconds a run must last to count as stable (pm2: 1000).
    pub min_uptime: Option<u32>,
    pub restart_delay: Option<u32>,
    pub exp_backoff_restart_delay: Option<u32>,
    /// Milliseconds between `killSignal` and SIGKILL on stop (pm2: 1600).
    pub kill_timeout: Option<u32>,
    /// The signal stop sends first (pm2: SIGINT).
    pub kill_signal: Option<String>,
    /// Messages queued while no child is attached before send fails (default 1024).
    pub max_queue: Option<u32>,
}

fn invalid(msg: String) -> napi::Error {
    napi::Error::new(napi::Status::InvalidArg, msg)
}

fn restart_policy(o: &ForkOptions) -> napi::Result<Policy> {
    let mut spec = Policy {
        max_restarts: o
            .max_restarts
            .map_or(policy::DEFAULT_MAX_RESTARTS, u64::from),
        min_uptime: o.min_uptime.map_or(policy::DEFAULT_MIN_UPTIME, u64::from),
        restart_delay: o.restart_delay.map_or(0, u64::from),
        exp_backoff_restart_delay: o.exp_backoff_restart_delay.map_or(0, u64::from),
        ..Default::default()
    };
    match o.restart.as_deref().unwrap_or("never") {
        "never" => spec.autorestart = false,
        "always" => {}
        // A clean exit (code 0) is the worker saying it is done.
        "on-failure" => spec.stop_exit_codes = vec![0],
        other => {
            return Err(invalid(format!(
                "restart must be 'never', 'on-failure' or 'always', got '{other}'"
            )))
        }
    }
    Ok(spec)
}

#[napi]
pub struct NativeChild {
    shared: Arc<Shared>,
    /// The current child's JS-thread reader, when channels live on Node's loop.
    slot: Option<uv::Slot>,
}

#[napi]
impl NativeChild {
    /// Spawns the first child now, so `pid` is known at once (a spawn error throws, e.g.
    /// ENOENT for a bad `execPath`). Events arrive through `onEvent(kind, payload)`.
    #[napi(
        constructor,
        ts_args_type = "options: ForkOptions, onEvent: (kind: number, payload: string | Buffer) => void"
    )]
    pub fn new(
        options: ForkOptions,
        on_event: Function<'_, events::Args, ()>,
    ) -> napi::Result<Self> {
        let policy = restart_policy(&options)?;
        let kill_signal = match options.kill_signal.as_deref() {
            Some(s) => crate::sys::signal::parse(s).map_err(invalid)?,
            None => stop::DEFAULT_SIGNAL,
        };
        let launch_cfg = LaunchConfig {
            exec_path: options.exec_path.clone(),
            args: options.args.clone(),
            cwd: options.cwd.clone(),
            env: options.env.into_iter().collect(),
            silent: options.silent.unwrap_or(false),
        };
        // Before the spawn: if this fails there is no child to leave behind.
        let target = if uv::available() {
            let v = on_event.value();
            // SAFETY: the environment and the function value of this very call.
            Some(unsafe { uv::JsTarget::new(v.env, v.value) }?)
        } else {
            None
        };
        let main_thread_reader = target.is_some();
        let slot: uv::Slot = Default::default();
        let emit = Emitter::new(on_event, target, slot.clone())?;
        let first = launch::launch(&launch_cfg).map_err(|e| {
            let code = e
                .raw_os_error()
                .map(|n| nix::errno::Errno::from_raw(n).to_string())
                .unwrap_or_else(|| "EIO".into());
            napi::Error::new(
                napi::Status::GenericFailure,
                format!("{code}: spawn {}: {e}", launch_cfg.exec_path),
            )
        })?;
        let report = emit.clone();
        let outbox = Arc::new(Outbox::new(
            options.max_queue.unwrap_or(DEFAULT_MAX_QUEUE) as usize,
            Box::new(move |ev| report.emit(ev)),
        ));
        // Attached now, not when the task first runs: sends right after fork() must not be
        // mistaken for sends during a restart.
        if let Some(chan) = first.channel.as_ref() {
            outbox.attach(chan.clone());
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            outbox: outbox.clone(),
            pid: first.child.pid().into(),
            control: tx,
        });
        let cfg = supervise::Config {
            launch: launch_cfg,
            policy,
            kill_signal,
            kill_timeout: Duration::from_millis(
                options
                    .kill_timeout
                    .map_or(stop::DEFAULT_KILL_TIMEOUT, u64::from),
            ),
            main_thread_reader,
        };
        if !main_thread_reader {
            // Otherwise the JS-thread poll writes the backlog too.
            napi::bindgen_prelude::spawn(outbox::flush(outbox));
        }
        napi::bindgen_prelude::spawn(supervise::supervise(first, cfg, shared.clone(), emit, rx));
        Ok(NativeChild {
            shared,
            slot: main_thread_reader.then_some(slot),
        })
    }

    /// Sends one `JSON.stringify`ed message: 0 when it was written at once, a sequence number
    /// (> 0) when queued, -1 when the channel is closed, -2 when the restart queue is full.
    /// With `ack`, a `sent` event reports a queued message once it is written.
    #[napi]
    pub fn send(&self, json: JsString, ack: bool) -> napi::Result<i64> {
        let v = json.value();
        let sent = with_utf8(v.env, v.value, |bytes| self.shared.outbox.send(bytes, ack))?;
        if let (Sent::Queued(_), Some(slot)) = (&sent, self.slot.as_ref()) {
            // The socket is full: let Node's loop tell us when there is room.
            if let Some(reader) = slot.borrow().as_ref() {
                reader.borrow_mut().want_write();
            }
        }
        Ok(match sent {
            Sent::Written => SENT_NOW,
            Sent::Queued(seq) => seq as i64,
            Sent::Closed => CLOSED,
            Sent::Full => QUEUE_FULL,
        })
    }

    /// Bytes accepted by `send` but not yet written (Node's `channel.writeQueueSize`).
    #[napi(getter)]
    pub fn queued_bytes(&self) -> f64 {
        self.shared.outbox.queued_bytes() as f64
    }

    /// The running child's pid; 0 while it restarts and after the end.
    #[napi(getter)]
    pub fn pid(&self) -> u32 {
        self.shared.pid.load(Ordering::Acquire)
    }

    /// Signals the current child only (not its group), like `ChildProcess.kill`. Whether it is
    /// restarted afterwards is up to the restart policy; `stop()` ends it for good.
    #[napi]
    pub fn kill(&self, signal: String) -> napi::Result<bool> {
        let sig = crate::sys::signal::parse(&signal).map_err(invalid)?;
        let pid = self.pid();
        if pid == 0 {
            return Ok(false);
        }
        let pid = nix::unistd::Pid::from_raw(pid as i32);
        Ok(nix::sys::signal::kill(pid, sig).is_ok())
    }

    /// Stops for good: `killSignal` to the process group, SIGKILL after `killTimeout`. The
    /// final `exit` event follows once the whole group is gone.
    #[napi]
    pub fn stop(&self) {
        let _ = self.shared.control.send(Control::Stop);
    }

    /// Closes the channel now (the child sees 'disconnect'); it is not restarted afterwards.
    #[napi]
    pub fn disconnect(&self) {
        self.shared.outbox.close();
        let _ = self.shared.control.send(Control::Disconnect);
    }

    /// Whether send() can still succeed.
    #[napi(getter)]
    pub fn connected(&self) -> bool {
        !self.shared.outbox.is_closed()
    }
}

/// The JS thread's scratch buffer for outgoing messages, kept between calls: its first size,
/// and the most it grows to.
const SCRATCH: usize = 64 * 1024;
const SCRATCH_MAX: usize = 4 * 1024 * 1024;

/// Runs `f` on the UTF-8 bytes of a JS string. Most messages fit the reused scratch buffer,
/// which saves napi-rs's `String` conversion a length pass, an allocation and a zero-fill per
/// message; only larger ones ask V8 for the length first.
fn with_utf8<R>(
    env: sys::napi_env,
    value: sys::napi_value,
    f: impl FnOnce(&[u8]) -> R,
) -> napi::Result<R> {
    thread_local! {
        static BUF: RefCell<Vec<u8>> = RefCell::new(vec![0u8; SCRATCH]);
    }
    let fail = || napi::Error::new(napi::Status::StringExpected, "send() takes a string");
    BUF.with(|buf| {
        let mut buf = buf.borrow_mut();
        let mut written = 0usize;
        // SAFETY: the buffer is writable for its whole length; V8 writes at most len - 1 bytes
        // plus a NUL.
        let status = unsafe {
            sys::napi_get_value_string_utf8(
                env,
                value,
                buf.as_mut_ptr().cast(),
                buf.len(),
                &mut written,
            )
        };
        if status != sys::Status::napi_ok {
            return Err(fail());
        }
        // V8 stops short of a character that does not fit (up to 4 bytes), so only a result
        // with room to spare for one is known to be whole.
        if written + 5 <= buf.len() {
            return Ok(f(&buf[..written]));
        }
        let mut len = 0usize;
        // SAFETY: a null buffer asks for the length only.
        if unsafe { sys::napi_get_value_string_utf8(env, value, std::ptr::null_mut(), 0, &mut len) }
            != sys::Status::napi_ok
        {
            return Err(fail());
        }
        // Grow the scratch buffer for messages of this size (up to a cap), so a stream of
        // large messages takes the fast path from the second one on.
        let mut big = Vec::new();
        let out: &mut Vec<u8> = if len + 5 <= SCRATCH_MAX {
            buf.resize((len + 5).next_power_of_two(), 0);
            &mut buf
        } else {
            big.resize(len + 1, 0);
            &mut big
        };
        // SAFETY: as above, with a buffer of at least the needed size.
        unsafe {
            sys::napi_get_value_string_utf8(
                env,
                value,
                out.as_mut_ptr().cast(),
                out.len(),
                &mut written,
            )
        };
        Ok(f(&out[..written.min(len)]))
    })
}
