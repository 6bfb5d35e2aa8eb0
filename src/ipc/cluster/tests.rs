//! Tests of the cluster primary against real Node workers: shared ports, reloads, unix sockets, UDP.
//! Real `node` workers on a real channel, as the supervisor will run them.
use super::*;
use crate::ipc::channel::{open, pair};
use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::io::AsyncBufReadExt;
use tokio::sync::mpsc;

const DEADLINE: Duration = Duration::from_secs(20);

struct TestWorker {
    id: u32,
    pid: u32,
    w: WorkerRef,
    child: tokio::process::Child,
    out: mpsc::UnboundedReceiver<Value>,
    events: mpsc::UnboundedReceiver<ClusterEvent>,
    reader: Option<tokio::task::JoinHandle<()>>,
}

fn fixture(name: &str) -> String {
    format!(
        "{}/tests/fixtures/cluster/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// Spawns `node fixture` as cluster worker: NODE_UNIQUE_ID plus the channel on fd 3
/// (the pattern of supervisor/spawn.rs), and a reader that feeds `p.on_message`.
fn spawn_worker(p: &Primary, script: &str, env: &[(&str, String)]) -> TestWorker {
    let id = p.next_worker_id();
    let (parent, child_end) = pair().expect("socketpair");
    let child_fd = child_end.as_raw_fd();
    let mut cmd = tokio::process::Command::new("node");
    cmd.arg(fixture(script))
        .env("NODE_UNIQUE_ID", id.to_string())
        .env("NODE_CHANNEL_FD", "3")
        .env("NODE_CHANNEL_SERIALIZATION_MODE", "json")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .kill_on_drop(true);
    // SAFETY: only async-signal-safe calls (dup2, fcntl) between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if child_fd == 3 {
                let fl = libc::fcntl(3, libc::F_GETFD);
                libc::fcntl(3, libc::F_SETFD, fl & !libc::FD_CLOEXEC);
            } else if libc::dup2(child_fd, 3) < 0 {
                return Err(io::Error::last_os_error());
            }
            let fl = libc::fcntl(3, libc::F_GETFL);
            libc::fcntl(3, libc::F_SETFL, fl & !libc::O_NONBLOCK);
            Ok(())
        });
    }
    let mut child = cmd.spawn().expect("spawn node");
    drop(child_end);
    let pid = child.id().expect("pid");
    let (mut reader, writer) = open(parent).expect("channel");
    let w = p.attach(id, writer.clone());
    let (ev_tx, events) = mpsc::unbounded_channel();
    let (primary, wr) = (p.clone(), w.clone());
    let reader = tokio::spawn(async move {
        while let Ok(Some(m)) = reader.recv().await {
            let Ok(v) = serde_json::from_str::<Value>(&m.line) else {
                continue;
            };
            if v.get("cmd").and_then(Value::as_str) == Some("NODE_HANDLE") {
                let _ = writer.answer_handle(m.fd.is_some()).await;
            } else if Primary::is_cluster_message(&v) {
                if let Some(e) = primary.on_message(&wr, &v).await {
                    let _ = ev_tx.send(e);
                }
            }
        }
    });
    let (out_tx, out) = mpsc::unbounded_channel();
    let stdout = child.stdout.take().expect("stdout");
    tokio::spawn(async move {
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        while let Ok(Some(l)) = lines.next_line().await {
            if let Ok(v) = serde_json::from_str::<Value>(&l) {
                let _ = out_tx.send(v);
            }
        }
    });
    TestWorker {
        id,
        pid,
        w,
        child,
        out,
        events,
        reader: Some(reader),
    }
}

impl TestWorker {
    /// The value of `field` in the next stdout object that has it.
    async fn said(&mut self, field: &str) -> Value {
        self.line(field).await[field].clone()
    }

    /// The next stdout object that has `field`.
    async fn line(&mut self, field: &str) -> Value {
        let until = tokio::time::Instant::now() + DEADLINE;
        loop {
            let v = tokio::time::timeout_at(until, self.out.recv())
                .await
                .unwrap_or_else(|_| panic!("worker {} never said {field}", self.id))
                .unwrap_or_else(|| panic!("worker {} closed stdout before {field}", self.id));
            if v.get(field).is_some() {
                return v;
            }
        }
    }

    async fn event(&mut self) -> ClusterEvent {
        tokio::time::timeout(DEADLINE, self.events.recv())
            .await
            .expect("cluster event in time")
            .expect("event channel open")
    }

    async fn listening(&mut self) -> ClusterEvent {
        loop {
            let e = self.event().await;
            if matches!(e, ClusterEvent::Listening { .. }) {
                return e;
            }
        }
    }

    /// Waits for exit and for the reader to drain the channel (so every `close` is seen).
    async fn exit_code(&mut self) -> Option<i32> {
        let status = tokio::time::timeout(DEADLINE, self.child.wait())
            .await
            .expect("worker exits in time")
            .expect("wait");
        if let Some(r) = self.reader.take() {
            tokio::time::timeout(DEADLINE, r)
                .await
                .expect("channel reaches EOF")
                .expect("reader task");
        }
        status.code()
    }

    async fn check_identity(&mut self) {
        let who = self.line("isWorker").await;
        assert_eq!(who["isWorker"], json!(true), "cluster.isWorker");
        assert_eq!(
            who["id"],
            json!(self.id),
            "cluster.worker.id is NODE_UNIQUE_ID"
        );
        assert_eq!(who["pid"], json!(self.pid));
    }
}

fn request(mut s: impl Read + Write) -> io::Result<u32> {
    s.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")?;
    let mut buf = String::new();
    s.read_to_string(&mut buf)?;
    let body = buf.split("\r\n\r\n").nth(1).unwrap_or("");
    body.trim()
        .parse()
        .map_err(|_| io::Error::other(format!("bad response {buf:?}")))
}

fn get(addr: SocketAddr) -> io::Result<u32> {
    let s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    request(s)
}

/// At least `n` requests from 4 threads, continuing until every pid in `want` answered.
async fn load(addr: SocketAddr, n: usize, want: Vec<u32>) -> HashMap<u32, usize> {
    tokio::task::spawn_blocking(move || {
        let until = Instant::now() + DEADLINE;
        let mut seen: HashMap<u32, usize> = HashMap::new();
        while seen.values().sum::<usize>() < n || !want.iter().all(|p| seen.contains_key(p)) {
            assert!(
                Instant::now() < until,
                "pids {want:?} not all seen: {seen:?}"
            );
            let batch: Vec<_> = (0..4)
                .map(|_| std::thread::spawn(move || (0..25).map(|_| get(addr)).collect::<Vec<_>>()))
                .collect();
            for t in batch {
                for r in t.join().expect("client thread") {
                    *seen.entry(r.expect("request served")).or_default() += 1;
                }
            }
        }
        seen
    })
    .await
    .expect("load task")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

fn local(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

#[tokio::test(flavor = "current_thread")]
async fn two_workers_share_one_port_and_release_it() {
    let p = Primary::new();
    let port = free_port();
    let env = [
        ("PORT", port.to_string()),
        ("HOST", "127.0.0.1".to_string()),
    ];
    let mut a = spawn_worker(&p, "http_worker.js", &env);
    let mut b = spawn_worker(&p, "http_worker.js", &env);
    assert_eq!((a.id, b.id), (1, 2), "ids are 1-based and fresh");
    for w in [&mut a, &mut b] {
        w.check_identity().await;
        assert_eq!(w.event().await, ClusterEvent::Online);
        let l = w.listening().await;
        assert_eq!(
            l,
            ClusterEvent::Listening {
                address: Some("127.0.0.1".into()),
                port: Some(port)
            }
        );
    }
    let key = format!("127.0.0.1:{port}:4:undefined:0");
    assert_eq!(p.listeners(), vec![(key, vec![a.id, b.id])]);

    let seen = load(local(port), 200, vec![a.pid, b.pid]).await;
    assert_eq!(seen.len(), 2, "only the two workers answer: {seen:?}");

    p.disconnect(&a.w).await.expect("disconnect a");
    assert_eq!(a.exit_code().await, Some(0));
    assert_eq!(p.listeners().len(), 1, "b still holds the key");
    assert!(
        std::net::TcpListener::bind(local(port)).is_err(),
        "still bound"
    );
    get(local(port)).expect("b still serves");
    p.disconnect(&b.w).await.expect("disconnect b");
    assert_eq!(b.exit_code().await, Some(0));
    // Released on the workers' `close` messages, before anyone calls worker_gone.
    assert!(p.listeners().is_empty());
    std::net::TcpListener::bind(local(port)).expect("port free after the last worker");
    p.worker_gone(a.id);
    p.worker_gone(b.id);
}

#[tokio::test(flavor = "current_thread")]
async fn port_zero_is_one_random_port_for_all_workers() {
    let p = Primary::new();
    let env = [("PORT", "0".to_string()), ("HOST", "127.0.0.1".to_string())];
    let mut a = spawn_worker(&p, "http_worker.js", &env);
    let mut b = spawn_worker(&p, "http_worker.js", &env);
    let pa = a.said("listening").await;
    let pb = b.said("listening").await;
    assert_eq!(pa, pb, "same port in both workers");
    let port = pa
        .as_u64()
        .and_then(|p| u16::try_from(p).ok())
        .expect("a port");
    assert_ne!(port, 0);
    assert_eq!(
        a.listening().await,
        ClusterEvent::Listening {
            address: Some("127.0.0.1".into()),
            port: Some(port)
        }
    );
    load(local(port), 50, vec![a.pid, b.pid]).await;
    for w in [&mut a, &mut b] {
        p.disconnect(&w.w).await.expect("disconnect");
        assert_eq!(w.exit_code().await, Some(0));
    }
    assert!(p.listeners().is_empty());
}

#[tokio::test(flavor = "current_thread")]
async fn eaddrinuse_reaches_the_worker_as_an_error_event() {
    let p = Primary::new();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let env = [
        ("PORT", port.to_string()),
        ("HOST", "127.0.0.1".to_string()),
    ];
    let mut w = spawn_worker(&p, "http_worker.js", &env);
    let err = w.line("error").await;
    assert_eq!(
        (&err["error"], &err["syscall"]),
        (&json!("EADDRINUSE"), &json!("bind"))
    );
    assert!(p.listeners().is_empty(), "a failed bind keeps nothing");
    p.disconnect(&w.w).await.expect("disconnect");
    assert_eq!(w.exit_code().await, Some(0));
    p.worker_gone(w.id);
}

#[tokio::test(flavor = "current_thread")]
async fn worker_initiated_disconnect_is_acknowledged() {
    let p = Primary::new();
    let env = [
        ("PORT", "0".to_string()),
        ("HOST", "127.0.0.1".to_string()),
        ("SELF_DISCONNECT", "1".to_string()),
    ];
    let mut w = spawn_worker(&p, "http_worker.js", &env);
    loop {
        if w.event().await == ClusterEvent::ExitedAfterDisconnect {
            break;
        }
    }
    // Without our ack the worker would never disconnect, and never exit.
    assert_eq!(w.exit_code().await, Some(0));
    assert!(p.listeners().is_empty());
}

#[tokio::test(flavor = "current_thread")]
async fn reload_loses_no_connection() {
    let p = Primary::new();
    let port = free_port();
    let env = [
        ("PORT", port.to_string()),
        ("HOST", "127.0.0.1".to_string()),
    ];
    let mut old = spawn_worker(&p, "http_worker.js", &env);
    old.listening().await;

    // Sequential clients for the whole reload, counting failures.
    let stop = Arc::new(AtomicBool::new(false));
    let served = Arc::new(AtomicUsize::new(0));
    let client = {
        let (stop, served) = (stop.clone(), served.clone());
        std::thread::spawn(move || {
            let mut errors = Vec::new();
            let mut pids = BTreeSet::new();
            while !stop.load(Ordering::Relaxed) {
                match get(local(port)) {
                    Ok(pid) => {
                        pids.insert(pid);
                        served.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => errors.push(e.to_string()),
                }
            }
            (pids, errors)
        })
    };
    let wait_served = |n: usize| {
        let served = served.clone();
        async move {
            let start = served.load(Ordering::Relaxed);
            let until = Instant::now() + DEADLINE;
            while served.load(Ordering::Relaxed) < start + n {
                assert!(Instant::now() < until, "requests stalled");
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    };
    wait_served(50).await;
    let mut new = spawn_worker(&p, "http_worker.js", &env);
    new.listening().await;
    p.disconnect(&old.w).await.expect("disconnect old");
    assert_eq!(old.exit_code().await, Some(0));
    p.worker_gone(old.id);
    wait_served(100).await;
    stop.store(true, Ordering::Relaxed);
    let (pids, errors) = tokio::task::spawn_blocking(move || client.join().expect("client"))
        .await
        .expect("join");
    assert!(
        errors.is_empty(),
        "failed requests during reload: {errors:?}"
    );
    assert!(pids.contains(&new.pid), "the new worker served: {pids:?}");
    p.disconnect(&new.w).await.expect("disconnect new");
    assert_eq!(new.exit_code().await, Some(0));
    assert!(p.listeners().is_empty());
}

#[tokio::test(flavor = "current_thread")]
async fn unix_socket_path_is_shared_and_removed() {
    let p = Primary::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("app.sock");
    let env = [("SOCKET_PATH", path.display().to_string())];
    let mut a = spawn_worker(&p, "http_worker.js", &env);
    let mut b = spawn_worker(&p, "http_worker.js", &env);
    for w in [&mut a, &mut b] {
        assert_eq!(
            w.listening().await,
            ClusterEvent::Listening {
                address: Some(path.display().to_string()),
                port: None
            }
        );
    }
    let target = path.clone();
    let pids = tokio::task::spawn_blocking(move || {
        let until = Instant::now() + DEADLINE;
        let mut pids = BTreeSet::new();
        while pids.len() < 2 {
            assert!(Instant::now() < until, "both workers answer on the socket");
            let s = std::os::unix::net::UnixStream::connect(&target).expect("connect");
            pids.insert(request(s).expect("served"));
        }
        pids
    })
    .await
    .expect("client");
    assert_eq!(pids, BTreeSet::from([a.pid, b.pid]));
    for w in [&mut a, &mut b] {
        p.disconnect(&w.w).await.expect("disconnect");
        assert_eq!(w.exit_code().await, Some(0));
    }
    assert!(p.listeners().is_empty());
    assert!(!path.exists(), "the socket file goes with the last worker");
}

#[tokio::test(flavor = "current_thread")]
async fn udp_socket_is_shared() {
    let p = Primary::new();
    let env = [("PORT", "0".to_string())];
    let mut a = spawn_worker(&p, "udp_worker.js", &env);
    let mut b = spawn_worker(&p, "udp_worker.js", &env);
    let pa = a.said("listening").await;
    assert_eq!(pa, b.said("listening").await, "one socket, one port");
    let port = pa
        .as_u64()
        .and_then(|p| u16::try_from(p).ok())
        .expect("port");
    assert_eq!(
        p.listeners(),
        vec![("127.0.0.1:0:udp4:-1:0".to_string(), vec![a.id, b.id])]
    );
    let pids = tokio::task::spawn_blocking(move || {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").expect("udp");
        s.set_read_timeout(Some(Duration::from_millis(500)))
            .expect("timeout");
        let until = Instant::now() + DEADLINE;
        let mut pids = BTreeSet::new();
        let mut buf = [0u8; 64];
        while pids.len() < 2 && Instant::now() < until {
            s.send_to(b"?", local(port)).expect("send");
            if let Ok(n) = s.recv(&mut buf) {
                if let Ok(pid) = String::from_utf8_lossy(&buf[..n]).parse::<u32>() {
                    pids.insert(pid);
                }
            }
        }
        pids
    })
    .await
    .expect("client");
    assert!(!pids.is_empty(), "a worker answered over UDP");
    assert!(pids.is_subset(&BTreeSet::from([a.pid, b.pid])));
    for w in [&mut a, &mut b] {
        p.disconnect(&w.w).await.expect("disconnect");
        assert_eq!(w.exit_code().await, Some(0));
    }
    assert!(p.listeners().is_empty());
}

/// Everything `peer` can read now, as lines (a plain read drops any passed fds).
fn drain(peer: &mut std::os::unix::net::UnixStream) -> Vec<Value> {
    let mut buf = vec![0u8; 65536];
    let mut text = Vec::new();
    loop {
        match peer.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => text.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) => panic!("read: {e}"),
        }
    }
    text.split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).expect("json line"))
        .collect()
}

fn query(seq: u64, port: u16, index: u64, data: &str) -> Value {
    json!({"cmd":"NODE_CLUSTER","act":"queryServer","index":index,"data":data,
           "address":"127.0.0.1","port":port,"addressType":4,"backlog":511,"seq":seq})
}

#[tokio::test(flavor = "current_thread")]
async fn one_unacked_handle_per_channel() {
    let p = Primary::new();
    let (ours, theirs) = pair().expect("pair");
    let (_r, writer) = open(ours).expect("open");
    let mut peer = std::os::unix::net::UnixStream::from(theirs);
    let w = p.attach(p.next_worker_id(), writer);
    // Two servers in one worker: two keys, two handles.
    assert_eq!(p.on_message(&w, &query(1, 0, 0, "tls-a")).await, None);
    assert_eq!(p.on_message(&w, &query(2, 0, 1, "x")).await, None);
    let first = drain(&mut peer);
    assert_eq!(
        first.len(),
        1,
        "the second handle waits for the ACK: {first:?}"
    );
    assert_eq!(first[0]["cmd"], "NODE_HANDLE");
    assert_eq!(first[0]["type"], "net.Native");
    assert_eq!(first[0]["msg"]["ack"], 1);
    assert_eq!(first[0]["msg"]["errno"], 0);
    let ack = json!({"cmd":"NODE_HANDLE_ACK"});
    p.on_message(&w, &ack).await;
    let second = drain(&mut peer);
    assert_eq!(second.len(), 1);
    assert_eq!(second[0]["msg"]["ack"], 2);
    // A NACK (the fd got lost) sends the same handle again.
    p.on_message(&w, &json!({"cmd":"NODE_HANDLE_NACK"})).await;
    assert_eq!(drain(&mut peer), second);
    p.on_message(&w, &ack).await;

    // A second worker on the first key gets the first worker's server data.
    let (ours2, theirs2) = pair().expect("pair");
    let (_r2, writer2) = open(ours2).expect("open");
    let mut peer2 = std::os::unix::net::UnixStream::from(theirs2);
    let w2 = p.attach(p.next_worker_id(), writer2);
    let key = first[0]["msg"]["key"].clone();
    p.on_message(&w2, &query(7, 0, 0, "tls-b")).await;
    let reply = drain(&mut peer2);
    assert_eq!(reply[0]["msg"]["key"], key);
    assert_eq!(reply[0]["msg"]["data"], "tls-a");
    assert_eq!(p.listeners().len(), 2);
    p.worker_gone(w.id);
    assert_eq!(p.listeners().len(), 1, "w2 still holds the first key");
    p.worker_gone(w2.id);
    assert!(p.listeners().is_empty());
}

#[test]
fn keys_follow_primary_js() {
    let q = json!({"act":"queryServer","index":0,"data":null,"address":null,"port":3000,
                   "addressType":4,"backlog":0,"seq":1});
    assert_eq!(key_of(&q), "null:3000:4:undefined:0");
    let u = json!({"address":"/tmp/s","port":-1,"addressType":-1,"index":1});
    assert_eq!(key_of(&u), "/tmp/s:-1:-1:undefined:1");
    assert!(bind(&json!({"fd": 5, "port": null, "addressType": null})).is_err());
    assert!(falsy(&json!("")) && falsy(&json!(null)) && !falsy(&json!({})));
}
