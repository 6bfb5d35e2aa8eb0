//! Running one probe against one child, every `interval`, inside the daemon: a TCP connect, a
//! minimal HTTP/1.1 GET (status line only; the body is drained and dropped), or a shell
//! command in its own process group, killed as a group when it outlives `timeout`. Each run
//! is bounded by `timeout`, so a probe never piles up behind a stuck target.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use super::checks::{Port, Probe, Target};
use super::monitor::{Source, Verdict};
use super::state::{HealthView, ProbeResult};
use super::{now_ms, ProcInfo};

/// At most this much of a response is read (a health body is small; a huge one is not
/// worth the daemon's time).
const MAX_RESPONSE: usize = 64 * 1024;

/// Where one child's probes of its own ports go. The instances of an app share its listening
/// sockets (the daemon hands the same socket to each, so a reload never closes the accept
/// queue), so a probe of the shared port may be answered by any of them: by the old process
/// during a reload, by a sibling during a scale-up. A Node app's preload opens a private
/// abstract unix socket beside each server listening on a probed port, feeds its connections to
/// that server, and names it on the channel; this child's probes then dial that one.
pub(super) struct Routes {
    /// (public port, its twin's abstract name); `None`: the preload could not open one.
    via: Mutex<Vec<(u16, Option<String>)>>,
    /// Whether the daemon holds a shared listening socket on a port now.
    shared: Box<dyn Fn(u16) -> bool + Send + Sync>,
}

impl Routes {
    pub fn new(shared: impl Fn(u16) -> bool + Send + Sync + 'static) -> Routes {
        Routes {
            via: Mutex::default(),
            shared: Box::new(shared),
        }
    }

    /// The preload's private twin of `port`.
    pub fn via(&self, port: u16, twin: Option<String>) {
        let mut t = self.via.lock().unwrap_or_else(|p| p.into_inner());
        t.retain(|(p, _)| *p != port);
        t.push((port, twin));
    }

    /// The twin a probe of `port` dials (`None`: the port itself), or why it cannot tell this
    /// child from the others on that port yet (the twin is named right after it listens).
    fn dial(&self, port: u16) -> Result<Option<String>, String> {
        let known = self
            .via
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .find(|(p, _)| *p == port)
            .map(|(_, v)| v.clone());
        match known {
            Some(twin) => Ok(twin),
            None if (self.shared)(port) => Err(format!(
                "port {port} is shared with the app's other processes and this one has not opened its own probe socket (not listening yet)"
            )),
            None => Ok(None),
        }
    }
}

/// A connected probe: TCP, or a child's twin.
trait Conn: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Conn for T {}

/// What a probe needs of its instance, resolved at launch.
pub(super) struct ProbeEnv {
    pub env: Vec<(String, String)>,
    pub cwd: Option<String>,
    pub pid: u32,
    /// A Node app's private probe sockets (see [`Routes`]).
    pub routes: Option<Arc<Routes>>,
}

impl ProbeEnv {
    /// Connects a probe of `host:port`: to this child's private twin when it has one (a name
    /// of this child's own, which the preload makes: anything else is not dialled).
    async fn connect(&self, host: &str, port: u16) -> Result<Box<dyn Conn>, String> {
        let refused = |e: std::io::Error| format!("cannot connect to {host}:{port}: {e}");
        let own = format!("pm-native-probe:{}:", self.pid);
        let twin = match &self.routes {
            Some(r) if super::checks::is_local(host) => r.dial(port)?,
            _ => None,
        };
        Ok(match twin {
            Some(name) if name.starts_with(&own) => Box::new(twin_stream(&name).map_err(refused)?),
            _ => Box::new(
                tokio::net::TcpStream::connect((host, port))
                    .await
                    .map_err(refused)?,
            ),
        })
    }

    fn port(&self, p: &Port) -> Result<u16, String> {
        match p {
            Port::Fixed(n) => Ok(*n),
            Port::Env(name) => self
                .env
                .iter()
                .find(|(k, _)| k == name)
                .ok_or_else(|| format!("${name} is not set in the app's environment"))?
                .1
                .trim()
                .parse::<u16>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("${name} is not a port")),
        }
    }
}

/// Connects to a child's abstract unix socket. Node 20's libuv binds an abstract name padded
/// with NULs to the whole `sun_path` (what `ss -x` shows as trailing `@`s), newer ones may bind
/// it exactly: both are tried.
fn twin_stream(name: &str) -> std::io::Result<tokio::net::UnixStream> {
    use std::os::linux::net::SocketAddrExt;
    const SUN_PATH: usize = 108;
    let mut padded = name.as_bytes().to_vec();
    padded.resize(SUN_PATH - 1, 0);
    let mut last = None;
    for candidate in [padded.as_slice(), name.as_bytes()] {
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(candidate)?;
        // A unix connect does not wait for the server: it succeeds or fails at once.
        match std::os::unix::net::UnixStream::connect_addr(&addr) {
            Ok(s) => {
                s.set_nonblocking(true)?;
                return tokio::net::UnixStream::from_std(s);
            }
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("no address to try")))
}

/// Which roles this probe plays for the child.
#[derive(Clone, Copy)]
pub(super) struct Roles {
    pub live: bool,
    pub ready: bool,
}

fn describe(t: &Target, env: &ProbeEnv) -> (&'static str, String) {
    let port = |p: &Port| match env.port(p) {
        Ok(n) => n.to_string(),
        Err(_) => match p {
            Port::Env(n) => format!("${n}"),
            Port::Fixed(n) => n.to_string(),
        },
    };
    match t {
        Target::Http {
            host,
            port: p,
            path,
            ..
        } => ("http", format!("http://{host}:{}{path}", port(p))),
        Target::Tcp { host, port: p } => ("tcp", format!("{host}:{}", port(p))),
        Target::Exec(c) => ("exec", c.clone()),
    }
}

/// The probe loop for one child; ends (after a restart verdict) or is aborted with the child.
pub(super) async fn run(
    probe: Probe,
    roles: Roles,
    env: ProbeEnv,
    info: Arc<Mutex<ProcInfo>>,
    tx: mpsc::Sender<Verdict>,
) {
    let (kind, target) = describe(&probe.target, &env);
    tokio::time::sleep(probe.initial_delay).await;
    let mut tick = tokio::time::interval(probe.interval);
    // A slow run delays the next one instead of bunching the missed ones up.
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let (mut failures, mut successes, mut ready_sent) = (0u32, 0u32, false);
    // Failures restart the child once the probe has passed since its launch, or, with an
    // explicit initial_delay, once that delay is over (Kubernetes' rule): an app still starting
    // (fifty at once on two cores take seconds) is not killed for being slow, by default.
    let mut counting = !probe.initial_delay.is_zero();
    loop {
        tick.tick().await;
        let started = Instant::now();
        let outcome = check(&probe.target, probe.timeout, &env).await;
        let took_ms = started.elapsed().as_millis() as u64;
        let ok = outcome.is_ok();
        if ok {
            successes = successes.saturating_add(1);
            failures = 0;
            counting = true;
        } else {
            failures = failures.saturating_add(1);
            successes = 0;
        }
        let message = match &outcome {
            Ok(m) | Err(m) => m.clone(),
        };
        let result = ProbeResult {
            kind,
            target: target.clone(),
            ok,
            at: now_ms(),
            took_ms,
            message: message.clone(),
            failures,
            successes,
        };
        {
            let mut g = info.lock().unwrap_or_else(|p| p.into_inner());
            let view = g.health.get_or_insert_with(HealthView::default);
            if roles.live {
                view.liveness = Some(result.clone());
            }
            if roles.ready {
                view.readiness = Some(result);
            }
        }
        if ok && roles.ready && !ready_sent && successes >= probe.success_threshold {
            ready_sent = true;
            let _ = tx.send(Verdict::Ready(Source::Probe)).await;
        }
        if !ok && roles.live && counting && failures >= probe.failure_threshold {
            let why =
                format!("{kind} probe {target} failed {failures} time(s) in a row: {message}");
            let _ = tx
                .send(Verdict::Restart {
                    reason: "health",
                    why,
                })
                .await;
            return;
        }
    }
}

/// One run of a probe: `Ok` with what was seen, or `Err` with why it failed.
pub(super) async fn check(t: &Target, timeout: Duration, env: &ProbeEnv) -> Result<String, String> {
    match t {
        Target::Exec(cmd) => exec(cmd, timeout, env).await,
        Target::Tcp { host, port } => {
            let port = env.port(port)?;
            bounded(timeout, async {
                env.connect(host, port)
                    .await
                    .map(|_| "connected".to_string())
            })
            .await
        }
        Target::Http {
            host,
            port,
            path,
            status,
        } => {
            let port = env.port(port)?;
            bounded(timeout, async {
                http(env.connect(host, port).await?, host, port, path, status).await
            })
            .await
        }
    }
}

async fn bounded(
    timeout: Duration,
    f: impl std::future::Future<Output = Result<String, String>>,
) -> Result<String, String> {
    tokio::time::timeout(timeout, f)
        .await
        .unwrap_or_else(|_| Err(format!("no answer within {} ms", timeout.as_millis())))
}

/// A GET of `host:port` (the Host header) on a connected stream.
async fn http<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    mut s: S,
    host: &str,
    port: u16,
    path: &str,
    accepted: &[(u16, u16)],
) -> Result<String, String> {
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: pm-native-probe\r\nAccept: */*\r\nConnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes())
        .await
        .map_err(|e| format!("cannot send the request: {e}"))?;
    let mut head = Vec::with_capacity(256);
    let mut buf = [0u8; 2048];
    let code = loop {
        let n = s
            .read(&mut buf)
            .await
            .map_err(|e| format!("cannot read the answer: {e}"))?;
        if n == 0 {
            return Err("connection closed before a status line".into());
        }
        head.extend_from_slice(&buf[..n]);
        if let Some(end) = head.windows(2).position(|w| w == b"\r\n") {
            break status_code(&head[..end])?;
        }
        if head.len() > 8192 {
            return Err("no HTTP status line in the first 8 KiB".into());
        }
    };
    // Read the rest (bounded) so the server sees a normal close rather than a reset.
    let mut total = head.len();
    while total < MAX_RESPONSE {
        match s.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => total += n,
        }
    }
    if accepted.iter().any(|(a, b)| (*a..=*b).contains(&code)) {
        Ok(format!("HTTP {code}"))
    } else {
        Err(format!("HTTP {code}"))
    }
}

fn status_code(line: &[u8]) -> Result<u16, String> {
    let text = String::from_utf8_lossy(line);
    let mut parts = text.split_whitespace();
    match (
        parts.next(),
        parts.next().and_then(|c| c.parse::<u16>().ok()),
    ) {
        (Some(v), Some(code)) if v.starts_with("HTTP/") => Ok(code),
        _ => Err(format!(
            "not an HTTP status line: {:?}",
            text.chars().take(80).collect::<String>()
        )),
    }
}

/// Kills a probe command's whole group when dropped: on timeout, when it exits leaving
/// children behind, and when the probe task is aborted mid-run.
struct Group(i32);

impl Drop for Group {
    fn drop(&mut self) {
        let _ = killpg(Pid::from_raw(self.0), Signal::SIGKILL);
    }
}

async fn exec(cmd: &str, timeout: Duration, env: &ProbeEnv) -> Result<String, String> {
    let mut c = tokio::process::Command::new("/bin/sh");
    c.arg("-c")
        .arg(cmd)
        .envs(env.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("PM_PID", env.pid.to_string())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .process_group(0)
        .kill_on_drop(true);
    if let Some(cwd) = env.cwd.as_deref() {
        c.current_dir(cwd);
    }
    let mut child = c
        .spawn()
        .map_err(|e| format!("cannot run the probe command: {e}"))?;
    let Some(pid) = child.id() else {
        return Err("the probe command vanished".into());
    };
    let group = Group(pid as i32);
    let res = tokio::time::timeout(timeout, child.wait()).await;
    drop(group);
    match res {
        Ok(Ok(st)) if st.success() => Ok("exit 0".into()),
        Ok(Ok(st)) => Err(match st.code() {
            Some(c) => format!("exit {c}"),
            None => format!("ended by {st}"),
        }),
        Ok(Err(e)) => Err(format!("cannot wait for the probe command: {e}")),
        Err(_) => {
            // Reap it: the group was just killed.
            let _ = child.wait().await;
            Err(format!(
                "no answer within {} ms (killed)",
                timeout.as_millis()
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> ProbeEnv {
        ProbeEnv {
            env: vec![("HP".into(), "1".into())],
            cwd: None,
            pid: 1,
            routes: None,
        }
    }

    #[test]
    fn status_lines() {
        assert_eq!(status_code(b"HTTP/1.1 204 No Content"), Ok(204));
        assert!(status_code(b"SSH-2.0-OpenSSH").is_err());
    }

    #[tokio::test]
    async fn exec_probes_are_bounded_and_killed_as_a_group() {
        let t = Duration::from_millis(300);
        assert_eq!(exec("true", t, &env()).await, Ok("exit 0".into()));
        assert_eq!(exec("exit 3", t, &env()).await, Err("exit 3".into()));
        let dir = tempfile::tempdir().expect("tempdir");
        let mark = dir.path().join("pid");
        let started = Instant::now();
        let res = exec(
            &format!("sleep 30 & echo $! > {}; wait", mark.display()),
            t,
            &env(),
        )
        .await;
        assert!(res.expect_err("timed out").contains("killed"));
        assert!(started.elapsed() < Duration::from_secs(5));
        let pid: i32 = std::fs::read_to_string(&mark)
            .expect("pid file")
            .trim()
            .parse()
            .expect("pid");
        // The grandchild went with its group (it may linger as a zombie of init briefly).
        let gone = (0..100).any(|_| {
            let alive = std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .map(|s| !s.contains(") Z"))
                .unwrap_or(false);
            if alive {
                std::thread::sleep(Duration::from_millis(20));
            }
            !alive
        });
        assert!(gone, "sleep {pid} survived its probe");
    }

    /// Answers one request with `code`.
    async fn reply<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(mut s: S, code: u16) {
        let mut buf = [0u8; 1024];
        let _ = s.read(&mut buf).await;
        let reply = format!("HTTP/1.1 {code} X\r\nContent-Length: 0\r\n\r\n");
        let _ = s.write_all(reply.as_bytes()).await;
    }

    #[tokio::test]
    async fn probes_of_a_shared_port_dial_the_childs_own_twin() {
        use std::os::linux::net::SocketAddrExt;
        // The shared port answers 200 (the old process), this child's twin 503.
        let tcp = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let public = tcp.local_addr().expect("addr").port();
        tokio::spawn(async move {
            while let Ok((s, _)) = tcp.accept().await {
                reply(s, 200).await;
            }
        });
        let pid = std::process::id();
        let name = format!("pm-native-probe:{pid}:{public}");
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())
            .expect("abstract name");
        let std_unix = std::os::unix::net::UnixListener::bind_addr(&addr).expect("bind twin");
        std_unix.set_nonblocking(true).expect("nonblocking");
        let unix = tokio::net::UnixListener::from_std(std_unix).expect("tokio listener");
        tokio::spawn(async move {
            while let Ok((s, _)) = unix.accept().await {
                reply(s, 503).await;
            }
        });
        let shared = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let routes = Arc::new(Routes::new({
            let shared = shared.clone();
            move |p| p == public && shared.load(std::sync::atomic::Ordering::Relaxed)
        }));
        let env = ProbeEnv {
            routes: Some(routes.clone()),
            pid,
            ..env()
        };
        let t = Duration::from_secs(2);
        let get = |host: &str| Target::Http {
            host: host.into(),
            port: Port::Fixed(public),
            path: "/health".into(),
            status: vec![(200, 399)],
        };
        // Not shared: the port itself, as without routes.
        assert_eq!(
            check(&get("127.0.0.1"), t, &env).await,
            Ok("HTTP 200".into())
        );
        shared.store(true, std::sync::atomic::Ordering::Relaxed);
        let err = check(&get("localhost"), t, &env)
            .await
            .expect_err("no twin yet");
        assert!(
            err.contains("shared with the app's other processes"),
            "{err}"
        );
        routes.via(public, Some(name.clone()));
        assert_eq!(
            check(&get("localhost"), t, &env).await,
            Err("HTTP 503".into())
        );
        let tcp_probe = Target::Tcp {
            host: "0.0.0.0".into(),
            port: Port::Fixed(public),
        };
        assert!(check(&tcp_probe, t, &env).await.is_ok());
        // A name that is not this child's own is not dialled.
        routes.via(
            public,
            Some(format!("pm-native-probe:{}:{public}", pid + 1)),
        );
        assert_eq!(
            check(&get("127.0.0.1"), t, &env).await,
            Ok("HTTP 200".into())
        );
        // A twin the preload could not open: the shared port again.
        routes.via(public, None);
        assert_eq!(
            check(&get("127.0.0.1"), t, &env).await,
            Ok("HTTP 200".into())
        );
    }

    #[tokio::test]
    async fn http_and_tcp_against_a_real_listener() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = l.local_addr().expect("addr").port();
        tokio::spawn(async move {
            let mut n = 0;
            while let Ok((mut s, _)) = l.accept().await {
                n += 1;
                let code = if n == 1 { 200 } else { 503 };
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf).await;
                let _ = s
                    .write_all(
                        format!("HTTP/1.1 {code} X\r\nContent-Length: 2\r\n\r\nok").as_bytes(),
                    )
                    .await;
            }
        });
        let t = Duration::from_secs(2);
        let target = |status| Target::Http {
            host: "127.0.0.1".into(),
            port: Port::Fixed(port),
            path: "/health".into(),
            status,
        };
        assert_eq!(
            check(&target(vec![(200, 399)]), t, &env()).await,
            Ok("HTTP 200".into())
        );
        assert_eq!(
            check(&target(vec![(200, 399)]), t, &env()).await,
            Err("HTTP 503".into())
        );
        let tcp = Target::Tcp {
            host: "127.0.0.1".into(),
            port: Port::Fixed(port),
        };
        assert!(check(&tcp, t, &env()).await.is_ok());
        let env_port = Target::Tcp {
            host: "127.0.0.1".into(),
            port: Port::Env("NOPE".into()),
        };
        assert_eq!(
            check(&env_port, t, &env()).await,
            Err("$NOPE is not set in the app's environment".into())
        );
    }
}
