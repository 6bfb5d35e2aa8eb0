//! The daemon as Node's cluster primary (DESIGN.md §5, §6). Apps started with `-i N` run as
//! unmodified cluster workers (`NODE_UNIQUE_ID` set), so every `server.listen()` and
//! `socket.bind()` in them becomes a `queryServer` request on the IPC channel. The daemon binds
//! each key once and passes the same listening fd to every worker that asks (Node's
//! `SharedHandle`): the kernel spreads connections over the workers, and since the daemon keeps
//! its copy while any worker of the key remains, a reload (start new, then disconnect old) never
//! closes the accept queue. The handles are daemon-wide, as in PM2, where one Node primary
//! serves every app: two apps listening on one port share it.
//!
//! Wire rules kept here:
//! - every message we send is `{"cmd":"NODE_CLUSTER",…,"seq":n}`, replies add `"ack": <request
//!   seq>`; `seq` is counted per channel;
//! - a handle travels as `NODE_HANDLE` (`net.Native` or `dgram.Native`) with the fd in the same
//!   `sendmsg` as the line. The worker answers `NODE_HANDLE_ACK`, and nothing more from this
//!   module goes out on that channel until then: Node's reader keeps one pending handle per
//!   channel, so a second one in flight could be paired with the wrong line;
//! - failures go back as a negative libuv errno (`-errno` on Linux) without a handle, and the
//!   worker's server emits `'error'`.
//!
//! Not supported: round-robin (`sched: rr`) and `listen({fd})` (the fd number names a descriptor
//! in the worker, which the daemon cannot open; the worker gets `EINVAL`).

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use nix::errno::Errno;
use nix::sys::socket::{
    self as sock, sockopt, AddressFamily, Backlog, SockFlag, SockType, UnixAddr,
};
use serde_json::{json, Map, Value};

use crate::ipc::channel::Writer;

/// Node's `MAX_HANDLE_RETRANSMISSIONS`: a handle the worker NACKs (its `recvmsg` lost the fd)
/// is sent again at most this often.
const MAX_RETRANSMISSIONS: u32 = 3;
/// libuv's `UV_TCP_IPV6ONLY` / `UV_UDP_IPV6ONLY` bit in the request's `flags`.
const UV_IPV6ONLY: i64 = 1;
/// libuv's `UV_UDP_REUSEADDR` bit (`dgram.createSocket({reuseAddr: true})`).
const UV_UDP_REUSEADDR: i64 = 4;
/// Every socket we bind is non-blocking: O_NONBLOCK lives in the open file description, which
/// all workers of a key share, and libuv does not set it on a received handle (Node's primary
/// passes libuv sockets, non-blocking from birth). A blocking listener hangs a worker: two
/// workers wake for one connection, the loser blocks in accept() and its event loop stops,
/// channel included, so it never sees `disconnect`. Close-on-exec keeps it out of other apps.
const SOCKET_FLAGS: SockFlag = SockFlag::SOCK_NONBLOCK.union(SockFlag::SOCK_CLOEXEC);
/// Node's default backlog when the app gives none (`backlog || 511`).
const DEFAULT_BACKLOG: i64 = 511;

/// What a worker's cluster message means to the supervisor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterEvent {
    /// The worker set itself up as a cluster worker (`act: online`), before any app code ran.
    Online,
    /// A server or UDP socket in the worker is ready (`act: listening`): the readiness signal
    /// for a reload. `port` is the real one (after `listen(0)`); `None` for a unix socket,
    /// whose path is then `address`.
    Listening {
        address: Option<String>,
        port: Option<u16>,
    },
    /// The worker called `cluster.worker.disconnect()` or `.destroy()` itself (acknowledged
    /// here, as Node's primary does): the exit that follows was asked for.
    ExitedAfterDisconnect,
    /// A fork-mode app answered `disconnect`: its servers are closed and their connections
    /// done (`act: drained`, from the daemon's preload), so it can be stopped without loss.
    Drained,
}

/// One worker as the primary sees it: its id (`NODE_UNIQUE_ID`) and its channel's writer.
/// Clone it freely: the channel's reader task and the supervisor each hold one.
///
/// A fork-mode app is a worker too, without `NODE_UNIQUE_ID`: the daemon's preload routes its
/// `listen()` through the same protocol (see lib/app-preload.js), so its instances share their
/// listening socket and a reload can overlap them. It does not exit on `disconnect`; it drains
/// and says so (`drained`), and is then stopped as usual.
#[derive(Clone)]
pub struct WorkerRef {
    pub id: u32,
    writer: Writer,
    drained: Arc<tokio::sync::Notify>,
    closed: Arc<tokio::sync::Notify>,
}

impl WorkerRef {
    /// Resolves once the worker has reported `drained` (at once if it already has).
    pub async fn drained(&self) {
        self.drained.notified().await;
    }

    /// Resolves once the worker's channel has closed (at once if it already has). A cluster
    /// worker told to `disconnect` closes it only after its servers have closed.
    pub async fn closed(&self) {
        self.closed.notified().await;
    }

    /// Called by the channel's reader at EOF.
    pub fn channel_closed(&self) {
        self.closed.notify_one();
    }
}

/// The daemon-wide cluster primary: listening sockets shared by every worker that asks for the
/// same key. Cloning shares the state; the lock is a std mutex never held across an `.await`.
#[derive(Clone, Default)]
pub struct Primary {
    state: Arc<Mutex<State>>,
    /// Poked when a shared socket is bound or released (the daemon records them, see
    /// `daemon::live`).
    changed: Arc<tokio::sync::Notify>,
}

/// A shared socket as a successor daemon needs it: the socket itself comes from the keeper.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct HandleRecord {
    pub key: String,
    pub handle_type: String,
    pub unlink: Option<PathBuf>,
    pub data: Value,
    pub workers: Vec<u32>,
}

#[derive(Default)]
struct State {
    /// Holds a copy of every shared socket, so none closes with the daemon.
    keeper: crate::keeper::Keeper,
    last_id: u32,
    /// Node's `handles` map, keyed `${address}:${port}:${addressType}:${fd}:${index}`.
    handles: HashMap<String, Shared>,
    workers: HashMap<u32, Worker>,
}

/// A socket the daemon bound and hands to every worker of its key.
struct Shared {
    socket: Arc<OwnedFd>,
    handle_type: &'static str,
    /// A unix socket's path, removed on release as libuv does when a pipe server closes.
    unlink: Option<PathBuf>,
    /// Server data from the first worker that had some (TLS session ticket keys), so every
    /// worker of an https app resumes the others' sessions.
    data: Value,
    workers: BTreeSet<u32>,
}

#[derive(Default)]
struct Worker {
    seq: u64,
    /// Messages waiting for the channel (FIFO, so replies keep Node's order).
    outbox: VecDeque<Out>,
    /// The handle sent and not yet ACKed; its fd stays open until then for a retransmission.
    unacked: Option<Out>,
    /// A task is inside `Writer::send` for this worker; others leave their messages queued.
    sending: bool,
    /// We sent `disconnect` or the worker announced its own: ignore its new queries, as Node.
    disconnecting: bool,
}

struct Out {
    line: String,
    fd: Option<Arc<OwnedFd>>,
    resent: u32,
}

impl Primary {
    pub fn new() -> Self {
        Self::default()
    }

    /// A fresh 1-based worker id for `NODE_UNIQUE_ID`, never reused by this daemon (Node's
    /// `++ids`). The caller sets `NODE_UNIQUE_ID`, `NODE_CHANNEL_FD=3` and
    /// `NODE_CHANNEL_SERIALIZATION_MODE=json` on the child.
    pub fn next_worker_id(&self) -> u32 {
        let mut st = self.lock();
        // 4 billion spawns cannot happen in one daemon's life; never hand out 0 regardless.
        st.last_id = st.last_id.checked_add(1).unwrap_or(1);
        st.last_id
    }

    /// Gives the shared sockets bound from now on to the keeper, too.
    pub fn set_keeper(&self, keeper: crate::keeper::Keeper) {
        self.lock().keeper = keeper;
    }

    /// Poked whenever a shared socket is bound or released.
    pub fn changed(&self) -> Arc<tokio::sync::Notify> {
        self.changed.clone()
    }

    /// The shared sockets held now, as a successor needs them (see [`Primary::adopt_handle`]).
    pub fn records(&self) -> Vec<HandleRecord> {
        let st = self.lock();
        let mut v: Vec<HandleRecord> = st
            .handles
            .iter()
            .map(|(k, h)| HandleRecord {
                key: k.clone(),
                handle_type: h.handle_type.to_string(),
                unlink: h.unlink.clone(),
                data: h.data.clone(),
                workers: h.workers.iter().copied().collect(),
            })
            .collect();
        v.sort_by(|a, b| a.key.cmp(&b.key));
        v
    }

    /// The last worker id handed out.
    pub fn last_worker_id(&self) -> u32 {
        self.lock().last_id
    }

    /// The last worker id a dead daemon handed out: ids go on from there, never reused.
    pub fn resume_ids(&self, last: u32) {
        let mut st = self.lock();
        st.last_id = st.last_id.max(last);
    }

    /// Takes back a shared socket a dead daemon bound (its copy kept by the keeper), for the
    /// workers that were using it.
    pub fn adopt_handle(&self, rec: HandleRecord, socket: OwnedFd) {
        let handle_type = match rec.handle_type.as_str() {
            "dgram.Native" => "dgram.Native",
            _ => "net.Native",
        };
        let mut st = self.lock();
        st.handles.insert(
            rec.key,
            Shared {
                socket: Arc::new(socket),
                handle_type,
                unlink: rec.unlink,
                data: rec.data,
                workers: rec.workers.into_iter().collect(),
            },
        );
    }

    /// Forgets the workers of adopted handles that did not come back (their process had gone),
    /// so a socket nobody uses is released as usual.
    pub fn prune_workers(&self, alive: &BTreeSet<u32>) {
        let mut st = self.lock();
        let keys: Vec<(String, u32)> = st
            .handles
            .iter()
            .flat_map(|(k, h)| {
                h.workers
                    .iter()
                    .filter(|w| !alive.contains(w))
                    .map(move |w| (k.clone(), *w))
            })
            .collect();
        for (key, id) in keys {
            st.leave(id, &key);
        }
        drop(st);
        self.changed.notify_one();
    }

    /// Registers a spawned worker's channel; call before its reader starts.
    pub fn attach(&self, id: u32, writer: Writer) -> WorkerRef {
        self.lock().workers.entry(id).or_default();
        WorkerRef {
            id,
            writer,
            drained: Arc::default(),
            closed: Arc::default(),
        }
    }

    /// Whether the worker holds a shared socket now (it listens through the daemon).
    pub fn holds_sockets(&self, id: u32) -> bool {
        self.lock()
            .handles
            .values()
            .any(|h| h.workers.contains(&id))
    }

    /// Whether a shared TCP socket bound to `port` is held now (by any app): a connection to
    /// that port reaches whichever of its workers accepts it.
    pub fn binds_tcp_port(&self, port: u16) -> bool {
        let st = self.lock();
        st.handles
            .values()
            .filter(|h| h.handle_type == "net.Native" && h.unlink.is_none())
            .any(|h| {
                // A copy, so std can ask its address (a socket std does not own, it cannot).
                h.socket
                    .try_clone()
                    .map(std::net::TcpListener::from)
                    .and_then(|l| l.local_addr())
                    .is_ok_and(|a| a.port() == port)
            })
    }

    /// True for the messages [`Primary::on_message`] wants: `NODE_CLUSTER`, and the worker's
    /// `NODE_HANDLE_ACK`/`NACK` for the handles we sent. (A `NODE_HANDLE` *from* the worker is
    /// the channel reader's business: it must ACK or NACK it.)
    pub fn is_cluster_message(msg: &Value) -> bool {
        matches!(
            msg.get("cmd").and_then(Value::as_str),
            Some("NODE_CLUSTER" | "NODE_HANDLE_ACK" | "NODE_HANDLE_NACK")
        )
    }

    /// Handles one message from `worker` and sends what it calls for: `queryServer` binds or
    /// reuses the key's socket and answers with the handle (or an errno), `close` releases the
    /// key when its last worker leaves, `exitedAfterDisconnect` is acknowledged, and a
    /// `NODE_HANDLE_ACK` lets queued messages go. Returns what the supervisor must know.
    pub async fn on_message(&self, worker: &WorkerRef, msg: &Value) -> Option<ClusterEvent> {
        let event = {
            let mut st = self.lock();
            match msg.get("cmd").and_then(Value::as_str)? {
                "NODE_HANDLE_ACK" => st.handle_answered(worker.id, true),
                "NODE_HANDLE_NACK" => st.handle_answered(worker.id, false),
                "NODE_CLUSTER" => {}
                _ => return None,
            }
            st.cluster(worker.id, msg)
        };
        if matches!(
            msg.get("act").and_then(Value::as_str),
            Some("queryServer" | "close")
        ) {
            self.changed.notify_one();
        }
        if event == Some(ClusterEvent::Drained) {
            // notify_one keeps a permit, so a drain reported before anyone waits still counts.
            worker.drained.notify_one();
        }
        // A failed send means the worker is gone; its EOF reaches the supervisor, which then
        // calls worker_gone, so there is nothing more to do with the error here.
        let _ = self.flush(worker).await;
        event
    }

    /// Graceful stop: asks the worker to close its servers and leave. It sends `close` per
    /// handle, then EOF, then exits 0, but only after open connections end, so keep a
    /// `kill_timeout` backstop. Sent once; later calls do nothing.
    pub async fn disconnect(&self, worker: &WorkerRef) -> io::Result<()> {
        {
            let mut st = self.lock();
            let Some(w) = st.workers.get_mut(&worker.id) else {
                return Ok(());
            };
            if w.disconnecting {
                return Ok(());
            }
            w.disconnecting = true;
            w.push(json!({ "act": "disconnect" }), None);
        }
        self.flush(worker).await
    }

    /// Forgets a worker whose channel closed or whose process exited: it leaves every key, and
    /// a key nobody else uses has its socket closed (and a unix socket path removed).
    pub fn worker_gone(&self, id: u32) {
        let mut st = self.lock();
        st.workers.remove(&id);
        let keys: Vec<String> = st
            .handles
            .iter()
            .filter(|(_, h)| h.workers.contains(&id))
            .map(|(k, _)| k.clone())
            .collect();
        for key in keys {
            st.leave(id, &key);
        }
        drop(st);
        self.changed.notify_one();
    }

    /// The shared sockets held now: key and the ids of the workers using it, sorted by key.
    pub fn listeners(&self) -> Vec<(String, Vec<u32>)> {
        let st = self.lock();
        let mut v: Vec<_> = st
            .handles
            .iter()
            .map(|(k, h)| (k.clone(), h.workers.iter().copied().collect()))
            .collect();
        v.sort();
        v
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // No code panics while holding the lock; if some did, the maps are still consistent.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sends the worker's queued messages in order, stopping at a handle until it is ACKed.
    /// One task sends at a time (the `sending` flag), so two tasks never reorder messages.
    async fn flush(&self, worker: &WorkerRef) -> io::Result<()> {
        loop {
            let (line, fd) = {
                let mut st = self.lock();
                let Some(w) = st.workers.get_mut(&worker.id) else {
                    return Ok(());
                };
                if w.sending || w.unacked.is_some() {
                    return Ok(());
                }
                let Some(out) = w.outbox.pop_front() else {
                    return Ok(());
                };
                w.sending = true;
                match out.fd.clone() {
                    Some(fd) => {
                        let line = out.line.clone();
                        w.unacked = Some(out);
                        (line, Some(fd))
                    }
                    None => (out.line, None),
                }
            };
            // Cleared on drop, so a cancelled send cannot wedge the queue.
            let _sending = Sending {
                primary: self,
                id: worker.id,
            };
            worker
                .writer
                .send(&line, fd.as_deref().map(AsRawFd::as_raw_fd))
                .await?;
        }
    }
}

struct Sending<'a> {
    primary: &'a Primary,
    id: u32,
}

impl Drop for Sending<'_> {
    fn drop(&mut self) {
        if let Some(w) = self.primary.lock().workers.get_mut(&self.id) {
            w.sending = false;
        }
    }
}

impl State {
    /// One `NODE_CLUSTER` message; replies are queued for `flush`.
    fn cluster(&mut self, id: u32, msg: &Value) -> Option<ClusterEvent> {
        if msg.get("cmd").and_then(Value::as_str) != Some("NODE_CLUSTER") {
            return None;
        }
        match msg.get("act").and_then(Value::as_str) {
            Some("online") => Some(ClusterEvent::Online),
            Some("listening") => Some(ClusterEvent::Listening {
                address: msg.get("address").and_then(Value::as_str).map(String::from),
                port: msg
                    .get("port")
                    .and_then(Value::as_u64)
                    .and_then(|p| u16::try_from(p).ok()),
            }),
            Some("queryServer") => {
                self.query(id, msg);
                None
            }
            Some("close") => {
                if let Some(key) = msg.get("key").and_then(Value::as_str) {
                    self.leave(id, key);
                }
                None
            }
            Some("exitedAfterDisconnect") => {
                // The worker waits for this ack before it disconnects.
                if let Some(w) = self.workers.get_mut(&id) {
                    w.disconnecting = true;
                    w.push(json!({ "ack": msg.get("seq") }), None);
                }
                Some(ClusterEvent::ExitedAfterDisconnect)
            }
            Some("drained") => Some(ClusterEvent::Drained),
            // Replies carrying `ack` (round-robin's `accepted`) and unknown acts.
            _ => None,
        }
    }

    /// queryServer: share the key's socket, binding it first if nobody holds it (primary.js).
    fn query(&mut self, id: u32, msg: &Value) {
        match self.workers.get(&id) {
            // Node's primary drops queries from a worker it is disconnecting: the worker is
            // about to exit, and a socket bound for it now would only leak.
            Some(w) if !w.disconnecting => {}
            _ => return,
        }
        let key = key_of(msg);
        let data = msg.get("data").cloned().unwrap_or(Value::Null);
        let (errno, data, handle) = match self.handles.get_mut(&key) {
            Some(h) => {
                if falsy(&h.data) {
                    h.data = data;
                }
                h.workers.insert(id);
                (0, h.data.clone(), Some((h.socket.clone(), h.handle_type)))
            }
            // Binding is a few non-blocking syscalls, fine under the lock.
            None => match bind(msg) {
                Ok((socket, handle_type, unlink)) => {
                    self.keeper.put(
                        &crate::keeper::sock_owner(&key),
                        &[("sock", std::os::fd::AsFd::as_fd(&socket))],
                    );
                    let socket = Arc::new(socket);
                    let h = Shared {
                        socket: socket.clone(),
                        handle_type,
                        unlink,
                        data: data.clone(),
                        workers: BTreeSet::from([id]),
                    };
                    self.handles.insert(key.clone(), h);
                    (0, data, Some((socket, handle_type)))
                }
                // Nothing is stored, so another worker may retry the key (Node deletes it).
                Err(e) => (-(e as i32), data, None),
            },
        };
        let reply = json!({ "errno": errno, "key": key, "ack": msg.get("seq"), "data": data });
        if let Some(w) = self.workers.get_mut(&id) {
            w.push(reply, handle);
        }
    }

    /// `id` stops using `key`; the last one out closes the socket.
    fn leave(&mut self, id: u32, key: &str) {
        let Some(h) = self.handles.get_mut(key) else {
            return;
        };
        if h.workers.remove(&id) && h.workers.is_empty() {
            self.keeper.forget(&crate::keeper::sock_owner(key));
            if let Some(path) = self.handles.remove(key).and_then(|h| h.unlink) {
                let _ = std::fs::remove_file(path);
            }
        }
    }

    fn handle_answered(&mut self, id: u32, acked: bool) {
        let Some(w) = self.workers.get_mut(&id) else {
            return;
        };
        match w.unacked.take() {
            Some(mut out) if !acked && out.resent < MAX_RETRANSMISSIONS => {
                out.resent += 1;
                w.outbox.push_front(out);
            }
            _ => {}
        }
    }
}

impl Worker {
    /// Queues `{"cmd":"NODE_CLUSTER",…body,"seq":n}` (Node's sendHelper), wrapped in a
    /// NODE_HANDLE envelope when a socket goes with it.
    fn push(&mut self, body: Value, handle: Option<(Arc<OwnedFd>, &'static str)>) {
        let mut msg = Map::new();
        msg.insert("cmd".into(), "NODE_CLUSTER".into());
        if let Value::Object(body) = body {
            msg.extend(body);
        }
        msg.insert("seq".into(), self.seq.into());
        self.seq += 1;
        let (line, fd) = match handle {
            Some((fd, ty)) => (
                json!({ "cmd": "NODE_HANDLE", "type": ty, "msg": msg }).to_string(),
                Some(fd),
            ),
            None => (Value::Object(msg).to_string(), None),
        };
        self.outbox.push_back(Out {
            line,
            fd,
            resent: 0,
        });
    }
}

/// primary.js's key, with JavaScript's `String()` of each field (`undefined` when absent:
/// JSON.stringify drops undefined fields). The worker asserts keys are unique, so keep it.
/// A fork-mode app's query names its app (`pmApp`): its instances share a socket, but another
/// app on the same port gets EADDRINUSE, as it would without the daemon.
fn key_of(msg: &Value) -> String {
    let key = ["address", "port", "addressType", "fd", "index"]
        .map(|f| match msg.get(f) {
            None => "undefined".to_string(),
            Some(Value::Null) => "null".to_string(),
            Some(Value::String(s)) => s.clone(),
            Some(v) => v.to_string(),
        })
        .join(":");
    match msg.get("pmApp").and_then(Value::as_str) {
        Some(app) => format!("{key}:app={app}"),
        None => key,
    }
}

/// JavaScript falsiness, for primary.js's `if (!handle.data) handle.data = message.data`.
fn falsy(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        _ => false,
    }
}

/// Creates the socket a queryServer asks for, as Node's `net._createServerHandle` and
/// `dgram._createSocketHandle` would: (socket, NODE_HANDLE type, path to unlink on release).
fn bind(msg: &Value) -> Result<(OwnedFd, &'static str, Option<PathBuf>), Errno> {
    // listen({fd}) / bind({fd}) name a descriptor in the worker's table. Node's primary opens
    // that number in its own table, which in the daemon is some unrelated file.
    if msg
        .get("fd")
        .and_then(Value::as_i64)
        .is_some_and(|fd| fd >= 0)
    {
        return Err(Errno::EINVAL);
    }
    let flags = msg.get("flags").and_then(Value::as_i64).unwrap_or(0);
    let address = msg
        .get("address")
        .and_then(Value::as_str)
        .filter(|a| !a.is_empty());
    let port = match msg.get("port") {
        None | Some(Value::Null) => 0,
        Some(p) => p.as_i64().ok_or(Errno::EINVAL)?,
    };
    match msg.get("addressType") {
        Some(Value::String(t)) if t == "udp4" || t == "udp6" => {
            bind_udp(address, tcp_port(port)?, t == "udp6", flags)
                .map(|s| (s, "dgram.Native", None))
        }
        Some(t) if t.as_i64() == Some(-1) && port == -1 => {
            let path = address.ok_or(Errno::EINVAL)?;
            bind_pipe(path, msg).map(|s| (s, "net.Native", Some(PathBuf::from(path))))
        }
        _ => {
            bind_tcp(address, tcp_port(port)?, flags, backlog(msg)).map(|s| (s, "net.Native", None))
        }
    }
}

fn tcp_port(port: i64) -> Result<u16, Errno> {
    u16::try_from(port).map_err(|_| Errno::EINVAL)
}

fn backlog(msg: &Value) -> Backlog {
    let max = i64::from(i32::from(Backlog::MAXCONN));
    let n = msg
        .get("backlog")
        .and_then(Value::as_i64)
        .filter(|b| *b > 0)
        .unwrap_or(DEFAULT_BACKLOG)
        .min(max);
    Backlog::new(i32::try_from(n).unwrap_or(511)).unwrap_or(Backlog::MAXCONN)
}

fn parse_ip(address: &str) -> Result<IpAddr, Errno> {
    address.parse().map_err(|_| Errno::EINVAL)
}

fn bind_tcp(
    address: Option<&str>,
    port: u16,
    flags: i64,
    backlog: Backlog,
) -> Result<OwnedFd, Errno> {
    let Some(address) = address else {
        // No host: `::` (dual-stack unless ipv6Only), then 0.0.0.0 where IPv6 is unavailable.
        // Binding only 0.0.0.0 loses IPv6 clients (DESIGN §9.4). EADDRINUSE is no reason to
        // fall back: libuv reports it only at listen(), so Node never does.
        let any6 = SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), port);
        return match tcp_listener(any6, flags, backlog) {
            Err(e) if e != Errno::EADDRINUSE => tcp_listener(
                SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), port),
                0,
                backlog,
            ),
            r => r,
        };
    };
    tcp_listener(SocketAddr::new(parse_ip(address)?, port), flags, backlog)
}

fn tcp_listener(addr: SocketAddr, flags: i64, backlog: Backlog) -> Result<OwnedFd, Errno> {
    let family = if addr.is_ipv6() {
        AddressFamily::Inet6
    } else {
        AddressFamily::Inet
    };
    let s = sock::socket(family, SockType::Stream, SOCKET_FLAGS, None)?;
    // libuv sets SO_REUSEADDR on every TCP bind, so a restarted app rebinds while its old
    // connections sit in TIME_WAIT.
    sock::setsockopt(&s, sockopt::ReuseAddr, &true)?;
    if addr.is_ipv6() {
        set_v6only(&s, flags & UV_IPV6ONLY != 0)?;
    }
    bind_inet(&s, addr)?;
    // Node's primary leaves listen() to the worker. Listening here queues connections that
    // arrive before the first worker's listen(), and keeps queueing between reloads.
    sock::listen(&s, backlog)?;
    Ok(s)
}

fn bind_pipe(path: &str, msg: &Value) -> Result<OwnedFd, Errno> {
    // ENAMETOOLONG past sun_path's 107 bytes. (Node's primary retries with a path relative
    // to its cwd; the daemon's cwd is unrelated to the app's, so that would not help.)
    let addr = UnixAddr::new(path)?;
    let s = sock::socket(AddressFamily::Unix, SockType::Stream, SOCKET_FLAGS, None)?;
    sock::bind(s.as_raw_fd(), &addr)?;
    let ready = chmod_pipe(path, msg).and_then(|()| sock::listen(&s, backlog(msg)));
    if let Err(e) = ready {
        let _ = std::fs::remove_file(path);
        return Err(e);
    }
    Ok(s)
}

/// `listen({path, readableAll, writableAll})`: the worker skips its fchmod when the handle
/// comes from the primary, so apply it here (uv_pipe_chmod adds the bits for everyone).
fn chmod_pipe(path: &str, msg: &Value) -> Result<(), Errno> {
    use std::os::unix::fs::PermissionsExt;
    let set = |k: &str| msg.get(k).and_then(Value::as_bool) == Some(true);
    let mut bits = 0;
    if set("readableAll") {
        bits |= 0o444;
    }
    if set("writableAll") {
        bits |= 0o222;
    }
    if bits == 0 {
        return Ok(());
    }
    let io_errno = |e: io::Error| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO));
    let mode = std::fs::metadata(path)
        .map_err(io_errno)?
        .permissions()
        .mode();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode | bits)).map_err(io_errno)
}

fn bind_udp(address: Option<&str>, port: u16, v6: bool, flags: i64) -> Result<OwnedFd, Errno> {
    let ip = match address {
        Some(a) => parse_ip(a)?,
        None if v6 => Ipv6Addr::UNSPECIFIED.into(),
        None => Ipv4Addr::UNSPECIFIED.into(),
    };
    if ip.is_ipv6() != v6 {
        return Err(Errno::EINVAL);
    }
    let family = if v6 {
        AddressFamily::Inet6
    } else {
        AddressFamily::Inet
    };
    let s = sock::socket(family, SockType::Datagram, SOCKET_FLAGS, None)?;
    // As libuv's uv_udp_bind: SO_REUSEADDR (on Linux) and v6-only only when asked.
    if flags & UV_UDP_REUSEADDR != 0 {
        sock::setsockopt(&s, sockopt::ReuseAddr, &true)?;
    }
    if v6 && flags & UV_IPV6ONLY != 0 {
        set_v6only(&s, true)?;
    }
    bind_inet(&s, SocketAddr::new(ip, port))?;
    Ok(s)
}

// IPv6-only and inet addresses go through libc: nix gates them behind its `net` feature, which
// this crate does not enable.
fn set_v6only(s: &OwnedFd, on: bool) -> Result<(), Errno> {
    let v: libc::c_int = on.into();
    // SAFETY: a valid socket, and a c_int option value with its exact size.
    let r = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::IPPROTO_IPV6,
            libc::IPV6_V6ONLY,
            (&v as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    Errno::result(r).map(drop)
}

fn bind_inet(s: &OwnedFd, addr: SocketAddr) -> Result<(), Errno> {
    // SAFETY: all-zero is a valid sockaddr_storage; the variant written matches the length
    // passed to bind.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let len = match addr {
        SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(a.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in.
            unsafe { std::ptr::write((&mut storage as *mut libc::sockaddr_storage).cast(), sin) };
            std::mem::size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: a.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: a.ip().octets(),
                },
                sin6_scope_id: a.scope_id(),
            };
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in6.
            unsafe { std::ptr::write((&mut storage as *mut libc::sockaddr_storage).cast(), sin6) };
            std::mem::size_of::<libc::sockaddr_in6>()
        }
    };
    // SAFETY: `storage` holds a sockaddr of `len` bytes for the socket's family.
    let r = unsafe {
        libc::bind(
            s.as_raw_fd(),
            (&storage as *const libc::sockaddr_storage).cast(),
            len as libc::socklen_t,
        )
    };
    Errno::result(r).map(drop)
}

#[cfg(test)]
mod tests;
