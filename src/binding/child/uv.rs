//! The channel on Node's own event loop: a libuv poll handle on the channel fd, read (and,
//! when the socket is full, written) in Rust on the JS thread, each batch of messages handed
//! to JS with `napi_make_callback`.
//!
//! Why: a reader on a tokio thread must hop to the JS thread for every message (a thread-safe
//! function call wakes the loop), which costs a second wake-up per round trip and made
//! request/response traffic about 20% slower than `child_process.fork`, whose pipe libuv
//! polls directly. Polling here puts fork() on the same footing. libuv is found at run time
//! with `dlsym` (Node exports it for addons; linking against it would break the `pm` binary,
//! which shares this crate); where it is missing, the tokio reader is used instead.

use std::cell::RefCell;
use std::ffi::{c_int, c_void, CStr};
use std::os::fd::AsRawFd;
use std::ptr;
use std::rc::Rc;
use std::sync::{Arc, OnceLock};

use napi::sys;
use tokio::sync::oneshot;

pub use super::js::JsTarget;
use super::outbox::{Channel, Drain, Outbox};
use super::reader::LineBuf;
use crate::ipc::channel::HANDLE_ACK;

type PollCb = unsafe extern "C" fn(*mut c_void, c_int, c_int);
type CloseCb = unsafe extern "C" fn(*mut c_void);

type HandleSizeFn = unsafe extern "C" fn(c_int) -> usize;
type PollInitFn = unsafe extern "C" fn(*mut c_void, *mut c_void, c_int) -> c_int;
type PollStartFn = unsafe extern "C" fn(*mut c_void, c_int, PollCb) -> c_int;
type HandleFn = unsafe extern "C" fn(*mut c_void) -> c_int;
type CloseFn = unsafe extern "C" fn(*mut c_void, CloseCb);
type UnrefFn = unsafe extern "C" fn(*mut c_void);

/// The few libuv entry points the reader needs.
struct Uv {
    handle_size: HandleSizeFn,
    poll_init: PollInitFn,
    poll_start: PollStartFn,
    poll_stop: HandleFn,
    close: CloseFn,
    unref: UnrefFn,
}

/// `UV_POLL` in libuv's `uv_handle_type`, and `UV_READABLE`: stable parts of its ABI.
const UV_POLL: c_int = 8;
const UV_READABLE: c_int = 1;
const UV_WRITABLE: c_int = 2;
/// Bytes read per wake-up before JS gets the batch, so one chatty child cannot starve the loop.
const READ_BUDGET: usize = 4 * 1024 * 1024;

fn uv() -> Option<&'static Uv> {
    static UV: OnceLock<Option<Uv>> = OnceLock::new();
    UV.get_or_init(|| {
        if std::env::var("PM_NATIVE_IPC_READER").is_ok_and(|v| v == "tokio") {
            return None;
        }
        // SAFETY: dlsym with RTLD_DEFAULT only looks names up; each symbol found is libuv's
        // function of that name, whose C signature is the one it is cast to.
        unsafe {
            let sym = |name: &CStr| {
                let p = libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr());
                (!p.is_null()).then_some(p)
            };
            Some(Uv {
                handle_size: std::mem::transmute::<*mut c_void, HandleSizeFn>(sym(
                    c"uv_handle_size",
                )?),
                poll_init: std::mem::transmute::<*mut c_void, PollInitFn>(sym(c"uv_poll_init")?),
                poll_start: std::mem::transmute::<*mut c_void, PollStartFn>(sym(c"uv_poll_start")?),
                poll_stop: std::mem::transmute::<*mut c_void, HandleFn>(sym(c"uv_poll_stop")?),
                close: std::mem::transmute::<*mut c_void, CloseFn>(sym(c"uv_close")?),
                unref: std::mem::transmute::<*mut c_void, UnrefFn>(sym(c"uv_unref")?),
            })
        }
    })
    .as_ref()
}

/// Whether channels are read on Node's loop (else on the tokio runtime).
pub fn available() -> bool {
    uv().is_some()
}

/// How far [`MainReader::read_available`] got.
#[derive(PartialEq, Eq)]
enum Read {
    /// The socket is empty for now.
    Drained,
    /// The budget or the buffer ran out first; more may be waiting.
    More,
    /// End of the channel (or a read error).
    Eof,
}

/// The reader of one child's channel on Node's loop.
pub struct MainReader {
    /// The `uv_poll_t`, freed by its close callback; null once closing.
    handle: *mut c_void,
    /// Keeps the fd open while libuv polls it.
    chan: Option<Channel>,
    lines: LineBuf,
    target: Rc<JsTarget>,
    outbox: Arc<Outbox>,
    /// Told once the channel is done (EOF, error or closed), so the supervisor can report the
    /// exit after the last message.
    done: Option<oneshot::Sender<()>>,
    /// Also polling for room: the outbox has a backlog.
    writing: bool,
    /// The batch being handed to JS, reused from call to call.
    out: Vec<u8>,
}

pub type Slot = Rc<RefCell<Option<Rc<RefCell<MainReader>>>>>;

/// Starts polling `chan` on Node's loop. Falls back to reporting done at once if libuv refuses.
pub fn start(
    env: sys::napi_env,
    target: Rc<JsTarget>,
    chan: Channel,
    outbox: Arc<Outbox>,
    done: oneshot::Sender<()>,
) -> Option<Rc<RefCell<MainReader>>> {
    let uv = uv()?;
    let mut uv_loop = ptr::null_mut();
    // SAFETY: Node-API call on the JS thread.
    if unsafe { sys::napi_get_uv_event_loop(env, &mut uv_loop) } != sys::Status::napi_ok {
        return None;
    }
    // SAFETY: libuv calls with a handle of the size libuv asks for; `data` (the first field
    // of every handle) points at a strong reference released in `on_close`.
    unsafe {
        let size = (uv.handle_size)(UV_POLL);
        let handle = libc::calloc(1, size);
        if handle.is_null() {
            return None;
        }
        if (uv.poll_init)(uv_loop.cast(), handle, chan.as_raw_fd()) != 0 {
            libc::free(handle);
            return None;
        }
        let reader = Rc::new(RefCell::new(MainReader {
            handle,
            chan: Some(chan),
            lines: LineBuf::default(),
            target,
            outbox,
            done: Some(done),
            writing: false,
            out: Vec::new(),
        }));
        *(handle as *mut *const RefCell<MainReader>) = Rc::into_raw(reader.clone());
        // The JS side's keep-alive timer decides whether the process waits for the child.
        (uv.unref)(handle);
        if (uv.poll_start)(handle, UV_READABLE, on_poll) != 0 {
            reader.borrow_mut().close();
            return None;
        }
        // Messages that waited for this child (sent while it restarted).
        let backlog = reader.borrow().outbox.has_backlog();
        if backlog {
            reader.borrow_mut().want_write();
        }
        Some(reader)
    }
}

unsafe extern "C" fn on_poll(handle: *mut c_void, status: c_int, events: c_int) {
    // SAFETY: `data` holds the reference `start` put there; it lives until `on_close`.
    let reader = unsafe { &*(*(handle as *const *const RefCell<MainReader>)) };
    if status >= 0 && events & UV_WRITABLE != 0 {
        let (outbox, chan) = {
            let r = reader.borrow();
            (r.outbox.clone(), r.chan.clone())
        };
        let blocked = chan.is_some_and(|c| outbox.drain(&c) == Drain::Blocked);
        if !blocked {
            reader.borrow_mut().stop_writing();
        }
    }
    if status >= 0 && events & UV_READABLE == 0 {
        return;
    }
    let eof = {
        let mut r = reader.borrow_mut();
        status < 0 || r.read_available() == Read::Eof
    };
    deliver(reader);
    if eof {
        reader.borrow_mut().close();
    } else if reader.borrow().outbox.has_backlog() {
        // A handle ACK queued while reading.
        reader.borrow_mut().want_write();
    }
}

/// Hands JS every complete line read so far, one batch per call. The reader is not borrowed
/// during a call: a listener may send, which comes back to it (want_write).
fn deliver(reader: &RefCell<MainReader>) {
    loop {
        let (mut out, target, more) = {
            let mut r = reader.borrow_mut();
            let mut out = std::mem::take(&mut r.out);
            let MainReader { lines, outbox, .. } = &mut *r;
            let more = lines.next_batch(&mut out, &mut || outbox.send_internal(HANDLE_ACK));
            (out, r.target.clone(), more)
        };
        if more {
            target.call(super::events::kind::MESSAGES, &out);
        }
        out.clear();
        reader.borrow_mut().out = out;
        if !more {
            return;
        }
    }
}

unsafe extern "C" fn on_close(handle: *mut c_void) {
    // SAFETY: the pointer `start` stored, released exactly once, then the handle's memory.
    unsafe {
        drop(Rc::from_raw(*(handle as *const *const RefCell<MainReader>)));
        libc::free(handle);
    }
}

impl MainReader {
    /// Starts watching for room: `send` queued a message the socket did not take.
    pub fn want_write(&mut self) {
        self.set_writing(true);
    }

    fn stop_writing(&mut self) {
        self.set_writing(false);
    }

    fn set_writing(&mut self, on: bool) {
        if self.writing == on || self.handle.is_null() {
            return;
        }
        if let Some(uv) = uv() {
            let events = if on {
                UV_READABLE | UV_WRITABLE
            } else {
                UV_READABLE
            };
            // SAFETY: the handle is initialised and not closing; poll_start changes the events.
            if unsafe { (uv.poll_start)(self.handle, events, on_poll) } == 0 {
                self.writing = on;
            }
        }
    }

    /// Reads what is there without blocking, up to a budget.
    fn read_available(&mut self) -> Read {
        let Some(fd) = self.chan.as_ref().map(|c| c.as_raw_fd()) else {
            return Read::Eof;
        };
        let mut total = 0;
        while total < READ_BUDGET && self.lines.has_room() {
            match self.lines.read_from(fd) {
                Ok(0) => return Read::Eof,
                // A short read emptied the socket: skip the read that would say EAGAIN.
                Ok(_) if self.lines.drained() => return Read::Drained,
                Ok(n) => total += n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Read::Drained,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return Read::Eof,
            }
        }
        Read::More
    }

    /// Delivers what is still readable, then closes (the child is gone: no more will come).
    pub fn drain_and_close(this: &Rc<RefCell<MainReader>>) {
        if this.borrow().handle.is_null() {
            return;
        }
        // Bounded: the child is gone, so the socket holds only what it wrote before.
        loop {
            let read = this.borrow_mut().read_available();
            deliver(this);
            if read != Read::More {
                break;
            }
        }
        this.borrow_mut().close();
    }

    fn close(&mut self) {
        if self.handle.is_null() {
            return;
        }
        if let Some(uv) = uv() {
            // SAFETY: the handle is initialised and not closed yet; stop removes the fd from
            // libuv's epoll before our copy of the channel can be dropped.
            unsafe {
                (uv.poll_stop)(self.handle);
                (uv.close)(self.handle, on_close);
            }
        }
        self.handle = ptr::null_mut();
        self.chan = None;
        if let Some(done) = self.done.take() {
            let _ = done.send(());
        }
    }
}
