//! The CLI's side of the RPC socket: connect (starting the daemon when none answers), greet,
//! then one request per call. Blocking std I/O: a command is a single short exchange, and a
//! runtime would cost start-up time on every `pm` invocation.

use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};

use crate::config::Home;
use crate::protocol::{frame, BusEvent, Hello, Request, Response, PROTOCOL_VERSION, VERSION};

pub struct Client {
    stream: UnixStream,
}

/// How long a fresh daemon may take to answer (it normally takes a few milliseconds).
const SPAWN_DEADLINE: Duration = Duration::from_secs(10);
/// How long a daemon that closes connections unanswered may take to finish dying.
const DYING: Duration = Duration::from_secs(3);

/// Why a greeting failed: the connection closed without an answer (a daemon on its way out),
/// or the daemon answered with something else (another version).
enum Greet {
    Closed(anyhow::Error),
    Refused(anyhow::Error),
}

impl From<Greet> for anyhow::Error {
    fn from(g: Greet) -> Self {
        match g {
            Greet::Closed(e) | Greet::Refused(e) => e,
        }
    }
}

impl Client {
    /// Connects to a running daemon, without starting one.
    pub fn connect_existing(home: &Home) -> anyhow::Result<Option<Client>> {
        let deadline = Instant::now() + DYING;
        loop {
            let Ok(stream) = UnixStream::connect(home.rpc_socket()) else {
                return Ok(None);
            };
            match Client::greet(stream) {
                Ok(c) => return Ok(Some(c)),
                // A daemon killed a moment ago: its main thread is gone, but its socket stays
                // open (and accepts) until its last thread has exited. Soon nothing answers,
                // and a new daemon can be started.
                Err(Greet::Closed(_)) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10))
                }
                Err(Greet::Closed(e) | Greet::Refused(e)) => {
                    return Err(not_ours(home).unwrap_or(e))
                }
            }
        }
    }

    /// Connects, starting the daemon first if none answers. Concurrent CLIs serialise on a
    /// lock file, so exactly one daemon comes up however many commands race.
    pub fn connect(home: &Home) -> anyhow::Result<Client> {
        if let Some(c) = Client::connect_existing(home)? {
            return Ok(c);
        }
        home.ensure()
            .with_context(|| format!("cannot create {}", home.root.display()))?;
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(home.start_lock())
            .with_context(|| format!("cannot open {}", home.start_lock().display()))?;
        let _guard = nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusive)
            .map_err(|(_, e)| anyhow!("cannot lock {}: {e}", home.start_lock().display()))?;
        if let Some(c) = Client::connect_existing(home)? {
            return Ok(c);
        }
        spawn_daemon(home)?;
        let deadline = Instant::now() + SPAWN_DEADLINE;
        loop {
            if let Ok(stream) = UnixStream::connect(home.rpc_socket()) {
                return Client::greet(stream).map_err(Into::into);
            }
            if Instant::now() > deadline {
                bail!(
                    "the daemon did not start within {}s (see {})",
                    SPAWN_DEADLINE.as_secs(),
                    home.daemon_log().display()
                );
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    fn greet(mut stream: UnixStream) -> Result<Client, Greet> {
        let hello = Request::Hello(Hello {
            protocol: PROTOCOL_VERSION,
            version: VERSION.into(),
        });
        if let Err(e) = frame::sync::write(&mut stream, &hello) {
            return Err(Greet::Closed(anyhow!("cannot talk to the daemon: {e}")));
        }
        let refused = |e: anyhow::Error| Err(Greet::Refused(e));
        match frame::sync::read::<_, Response>(&mut stream) {
            Ok(Response::Hello(h)) if h.protocol == PROTOCOL_VERSION => Ok(Client { stream }),
            Ok(Response::Hello(h)) => refused(anyhow!(
                "the running daemon is pm-native {} (protocol {}), this CLI is {VERSION} (protocol {PROTOCOL_VERSION}); run `pm kill` to stop it, then retry",
                h.version,
                h.protocol
            )),
            Ok(_) => refused(anyhow!(
                "the daemon did not answer the handshake; it may be another version: run `pm kill` to stop it, then retry"
            )),
            Err(_) => Err(Greet::Closed(anyhow!(
                "the daemon did not answer the handshake; it may be another version: run `pm kill` to stop it, then retry"
            ))),
        }
    }

    pub fn call(&mut self, req: &Request) -> anyhow::Result<Response> {
        frame::sync::write(&mut self.stream, req).context("cannot send to the daemon")?;
        frame::sync::read(&mut self.stream).context("the daemon closed the connection")
    }

    /// A call whose answer comes back as the frame's JSON, undecoded.
    pub fn call_raw(&mut self, req: &Request) -> anyhow::Result<Vec<u8>> {
        frame::sync::write(&mut self.stream, req).context("cannot send to the daemon")?;
        frame::sync::read_body(&mut self.stream).context("the daemon closed the connection")
    }

    /// Turns this connection into a bus subscription (it carries nothing else from then on).
    pub fn subscribe(mut self) -> anyhow::Result<Bus> {
        self.call_ok(&Request::Subscribe)?;
        Ok(Bus(self))
    }

    /// A call whose error response becomes an error.
    pub fn call_ok(&mut self, req: &Request) -> anyhow::Result<Response> {
        match self.call(req)? {
            Response::Error { error, .. } => Err(error.into()),
            other => Ok(other),
        }
    }
}

/// A connection subscribed to the daemon's event bus (`logs`, `attach`, `monit`, `trigger`).
pub struct Bus(Client);

impl Bus {
    /// The next bus event; an error once the daemon has closed the connection.
    pub fn next_event(&mut self) -> anyhow::Result<BusEvent> {
        loop {
            let frame = frame::sync::read(&mut self.0.stream)
                .context("the daemon closed the connection")?;
            if let Response::Event(ev) = frame {
                return Ok(ev);
            }
        }
    }
}

/// Why a handshake failed when the daemon is another user's: it closes on any peer but its own
/// user and root (see daemon::server).
fn not_ours(home: &Home) -> Option<anyhow::Error> {
    use std::os::unix::fs::MetadataExt;
    let me = nix::unistd::geteuid();
    let owner = std::fs::metadata(home.rpc_socket()).ok()?.uid();
    (owner != me.as_raw() && !me.is_root()).then(|| {
        anyhow!(
            "the daemon on {} belongs to uid {owner}; only that user and root may use it",
            home.rpc_socket().display()
        )
    })
}

/// Starts `pm daemon` detached: its own session (no controlling terminal, so it survives the
/// shell and logout), stdio on pm.log.
fn spawn_daemon(home: &Home) -> anyhow::Result<()> {
    let exe = std::env::current_exe().context("cannot find the pm binary")?;
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(crate::logs::LOG_MODE)
        .open(home.daemon_log())
        .with_context(|| format!("cannot open {}", home.daemon_log().display()))?;
    let log2 = log.try_clone()?;
    let mut cmd = Command::new(exe);
    cmd.arg("daemon")
        .env("PM_HOME", &home.root)
        // A daemon started on demand is nobody's service: a CLI run by systemd (ExecReload, a
        // user's own unit) must not hand it the unit's notify socket.
        .env_remove("NOTIFY_SOCKET")
        .env_remove("WATCHDOG_USEC")
        .env_remove("WATCHDOG_PID")
        .stdin(Stdio::null())
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(log2))
        .current_dir("/");
    // SAFETY: setsid is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            nix::unistd::setsid().map_err(std::io::Error::from)?;
            Ok(())
        });
    }
    let mut child = cmd.spawn().context("cannot start the daemon")?;
    // The daemon outlives us; reap it only if it failed straight away, so no zombie lingers
    // in a long-lived caller (the Node addon).
    std::thread::spawn(move || {
        let _ = child.wait();
    });
    Ok(())
}
