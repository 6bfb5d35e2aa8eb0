//! The RPC socket: one task per connection, a version handshake, then request/response frames.
//! Whatever a client sends, the worst outcome is that its own connection is closed.

use std::sync::Arc;

use tokio::net::{UnixListener, UnixStream};

use super::Daemon;
use crate::protocol::{frame, Hello, Request, Response, PROTOCOL_VERSION, VERSION};

pub async fn serve(listener: UnixListener, daemon: Arc<Daemon>) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(connection(stream, daemon.clone()));
            }
            Err(e) => {
                // EMFILE and friends: keep serving the clients we have, try again shortly.
                eprintln!("accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }
}

async fn connection(mut stream: UnixStream, daemon: Arc<Daemon>) {
    let hello = Response::Hello(Hello {
        protocol: PROTOCOL_VERSION,
        version: VERSION.into(),
    });
    match frame::read::<_, Request>(&mut stream).await {
        Ok(Request::Hello(h)) => {
            if frame::write(&mut stream, &hello).await.is_err() || h.protocol != PROTOCOL_VERSION {
                return;
            }
        }
        Ok(_) => {
            let _ = frame::write(
                &mut stream,
                &Response::error("the first request must be a hello"),
            )
            .await;
            return;
        }
        Err(_) => return,
    }
    loop {
        let req = match frame::read::<_, Request>(&mut stream).await {
            Ok(r) => r,
            Err(frame::FrameError::Closed) => return,
            Err(e) => {
                let _ = frame::write(&mut stream, &Response::error(e.to_string())).await;
                return;
            }
        };
        if matches!(req, Request::Subscribe) {
            return stream_events(stream, daemon).await;
        }
        let is_kill = matches!(req, Request::Kill);
        let resp = daemon.handle(req).await;
        let _ = frame::write(&mut stream, &resp).await;
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
                    let msg = Response::Event { channel: ev.channel, data: ev.data };
                    if frame::write(&mut write_half, &msg).await.is_err() {
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
