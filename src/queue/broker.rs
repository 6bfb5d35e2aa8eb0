//! The broker: one task owning the [`State`], and a writer task owning the [`Journal`].
//! Sessions send the broker commands; it takes every command already waiting as one batch,
//! applies them, and hands the batch's records to the writer, which appends whatever has
//! queued up with one fsync (group commit) and reports back. Pushed jobs stay pending (not
//! deliverable, no answer yet) until then; acks, nacks and deliveries of jobs already on disk
//! go on meanwhile, so consumers are never held up by the disk. A push is acknowledged only
//! once it is on disk, and a job is never delivered before it would survive a crash.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use tokio::sync::mpsc;

use super::journal::{self, Journal};
use super::state::{Nack, Record, Sid, State};
use crate::protocol::queue::{QueueOp, QueueReply, DEFAULT_VISIBILITY_MS};
use crate::protocol::Error;

/// Commands taken in one batch at most (one fsync for all of them).
const BATCH: usize = 4096;

pub enum Cmd {
    Open {
        sid: Sid,
        tx: mpsc::UnboundedSender<QueueReply>,
    },
    Op {
        sid: Sid,
        op: QueueOp,
    },
    Close {
        sid: Sid,
    },
    /// The writer finished the appends up to `token`.
    Durable {
        token: u64,
        error: Option<String>,
        size: u64,
        lines: u64,
    },
}

/// What the writer is asked to do, in order.
enum Write {
    Append {
        buf: Vec<u8>,
        lines: u64,
        sync: bool,
        token: u64,
    },
    Rewrite(Vec<Record>),
}

pub struct Broker {
    tx: mpsc::UnboundedSender<Cmd>,
    next_sid: AtomicU64,
}

static BROKER: OnceLock<Broker> = OnceLock::new();

/// The daemon's broker, started (and its journal read) on the first queue request.
pub fn broker(journal: PathBuf) -> &'static Broker {
    BROKER.get_or_init(|| {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(journal, rx, tx.clone()));
        Broker {
            tx,
            next_sid: AtomicU64::new(1),
        }
    })
}

/// Every queue's counters, for `/metrics`: empty while no queue was ever used in this home
/// (the broker, and its journal read, start only then).
pub async fn stats(journal: PathBuf) -> Vec<crate::protocol::queue::QueueStats> {
    if BROKER.get().is_none() && !journal.exists() {
        return Vec::new();
    }
    let b = broker(journal);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let sid = b.open(tx);
    b.op(sid, QueueOp::Stats { rid: 0 });
    let got = tokio::time::timeout(Duration::from_secs(2), async {
        while let Some(reply) = rx.recv().await {
            if let QueueReply::Stats { queues, .. } = reply {
                return queues;
            }
        }
        Vec::new()
    })
    .await
    .unwrap_or_default();
    b.close(sid);
    got
}

impl Broker {
    pub fn open(&self, tx: mpsc::UnboundedSender<QueueReply>) -> Sid {
        let sid = self.next_sid.fetch_add(1, Ordering::Relaxed);
        let _ = self.tx.send(Cmd::Open { sid, tx });
        sid
    }

    pub fn op(&self, sid: Sid, op: QueueOp) {
        let _ = self.tx.send(Cmd::Op { sid, op });
    }

    pub fn close(&self, sid: Sid) {
        let _ = self.tx.send(Cmd::Close { sid });
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Appends in order; everything queued while an fsync ran shares the next one.
async fn writer(
    mut journal: Journal,
    mut rx: mpsc::UnboundedReceiver<Write>,
    done: mpsc::UnboundedSender<Cmd>,
) {
    while let Some(first) = rx.recv().await {
        let mut next = Some(first);
        let mut buf = Vec::new();
        let (mut lines, mut sync, mut token) = (0, false, None);
        while let Some(w) = next.take() {
            match w {
                Write::Append {
                    buf: b,
                    lines: l,
                    sync: s,
                    token: t,
                } => {
                    buf.extend_from_slice(&b);
                    lines += l;
                    sync |= s;
                    token = Some(t);
                    next = rx.try_recv().ok();
                }
                Write::Rewrite(records) => {
                    // Appends before it first, so the rewrite sees the file they belong to.
                    let error = journal
                        .append(std::mem::take(&mut buf), lines, sync)
                        .await
                        .err();
                    if let Some(t) = token.take() {
                        let _ = done.send(durable(&journal, t, error));
                    }
                    lines = 0;
                    sync = false;
                    if let Err(e) = journal.rewrite(records).await {
                        elog!(
                            "cannot compact the queue journal ({} bytes): {e}",
                            journal.size()
                        );
                    }
                    next = rx.try_recv().ok();
                }
            }
        }
        let error = journal.append(buf, lines, sync).await.err();
        if let Some(t) = token {
            let _ = done.send(durable(&journal, t, error));
        }
    }
}

fn durable(journal: &Journal, token: u64, error: Option<std::io::Error>) -> Cmd {
    Cmd::Durable {
        token,
        error: error.map(|e| format!("cannot write the queue journal: {e}")),
        size: journal.size(),
        lines: journal.lines(),
    }
}

async fn run(path: PathBuf, mut rx: mpsc::UnboundedReceiver<Cmd>, me: mpsc::UnboundedSender<Cmd>) {
    let opened = tokio::task::spawn_blocking({
        let path = path.clone();
        move || Journal::open(&path)
    })
    .await
    .map_err(std::io::Error::other)
    .and_then(|r| r);
    let (journal, records) = match opened {
        Ok(x) => x,
        Err(e) => {
            let why = format!("cannot open the queue journal {}: {e}", path.display());
            elog!("{why}");
            return refuse_all(rx, why).await;
        }
    };
    let mut state = State::default();
    let now = now_ms();
    for r in records {
        state.replay(r, now);
    }
    let (wtx, wrx) = mpsc::unbounded_channel();
    tokio::spawn(writer(journal, wrx, me));
    let mut b = Actor {
        state,
        writer: wtx,
        sessions: HashMap::new(),
        token: 0,
        waiting: HashMap::new(),
        compacting: false,
    };
    let mut batch = Vec::with_capacity(64);
    loop {
        let next = b.state.tick(now_ms());
        let first = match next {
            Some(due) => {
                let wait = Duration::from_millis(due.saturating_sub(now_ms()));
                match tokio::time::timeout(wait, rx.recv()).await {
                    Ok(c) => c,
                    Err(_) => {
                        b.deliver();
                        continue;
                    }
                }
            }
            None => rx.recv().await,
        };
        let Some(first) = first else { return };
        batch.push(first);
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(c) => batch.push(c),
                Err(_) => break,
            }
        }
        b.apply(std::mem::take(&mut batch)).await;
    }
}

/// Without a journal nothing can be made durable: every request is refused with the reason.
async fn refuse_all(mut rx: mpsc::UnboundedReceiver<Cmd>, why: String) {
    let mut sessions = HashMap::new();
    while let Some(cmd) = rx.recv().await {
        match cmd {
            Cmd::Open { sid, tx } => {
                sessions.insert(sid, tx);
            }
            Cmd::Close { sid } => {
                sessions.remove(&sid);
            }
            Cmd::Durable { .. } => {}
            Cmd::Op { sid, op } => {
                if let Some(tx) = sessions.get(&sid) {
                    let _ = tx.send(QueueReply::failed(op.rid(), Error::failed(why.clone())));
                }
            }
        }
    }
}

struct Actor {
    state: State,
    writer: mpsc::UnboundedSender<Write>,
    sessions: HashMap<Sid, mpsc::UnboundedSender<QueueReply>>,
    /// The last append handed to the writer.
    token: u64,
    /// Push answers per append, sent once it is on disk.
    waiting: HashMap<u64, Vec<(Sid, QueueReply)>>,
    compacting: bool,
}

impl Actor {
    fn send(&self, sid: Sid, reply: QueueReply) {
        if let Some(tx) = self.sessions.get(&sid) {
            let _ = tx.send(reply);
        }
    }

    async fn apply(&mut self, batch: Vec<Cmd>) {
        let now = now_ms();
        let mut records: Vec<Record> = Vec::new();
        let mut sync = false;
        // An answer to an op that wrote to the journal waits for it: a push for the fsync, an
        // ack or nack for the write, so a daemon killed right after answering cannot hand an
        // acknowledged job out again. The rest go at once.
        let mut journaled: Vec<(Sid, QueueReply)> = Vec::new();
        for cmd in batch {
            match cmd {
                Cmd::Open { sid, tx } => {
                    self.sessions.insert(sid, tx);
                }
                Cmd::Close { sid } => {
                    self.sessions.remove(&sid);
                    self.state.close(sid, now);
                }
                Cmd::Durable {
                    token,
                    error,
                    size,
                    lines,
                } => self.durable(token, error, size, lines, now),
                Cmd::Op { sid, op } => {
                    let rid = op.rid();
                    let written = records.len();
                    match self.op(sid, op, now, &mut records) {
                        Ok(Some(reply @ QueueReply::Pushed { .. })) => {
                            sync = true;
                            journaled.push((sid, reply));
                        }
                        Ok(Some(reply)) if records.len() > written => journaled.push((sid, reply)),
                        Ok(Some(reply)) => self.send(sid, reply),
                        Ok(None) => {}
                        Err(e) => self.send(sid, QueueReply::failed(rid, e)),
                    }
                }
            }
        }
        if !records.is_empty() {
            self.token += 1;
            let lines = records.len() as u64;
            let mut buf = Vec::with_capacity(records.len() * 64);
            journal::encode(records, &mut buf);
            if !journaled.is_empty() {
                self.waiting.insert(self.token, journaled);
            }
            let _ = self.writer.send(Write::Append {
                buf,
                lines,
                sync,
                token: self.token,
            });
        }
        self.deliver();
    }

    /// The writer has every append up to `token` on disk (or failed to write them).
    fn durable(&mut self, token: u64, error: Option<String>, size: u64, lines: u64, now: u64) {
        let done: Vec<u64> = self
            .waiting
            .keys()
            .copied()
            .filter(|t| *t <= token)
            .collect();
        for t in done {
            for (sid, mut reply) in self.waiting.remove(&t).unwrap_or_default() {
                if let QueueReply::Pushed { rid, ids, .. } = &mut reply {
                    match &error {
                        None => self.state.commit(ids, now),
                        Some(why) => {
                            // Nothing of it can be promised: refused and dropped.
                            self.state.drop_jobs(ids);
                            reply = QueueReply::failed(*rid, Error::failed(why.clone()));
                        }
                    }
                }
                self.send(sid, reply);
            }
        }
        if let Some(why) = error {
            elog!("{why}");
        }
        let live = self.state.len() as u64;
        if !journal::wants_compaction(size, lines, live) {
            self.compacting = false;
        } else if !self.compacting {
            // Once: the writer's next reports still show the old size until it has rewritten.
            self.compacting = true;
            let _ = self.writer.send(Write::Rewrite(self.state.snapshot()));
        }
    }

    fn deliver(&mut self) {
        let now = now_ms();
        self.state.tick(now);
        for name in self.state.dispatchable() {
            for (sid, jobs) in self.state.dispatch(&name, now) {
                self.send(
                    sid,
                    QueueReply::Jobs {
                        queue: name.clone(),
                        jobs,
                    },
                );
            }
        }
    }

    fn op(
        &mut self,
        sid: Sid,
        op: QueueOp,
        now: u64,
        records: &mut Vec<Record>,
    ) -> Result<Option<QueueReply>, Error> {
        use crate::protocol::queue::check_name;
        Ok(Some(match op {
            QueueOp::Push {
                rid,
                queue,
                jobs,
                max_length,
            } => {
                check_name(&queue)?;
                let (ids, error) = self.state.push(&queue, jobs, max_length, now, records);
                QueueReply::Pushed { rid, ids, error }
            }
            QueueOp::Consume {
                rid,
                queue,
                concurrency,
                visibility_ms,
            } => {
                check_name(&queue)?;
                if concurrency == 0 {
                    return Err(Error::invalid(
                        "a consumer's concurrency must be at least 1",
                    ));
                }
                let vis = visibility_ms.unwrap_or(DEFAULT_VISIBILITY_MS).max(1);
                self.state.consume(sid, &queue, concurrency, vis);
                QueueReply::Ok {
                    rid,
                    count: 0,
                    missed: Vec::new(),
                }
            }
            QueueOp::Cancel {
                rid,
                queue,
                release,
            } => {
                check_name(&queue)?;
                let missed = self.state.cancel(sid, &queue, &release, now);
                QueueReply::Ok {
                    rid,
                    count: release.len() - missed.len(),
                    missed,
                }
            }
            QueueOp::Ack { rid, ids } => {
                let missed = self.state.ack(sid, &ids, now, records);
                QueueReply::Ok {
                    rid,
                    count: ids.len() - missed.len(),
                    missed,
                }
            }
            QueueOp::Nack {
                rid,
                ids,
                requeue,
                dead_letter,
                delay_ms,
            } => {
                let how = if requeue {
                    Nack::Requeue { delay_ms }
                } else if dead_letter {
                    Nack::DeadLetter
                } else {
                    Nack::Drop
                };
                let missed = self.state.nack(sid, &ids, how, now, records);
                QueueReply::Ok {
                    rid,
                    count: ids.len() - missed.len(),
                    missed,
                }
            }
            QueueOp::Stats { rid } => QueueReply::Stats {
                rid,
                queues: self.state.stats(now),
            },
            QueueOp::Peek { rid, queue, count } => {
                check_name(&queue)?;
                QueueReply::Peek {
                    rid,
                    jobs: self.state.peek(&queue, count),
                }
            }
            QueueOp::Purge { rid, queue } => {
                check_name(&queue)?;
                let count = self.state.purge(&queue, records);
                QueueReply::Ok {
                    rid,
                    count,
                    missed: Vec::new(),
                }
            }
        }))
    }
}
