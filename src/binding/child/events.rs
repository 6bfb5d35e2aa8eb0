//! What a supervised child tells JS, through one thread-safe function: `(kind, payload)`.
//!
//! Messages travel as the child's raw JSON lines joined into JSON arrays, so JS runs one
//! `JSON.parse` per batch (DESIGN.md §7) instead of napi building objects field by field. On
//! Node's loop ([`super::uv`]) batches are handed over directly; only the tokio fallback
//! reader sends them through here, and it counts the bytes JS has not consumed yet and stops
//! reading above [`MAX_IN_FLIGHT`]: a slow parent then slows the child down, as with
//! `child_process`, instead of buffering without bound. The closure that runs on the JS
//! thread for each event also starts and finishes the JS-thread reader of each child.

use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use napi::bindgen_prelude::{Buffer, Either, FnArgs, Function};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::Status;
use tokio::sync::{oneshot, Notify};

use super::outbox::{Channel, Outbox};
use super::uv::{JsTarget, MainReader, Slot};

/// Message bytes handed to JS but not yet delivered, above which the reader pauses.
pub const MAX_IN_FLIGHT: usize = 8 * 1024 * 1024;

/// Event kinds, as numbers for the JS side (`lib/fork.js` has the same table).
pub mod kind {
    pub const MESSAGES: u32 = 0;
    pub const SPAWN: u32 = 1;
    pub const EXIT: u32 = 2;
    pub const SENT: u32 = 3;
    pub const DROPPED: u32 = 4;
    pub const CHANNEL_CLOSED: u32 = 5;
    pub const ERROR: u32 = 6;
    pub const STDOUT: u32 = 7;
    pub const STDERR: u32 = 8;
    pub const RESTART: u32 = 9;
}

/// A new channel for the JS-thread reader ([`super::uv`]) to poll.
pub struct Attach {
    pub chan: Channel,
    pub outbox: Arc<Outbox>,
    /// Told when the channel is done.
    pub done: oneshot::Sender<()>,
}

pub enum Event {
    /// A JSON array of the child's messages, in order.
    Messages(String),
    /// A child is up: `{"pid":..,"restarts":..}`, and its channel when JS-thread reading is on.
    Spawn(String, Option<Attach>),
    /// A child exited and will be restarted: `{"code":..,"signal":..,"delay":..}`.
    Restart(String),
    /// The last child exited; nothing follows: `{"code":..,"signal":..}`.
    Exit(String),
    /// Queued messages up to this sequence number are written.
    Sent(u64),
    /// Queued messages up to this sequence number will never be written.
    Dropped(u64),
    /// The child closed its end (`process.disconnect()`) while still running.
    ChannelClosed,
    /// `{"message":..,"code":..}`.
    Error(String),
    Stdout(Vec<u8>),
    Stderr(Vec<u8>),
}

/// `(kind, payload)`: a string, or a Buffer for stdout/stderr chunks.
pub type Args = FnArgs<(u32, Either<String, Buffer>)>;
type Tsfn = ThreadsafeFunction<Event, (), Args, Status, false, true>;

/// Cheap to clone; every task of one child holds one. When the last is dropped the
/// thread-safe function is released.
#[derive(Clone)]
pub struct Emitter {
    tsfn: Arc<Tsfn>,
    in_flight: Arc<InFlight>,
}

#[derive(Default)]
pub struct InFlight {
    bytes: AtomicUsize,
    drained: Notify,
}

impl InFlight {
    /// Waits until JS has caught up enough to take more.
    pub async fn wait_for_room(&self) {
        while self.bytes.load(Ordering::Acquire) >= MAX_IN_FLIGHT {
            self.drained.notified().await;
        }
    }
}

fn finish_reader(slot: &Slot) {
    let current = slot.borrow_mut().take();
    if let Some(r) = current {
        MainReader::drain_and_close(&r);
    }
}

impl Emitter {
    /// Weak: the function alone does not keep Node's loop alive; `lib/fork.js` holds a
    /// ref'able handle instead, so `unref()` works as on a ChildProcess. With `target`, the
    /// channel of each child is read on Node's loop (started and finished from here, on the JS
    /// thread); without, by the tokio reader.
    pub fn new(
        callback: Function<'_, Args, ()>,
        target: Option<Rc<JsTarget>>,
        slot: Slot,
    ) -> napi::Result<Self> {
        let in_flight = Arc::new(InFlight::default());
        let counter = in_flight.clone();
        let tsfn = callback
            .build_threadsafe_function::<Event>()
            .weak::<true>()
            .callee_handled::<false>()
            .build_callback(move |ctx| {
                Ok(match ctx.value {
                    Event::Messages(batch) => {
                        // On the JS thread, just before JS sees the batch.
                        let before = counter.bytes.fetch_sub(batch.len(), Ordering::AcqRel);
                        if before >= MAX_IN_FLIGHT && before - batch.len() < MAX_IN_FLIGHT {
                            counter.drained.notify_one();
                        }
                        (kind::MESSAGES, Either::A(batch))
                    }
                    Event::Spawn(s, attach) => {
                        if let (Some(a), Some(t)) = (attach, target.as_ref()) {
                            let reader = super::uv::start(
                                ctx.env.raw(),
                                t.clone(),
                                a.chan,
                                a.outbox,
                                a.done,
                            );
                            if reader.is_none() {
                                let e =
                                    r#"{"message":"cannot poll the IPC channel on Node's loop"}"#;
                                t.call(kind::ERROR, e.as_bytes());
                            }
                            *slot.borrow_mut() = reader;
                        }
                        (kind::SPAWN, Either::A(s))
                    }
                    // Whatever the child wrote before it went comes first.
                    Event::Restart(s) => {
                        finish_reader(&slot);
                        (kind::RESTART, Either::A(s))
                    }
                    Event::Exit(s) => {
                        finish_reader(&slot);
                        (kind::EXIT, Either::A(s))
                    }
                    Event::Sent(seq) => (kind::SENT, Either::A(seq.to_string())),
                    Event::Dropped(seq) => (kind::DROPPED, Either::A(seq.to_string())),
                    Event::ChannelClosed => (kind::CHANNEL_CLOSED, Either::A(String::new())),
                    Event::Error(s) => (kind::ERROR, Either::A(s)),
                    Event::Stdout(b) => (kind::STDOUT, Either::B(b.into())),
                    Event::Stderr(b) => (kind::STDERR, Either::B(b.into())),
                }
                .into())
            })?;
        Ok(Emitter {
            tsfn: Arc::new(tsfn),
            in_flight,
        })
    }

    pub fn emit(&self, ev: Event) {
        if let Event::Messages(batch) = &ev {
            self.in_flight
                .bytes
                .fetch_add(batch.len(), Ordering::AcqRel);
        }
        // NonBlocking on an unbounded queue only fails when Node is shutting down, and then
        // nobody is left to tell.
        let _ = self.tsfn.call(ev, ThreadsafeFunctionCallMode::NonBlocking);
    }

    pub fn in_flight(&self) -> &InFlight {
        &self.in_flight
    }
}
