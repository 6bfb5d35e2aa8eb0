//! The daemon's side of systemd's notify protocol (sd_notify(3)), written out because it is
//! this small: one datagram per state (`READY=1`, `STOPPING=1`, `WATCHDOG=1`) on the unix
//! datagram socket `$NOTIFY_SOCKET` names, where a leading `@` means the abstract namespace.
//! Without `NOTIFY_SOCKET` (the daemon started by the CLI) every call is a no-op.

use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::Duration;

pub struct Notifier {
    target: Option<(UnixDatagram, SocketAddr)>,
    /// How often to send `WATCHDOG=1`: half of systemd's `WatchdogSec=`, as sd_watchdog_enabled(3)
    /// advises, so one late tick does not get the daemon killed.
    watchdog: Option<Duration>,
}

impl Notifier {
    /// Takes the notify variables out of the environment. Call it before any thread starts:
    /// removing variables races with threads that read the environment. They are removed so
    /// no process the daemon starts (apps, `node --version`) believes it is the service.
    pub fn from_env() -> Notifier {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let socket = var("NOTIFY_SOCKET");
        let usec = var("WATCHDOG_USEC");
        let pid = var("WATCHDOG_PID");
        for k in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"] {
            std::env::remove_var(k);
        }
        let Some(socket) = socket else {
            return Notifier::disabled();
        };
        let target = address(&socket).and_then(|addr| {
            let sock =
                UnixDatagram::unbound().map_err(|e| format!("cannot create a socket: {e}"))?;
            // A full receive queue must never stall the daemon; a lost state is logged instead.
            sock.set_nonblocking(true)
                .map_err(|e| format!("cannot make the socket non-blocking: {e}"))?;
            Ok((sock, addr))
        });
        match target {
            Ok(target) => Notifier {
                target: Some(target),
                watchdog: watchdog_interval(usec.as_deref(), pid.as_deref(), std::process::id()),
            },
            Err(e) => {
                elog!("NOTIFY_SOCKET={socket}: {e}; systemd will not hear from the daemon");
                Notifier::disabled()
            }
        }
    }

    /// Whether a service manager started this daemon (and so watches its main process).
    pub fn is_enabled(&self) -> bool {
        self.target.is_some()
    }

    pub fn disabled() -> Notifier {
        Notifier {
            target: None,
            watchdog: None,
        }
    }

    /// The service is up. `MAINPID` is sent too, so systemd tracks this process even when it
    /// was started through a wrapper.
    pub fn ready(&self) {
        self.send(&format!("READY=1\nMAINPID={}", std::process::id()));
    }

    pub fn stopping(&self) {
        self.send("STOPPING=1");
    }

    pub fn watchdog(&self) {
        self.send("WATCHDOG=1");
    }

    /// How often [`Notifier::watchdog`] must be called, when systemd asked for it.
    pub fn watchdog_interval(&self) -> Option<Duration> {
        self.watchdog
    }

    fn send(&self, state: &str) {
        let Some((sock, addr)) = &self.target else {
            return;
        };
        if let Err(e) = sock.send_to_addr(state.as_bytes(), addr) {
            elog!(
                "cannot tell systemd {:?}: {e}",
                state.lines().next().unwrap_or(state)
            );
        }
    }
}

/// Where `NOTIFY_SOCKET` points: an absolute path, or `@name` in the abstract namespace.
fn address(value: &str) -> Result<SocketAddr, String> {
    if let Some(name) = value.strip_prefix('@') {
        return abstract_address(name.as_bytes());
    }
    if !value.starts_with('/') {
        return Err("not an absolute path nor an abstract name (@...)".into());
    }
    SocketAddr::from_pathname(value).map_err(|e| format!("not a usable socket path: {e}"))
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn abstract_address(name: &[u8]) -> Result<SocketAddr, String> {
    use std::os::linux::net::SocketAddrExt;
    SocketAddr::from_abstract_name(name).map_err(|e| format!("not a usable abstract name: {e}"))
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn abstract_address(_: &[u8]) -> Result<SocketAddr, String> {
    Err("abstract socket names exist only on Linux".into())
}

/// Half of `WATCHDOG_USEC`, if the watchdog is meant for process `me`: systemd sets
/// `WATCHDOG_PID` when the variables may have been inherited by someone else.
fn watchdog_interval(usec: Option<&str>, pid: Option<&str>, me: u32) -> Option<Duration> {
    let usec: u64 = usec?.trim().parse().ok().filter(|&u| u > 0)?;
    if let Some(pid) = pid {
        if pid.trim().parse::<u32>().ok() != Some(me) {
            return None;
        }
    }
    Some(Duration::from_micros(usec / 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watchdog_is_half_the_timeout_and_only_for_this_pid() {
        let half = Some(Duration::from_secs(15));
        assert_eq!(watchdog_interval(Some("30000000"), None, 7), half);
        assert_eq!(watchdog_interval(Some("30000000"), Some("7"), 7), half);
        assert_eq!(watchdog_interval(Some("30000000"), Some("8"), 7), None);
        assert_eq!(watchdog_interval(Some("30000000"), Some("x"), 7), None);
        assert_eq!(watchdog_interval(Some("0"), None, 7), None);
        assert_eq!(watchdog_interval(Some("soon"), None, 7), None);
        assert_eq!(watchdog_interval(None, Some("7"), 7), None);
    }

    #[test]
    fn addresses_are_absolute_paths_or_abstract_names() {
        let path = address("/run/systemd/notify").expect("a path");
        assert_eq!(
            path.as_pathname(),
            Some(std::path::Path::new("/run/systemd/notify"))
        );
        assert!(address("run/notify").is_err(), "relative paths are refused");
        assert!(
            address(&format!("/{}", "x".repeat(200))).is_err(),
            "too long"
        );
        #[cfg(target_os = "linux")]
        {
            use std::os::linux::net::SocketAddrExt;
            let abs = address("@pm-test").expect("an abstract name");
            assert_eq!(abs.as_abstract_name(), Some(&b"pm-test"[..]));
        }
    }

    #[test]
    fn states_reach_the_socket_one_datagram_each() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("notify.sock");
        let listener = UnixDatagram::bind(&path).expect("bind");
        let n = Notifier {
            target: Some((
                UnixDatagram::unbound().expect("socket"),
                SocketAddr::from_pathname(&path).expect("addr"),
            )),
            watchdog: None,
        };
        n.ready();
        n.watchdog();
        n.stopping();
        let mut buf = [0u8; 256];
        let mut next = || {
            let len = listener.recv(&mut buf).expect("recv");
            String::from_utf8_lossy(&buf[..len]).into_owned()
        };
        assert_eq!(next(), format!("READY=1\nMAINPID={}", std::process::id()));
        assert_eq!(next(), "WATCHDOG=1");
        assert_eq!(next(), "STOPPING=1");
        Notifier::disabled().ready(); // nothing to send to, nothing happens
    }
}
