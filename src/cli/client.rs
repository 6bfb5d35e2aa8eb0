//! The CLI's side of the RPC socket: connect (starting the daemon when none answers), greet,
//! then one request per call. Blocking std I/O: a command is a single short exchange, and a
//! runtime would cost start-up time on every `pm` invocation.

use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};

use crate::config::Home;
use crate::protocol::{frame, Hello, Request, Response, PROTOCOL_VERSION, VERSION};

pub struct Client {
    stream: UnixStream,
}

/// How long a fresh daemon may take to answer (it normally takes a few milliseconds).
const SPAWN_DEADLINE: Duration = Duration::from_secs(10);

impl Client {
    /// Connects to a running daemon, without starting one.
    pub fn connect_existing(home: &Home) -> anyhow::Result<Option<Client>> {
        match UnixStream::connect(home.rpc_socket()) {
            Ok(stream) => Ok(Some(Client::greet(stream)?)),
            Err(_) => Ok(None),
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
                return Client::greet(stream);
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

    fn greet(mut stream: UnixStream) -> anyhow::Result<Client> {
        frame::sync::write(
            &mut stream,
            &Request::Hello(Hello {
                protocol: PROTOCOL_VERSION,
                version: VERSION.into(),
            }),
        )
        .context("cannot talk to the daemon")?;
        match frame::sync::read::<_, Response>(&mut stream) {
            Ok(Response::Hello(h)) if h.protocol == PROTOCOL_VERSION => Ok(Client { stream }),
            Ok(Response::Hello(h)) => bail!(
                "the running daemon is pm-native {} (protocol {}), this CLI is {VERSION} (protocol {PROTOCOL_VERSION}); run `pm kill` to stop it, then retry",
                h.version,
                h.protocol
            ),
            Ok(_) | Err(_) => bail!(
                "the daemon did not answer the handshake; it may be another version: run `pm kill` to stop it, then retry"
            ),
        }
    }

    pub fn call(&mut self, req: &Request) -> anyhow::Result<Response> {
        frame::sync::write(&mut self.stream, req).context("cannot send to the daemon")?;
        frame::sync::read(&mut self.stream).context("the daemon closed the connection")
    }

    /// A call whose error response becomes an error.
    pub fn call_ok(&mut self, req: &Request) -> anyhow::Result<Response> {
        match self.call(req)? {
            Response::Error { message } => Err(anyhow!(message)),
            other => Ok(other),
        }
    }
}

/// Starts `pm daemon` detached: its own session (no controlling terminal, so it survives the
/// shell and logout), stdio on pm.log.
fn spawn_daemon(home: &Home) -> anyhow::Result<()> {
    let exe = std::env::current_exe().context("cannot find the pm binary")?;
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(home.daemon_log())
        .with_context(|| format!("cannot open {}", home.daemon_log().display()))?;
    let log2 = log.try_clone()?;
    let mut cmd = Command::new(exe);
    cmd.arg("daemon")
        .env("PM_HOME", &home.root)
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
