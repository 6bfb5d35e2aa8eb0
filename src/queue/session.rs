//! One queue session: a connection whose first request after the hello was a queue op. Reads
//! ops and hands them to the broker; writes the broker's replies and deliveries, as many as are
//! waiting in one write. When the connection ends, for whatever reason (the client closed it,
//! its process died), the broker takes back every job the session held.

use tokio::io::AsyncWriteExt;
use tokio::net::UnixStream;
use tokio::sync::mpsc;

use super::broker::broker;
use crate::config::Home;
use crate::protocol::queue::{QueueOp, QueueReply};
use crate::protocol::{frame, Error, Response};

/// Replies written in one go at most.
const WRITE_BATCH: usize = 1024;

pub async fn serve(stream: UnixStream, home: &Home, first: QueueOp) {
    let broker = broker(home.queue_journal());
    let (tx, mut rx) = mpsc::unbounded_channel::<QueueReply>();
    let sid = broker.open(tx.clone());
    let (mut rd, mut wr) = stream.into_split();
    broker.op(sid, first);
    let writer = tokio::spawn(async move {
        let mut buf = Vec::with_capacity(4096);
        while let Some(reply) = rx.recv().await {
            buf.clear();
            let mut n = 0;
            let mut next = Some(reply);
            while let Some(reply) = next.take() {
                match frame::encode(&Response::Queue(reply)) {
                    Ok(bytes) => buf.extend_from_slice(&bytes),
                    Err(e) => elog!("queue session: cannot encode a reply: {e}"),
                }
                n += 1;
                if n < WRITE_BATCH {
                    next = rx.try_recv().ok();
                }
            }
            if wr.write_all(&buf).await.is_err() {
                return;
            }
        }
    });
    loop {
        // Read as the op itself rather than as a `Request` holding one: the same JSON (the
        // `verb` field is ignored), one pass of serde's buffering less per frame.
        match frame::read_within::<_, QueueOp>(&mut rd, std::time::Duration::from_secs(30)).await {
            Ok(op) => broker.op(sid, op),
            Err(frame::FrameError::Closed) => break,
            Err(e) => {
                let _ = tx.send(QueueReply::failed(0, Error::invalid(e.to_string())));
                break;
            }
        }
    }
    broker.close(sid);
    drop(tx);
    // Let the last answers out (the writer ends once the broker drops its sender too).
    let _ = tokio::time::timeout(std::time::Duration::from_secs(1), writer).await;
}
