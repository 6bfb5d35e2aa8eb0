//! The RPC socket: one task per connection, a peer check, a version handshake, then
//! request/response frames. Whatever a client sends, the worst outcome is that its own
//! connection is closed.

use std::sync::Arc;

use tokio::net::{UnixListener, UnixStream};

use super::Daemon;
use crate::protocol::{
    frame, BusEvent, Error, Hello, Request, Response, PROTOCOL_VERSION, VERSION,
};

/// A client's hello, from connecting: the CLI and the libraries send it first thing.
const HELLO_WITHIN: std::time::Duration = std::time::Duration::from_secs(10);
/// A request, from its first byte: 64 MiB on a local socket takes milliseconds.
const FRAME_WITHIN: std::time::Duration = std::time::Duration::from_secs(30);

pub async fn serve(listener: UnixListener, daemon: Arc<Daemon>) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                if allowed(&stream) {
                    tokio::spawn(connection(stream, daemon.clone()));
                }
            }
            Err(e) => {
                // EMFILE and friends: keep serving the clients we have, try again shortly.
                elog!("accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }
}

/// Whether the peer may talk to this daemon: its own user or root, by the kernel's word
/// (`SO_PEERCRED`), whatever the socket file's mode says. Anyone else is closed on before a
/// byte is read, with one line in the daemon's log; nothing they send is looked at.
fn allowed(stream: &UnixStream) -> bool {
    let me = nix::unistd::geteuid().as_raw();
    let why = match stream.peer_cred() {
        Ok(c) if crate::sys::user::may_connect(c.uid(), me) => return true,
        Ok(c) => format!(
            "uid {} (pid {})",
            c.uid(),
            c.pid().map_or_else(|| "?".into(), |p| p.to_string())
        ),
        Err(e) => format!("an unknown peer ({e})"),
    };
    if let Some(more) = REFUSALS.log_at(crate::sys::clock::now_ms() as u64 / 1000) {
        let more = match more {
            0 => String::new(),
            n => format!("; {n} more refused since the last line"),
        };
        elog!(
            "[{}] refused a connection from {why}: only uid {me} and root may use this daemon{more}",
            chrono::Local::now().to_rfc3339()
        );
    }
    false
}

/// At most one refusal line a second, so another user knocking in a loop cannot fill the disk
/// through the daemon's log; the lines in between are counted.
struct Refusals {
    last_second: std::sync::atomic::AtomicU64,
    unlogged: std::sync::atomic::AtomicU64,
}

static REFUSALS: Refusals = Refusals {
    last_second: std::sync::atomic::AtomicU64::new(0),
    unlogged: std::sync::atomic::AtomicU64::new(0),
};

impl Refusals {
    /// `Some(refusals not logged before this one)` when this one, in second `now`, may be
    /// logged.
    fn log_at(&self, now: u64) -> Option<u64> {
        use std::sync::atomic::Ordering::Relaxed;
        if self.last_second.swap(now, Relaxed) == now {
            self.unlogged.fetch_add(1, Relaxed);
            return None;
        }
        Some(self.unlogged.swap(0, Relaxed))
    }
}

async fn connection(mut stream: UnixStream, daemon: Arc<Daemon>) {
    use tokio::io::AsyncWriteExt;
    let hello = Response::Hello(Hello {
        protocol: PROTOCOL_VERSION,
        version: VERSION.into(),
    });
    // Every client greets at once; a connection that does not is dropped rather than held.
    let first = tokio::time::timeout(HELLO_WITHIN, frame::read::<_, Request>(&mut stream)).await;
    let Ok(first) = first else { return };
    match first {
        Ok(Request::Hello(h)) => {
            if frame::write(&mut stream, &hello).await.is_err() || h.protocol != PROTOCOL_VERSION {
                return;
            }
        }
        Ok(_) => {
            let _ = frame::write(
                &mut stream,
                &Response::error(Error::invalid("the first request must be a hello")),
            )
            .await;
            return;
        }
        Err(_) => return,
    }
    loop {
        let req = match frame::read_within::<_, Request>(&mut stream, FRAME_WITHIN).await {
            Ok(r) => r,
            Err(frame::FrameError::Closed) => return,
            Err(e) => {
                let _ = frame::write(&mut stream, &Response::error(Error::invalid(e.to_string())))
                    .await;
                return;
            }
        };
        if matches!(req, Request::Subscribe) {
            return stream_events(stream, daemon).await;
        }
        if let Request::Queue(op) = req {
            return crate::queue::session::serve(stream, &daemon.ctx.home, op).await;
        }
        let is_kill = matches!(req, Request::Kill);
        let answer = daemon.answer(req).await;
        let _ = stream.write_all(&answer).await;
        daemon.request_done();
        if is_kill {
            // Answered first, so the client hears back before the daemon goes away.
            daemon.request_shutdown();
            return;
        }
    }
}

/// Streams bus events until the client goes away. A slow subscriber skips what it missed
/// (the broadcast channel is bounded) rather than slowing the apps down.
async fn stream_events(mut stream: UnixStream, daemon: Arc<Daemon>) {
    use tokio::io::AsyncReadExt;
    let mut rx = daemon.subscribe();
    if frame::write(&mut stream, &Response::Done).await.is_err() {
        return;
    }
    let (mut read_half, mut write_half) = stream.split();
    let mut probe = [0u8; 64];
    loop {
        tokio::select! {
            ev = rx.recv() => match ev {
                Ok(ev) => {
                    let ev = match BusEvent::from_parts(ev.channel, ev.data) {
                        Ok(ev) => ev,
                        Err(e) => {
                            elog!("dropped a malformed bus event: {e}");
                            continue;
                        }
                    };
                    if frame::write(&mut write_half, &Response::Event(ev)).await.is_err() {
                        return;
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            },
            n = read_half.read(&mut probe) => {
                if matches!(n, Ok(0) | Err(_)) {
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn refusals_are_logged_at_most_once_a_second() {
        let r = super::Refusals {
            last_second: 0.into(),
            unlogged: 0.into(),
        };
        assert_eq!(r.log_at(7), Some(0));
        assert_eq!(r.log_at(7), None);
        assert_eq!(r.log_at(7), None);
        assert_eq!(r.log_at(8), Some(2), "the ones in between are counted");
        assert_eq!(r.log_at(9), Some(0));
    }
}
