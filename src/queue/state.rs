//! The broker's queues as plain data: no I/O, no clock of its own (times are passed in), so
//! every rule (priority, FIFO, delay, credit, redelivery) is a unit test. The actor in
//! [`super::broker`] owns one [`State`] and journals what it returns.

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap};

use serde_json::Value;

use crate::protocol::queue::{dead_letter_of, Delivery, NewJob, QueueStats, DEFAULT_MAX_LENGTH};
use crate::protocol::Error;

/// A session (connection) id.
pub type Sid = u64;

#[derive(Debug, Clone, PartialEq)]
pub enum Where {
    /// Pushed, not yet on disk: counted against the bound, not deliverable (due time kept).
    Pending(u64),
    Ready,
    Delayed(u64),
    /// Held by a session until the deadline (ms).
    Held {
        sid: Sid,
        deadline: u64,
    },
}

#[derive(Debug, Clone)]
pub struct Job {
    pub queue: String,
    pub data: Value,
    pub priority: i32,
    pub attempts: u32,
    pub at: Where,
}

/// Where a nacked job goes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Nack {
    Requeue { delay_ms: u64 },
    DeadLetter,
    Drop,
}

/// What the journal must record for a change, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    Push {
        id: u64,
        queue: String,
        data: Value,
        priority: i32,
        due: u64,
    },
    /// The job is gone (acked, dropped, purged).
    Remove { id: u64 },
    /// The job moved to another queue (dead letter).
    Move { id: u64, queue: String },
}

#[derive(Debug, Default)]
struct Consumer {
    sid: Sid,
    credit: u32,
    held: u32,
    visibility_ms: u64,
}

#[derive(Debug, Default)]
struct Queue {
    /// Largest priority first, then oldest id. Entries whose job has moved on are skipped.
    ready: BinaryHeap<(i32, Reverse<u64>)>,
    live: usize,
    pending: usize,
    delayed: usize,
    held: usize,
    consumers: Vec<Consumer>,
    next_consumer: usize,
    pushed: u64,
    acked: u64,
    nacked: u64,
    redelivered: u64,
    rate: Rate,
}

/// Counts per whole second: the last finished second is the rate.
#[derive(Debug, Default, Clone, Copy)]
struct Rate {
    sec: u64,
    acked_now: u64,
    pushed_now: u64,
    acked_last: u64,
    pushed_last: u64,
}

impl Rate {
    fn roll(&mut self, now_ms: u64) {
        let sec = now_ms / 1000;
        if sec != self.sec {
            let adjacent = sec == self.sec + 1;
            self.acked_last = if adjacent { self.acked_now } else { 0 };
            self.pushed_last = if adjacent { self.pushed_now } else { 0 };
            self.acked_now = 0;
            self.pushed_now = 0;
            self.sec = sec;
        }
    }
}

#[derive(Default)]
pub struct State {
    jobs: HashMap<u64, Job>,
    queues: HashMap<String, Queue>,
    /// (due or deadline ms, job id): delayed jobs to release and held jobs to take back.
    timers: BTreeSet<(u64, u64)>,
    next_id: u64,
}

impl State {
    pub fn len(&self) -> usize {
        self.jobs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.jobs.is_empty()
    }

    fn queue(&mut self, name: &str) -> &mut Queue {
        if !self.queues.contains_key(name) {
            self.queues.insert(name.to_string(), Queue::default());
        }
        self.queues.get_mut(name).expect("inserted above")
    }

    /// Replays one journal record (at start-up): no limits, no consumers yet.
    pub fn replay(&mut self, r: Record, now: u64) {
        match r {
            Record::Push {
                id,
                queue,
                data,
                priority,
                due,
            } => {
                self.next_id = self.next_id.max(id + 1);
                self.insert(id, queue, data, priority, due, now);
            }
            Record::Remove { id } => self.forget(id),
            Record::Move { id, queue } => {
                if let Some(job) = self.take(id) {
                    self.insert(id, queue, job.data, job.priority, 0, now);
                }
            }
        }
    }

    fn insert(&mut self, id: u64, queue: String, data: Value, priority: i32, due: u64, now: u64) {
        let at = if due > now {
            self.timers.insert((due, id));
            Where::Delayed(due)
        } else {
            Where::Ready
        };
        let q = self.queue(&queue);
        q.live += 1;
        match at {
            Where::Delayed(_) => q.delayed += 1,
            _ => q.ready.push((priority, Reverse(id))),
        }
        self.jobs.insert(
            id,
            Job {
                queue,
                data,
                priority,
                attempts: 0,
                at,
            },
        );
    }

    fn insert_pending(&mut self, id: u64, queue: &str, data: Value, priority: i32, due: u64) {
        let q = self.queue(queue);
        q.live += 1;
        q.pending += 1;
        self.jobs.insert(
            id,
            Job {
                queue: queue.to_string(),
                data,
                priority,
                attempts: 0,
                at: Where::Pending(due),
            },
        );
    }

    /// The journal has these pushes on disk: they may be delivered now.
    pub fn commit(&mut self, ids: &[u64], now: u64) {
        for &id in ids {
            let Some(job) = self.jobs.get(&id) else {
                continue; // purged meanwhile
            };
            let Where::Pending(due) = job.at else {
                continue;
            };
            let job = self.take(id).expect("present above");
            self.insert(id, job.queue, job.data, job.priority, due, now);
        }
    }

    /// Removes a job from wherever it is, fixing its queue's counts.
    fn take(&mut self, id: u64) -> Option<Job> {
        let job = self.jobs.remove(&id)?;
        let q = self.queues.get_mut(&job.queue)?;
        q.live -= 1;
        match &job.at {
            Where::Ready => {} // its heap entry is skipped when popped
            Where::Pending(_) => q.pending -= 1,
            Where::Delayed(due) => {
                q.delayed -= 1;
                self.timers.remove(&(*due, id));
            }
            Where::Held { sid, deadline } => {
                q.held -= 1;
                self.timers.remove(&(*deadline, id));
                if let Some(c) = q.consumers.iter_mut().find(|c| c.sid == *sid) {
                    c.held = c.held.saturating_sub(1);
                }
            }
        }
        Some(job)
    }

    fn forget(&mut self, id: u64) {
        self.take(id);
    }

    /// Takes back jobs that could not be journalled.
    pub fn drop_jobs(&mut self, ids: &[u64]) {
        for &id in ids {
            self.take(id);
        }
    }

    /// Queues jobs in order until the queue is full; returns their ids, the records to journal,
    /// and the error for the rest.
    pub fn push(
        &mut self,
        queue: &str,
        jobs: Vec<NewJob>,
        max_length: Option<usize>,
        now: u64,
        out: &mut Vec<Record>,
    ) -> (Vec<u64>, Option<Error>) {
        let max = max_length.unwrap_or(DEFAULT_MAX_LENGTH);
        let mut ids = Vec::with_capacity(jobs.len());
        for job in jobs {
            let live = self.queues.get(queue).map_or(0, |q| q.live);
            if live >= max {
                return (
                    ids,
                    Some(Error::failed(format!(
                        "queue {queue} is full: it holds {live} jobs, its maximum length is {max}"
                    ))),
                );
            }
            let id = self.next_id;
            self.next_id += 1;
            let due = if job.delay_ms > 0 {
                now + job.delay_ms
            } else {
                0
            };
            out.push(Record::Push {
                id,
                queue: queue.to_string(),
                data: job.data.clone(),
                priority: job.priority,
                due,
            });
            self.insert_pending(id, queue, job.data, job.priority, due);
            let q = self.queue(queue);
            q.pushed += 1;
            q.rate.roll(now);
            q.rate.pushed_now += 1;
            ids.push(id);
        }
        (ids, None)
    }

    pub fn consume(&mut self, sid: Sid, queue: &str, concurrency: u32, visibility_ms: u64) {
        let q = self.queue(queue);
        match q.consumers.iter_mut().find(|c| c.sid == sid) {
            Some(c) => {
                c.credit = concurrency;
                c.visibility_ms = visibility_ms;
            }
            None => q.consumers.push(Consumer {
                sid,
                credit: concurrency,
                held: 0,
                visibility_ms,
            }),
        }
    }

    /// Whether `sid` holds job `id`.
    fn holds(&self, sid: Sid, id: u64) -> bool {
        matches!(self.jobs.get(&id), Some(Job { at: Where::Held { sid: s, .. }, .. }) if *s == sid)
    }

    /// Acknowledges the jobs `sid` holds among `ids`; returns the others (timed out and handed
    /// out again, or already acked).
    pub fn ack(&mut self, sid: Sid, ids: &[u64], now: u64, out: &mut Vec<Record>) -> Vec<u64> {
        let mut missed = Vec::new();
        for &id in ids {
            if !self.holds(sid, id) {
                missed.push(id);
                continue;
            }
            if let Some(job) = self.take(id) {
                let q = self.queue(&job.queue);
                q.acked += 1;
                q.rate.roll(now);
                q.rate.acked_now += 1;
                out.push(Record::Remove { id });
            }
        }
        missed
    }

    pub fn nack(
        &mut self,
        sid: Sid,
        ids: &[u64],
        how: Nack,
        now: u64,
        out: &mut Vec<Record>,
    ) -> Vec<u64> {
        let mut missed = Vec::new();
        for &id in ids {
            if !self.holds(sid, id) {
                missed.push(id);
                continue;
            }
            let Some(job) = self.take(id) else { continue };
            self.queue(&job.queue).nacked += 1;
            if let Nack::Requeue { delay_ms } = how {
                let due = if delay_ms > 0 { now + delay_ms } else { 0 };
                let attempts = job.attempts;
                self.insert(id, job.queue, job.data, job.priority, due, now);
                if let Some(j) = self.jobs.get_mut(&id) {
                    j.attempts = attempts;
                }
                // A delayed requeue must survive a restart as delayed; a plain one is already
                // journalled where it is.
                if due > 0 {
                    out.push(Record::Remove { id });
                    let j = &self.jobs[&id];
                    out.push(Record::Push {
                        id,
                        queue: j.queue.clone(),
                        data: j.data.clone(),
                        priority: j.priority,
                        due,
                    });
                }
            } else if how == Nack::DeadLetter {
                let dead = dead_letter_of(&job.queue);
                out.push(Record::Move {
                    id,
                    queue: dead.clone(),
                });
                self.insert(id, dead, job.data, job.priority, 0, now);
            } else {
                out.push(Record::Remove { id });
            }
        }
        missed
    }

    /// Puts a held job back at the head of its priority (the next delivery counts an attempt).
    fn give_back(&mut self, id: u64, now: u64) {
        if let Some(job) = self.take(id) {
            let attempts = job.attempts;
            self.insert(id, job.queue, job.data, job.priority, 0, now);
            if let Some(j) = self.jobs.get_mut(&id) {
                j.attempts = attempts;
            }
        }
    }

    /// `sid` stops consuming `queue` (nothing more is delivered to it) and hands back `release`,
    /// jobs it was given but never started: they are ready again at once, at the head of their
    /// priority, and their next delivery does not count as another attempt. The session keeps
    /// the jobs it is still working on and acks them as usual: that is how a consumer drains.
    /// Returns the ids among `release` it did not hold.
    pub fn cancel(&mut self, sid: Sid, queue: &str, release: &[u64], now: u64) -> Vec<u64> {
        if let Some(q) = self.queues.get_mut(queue) {
            q.consumers.retain(|c| c.sid != sid);
        }
        let mut missed = Vec::new();
        for &id in release {
            if !self.holds(sid, id) {
                missed.push(id);
                continue;
            }
            self.give_back(id, now);
            if let Some(j) = self.jobs.get_mut(&id) {
                j.attempts = j.attempts.saturating_sub(1);
            }
        }
        missed
    }

    /// A session closed: its consumers go, and every job it held is ready again at once.
    pub fn close(&mut self, sid: Sid, now: u64) -> Vec<String> {
        let held: Vec<u64> = self
            .jobs
            .iter()
            .filter(|(_, j)| matches!(j.at, Where::Held { sid: s, .. } if s == sid))
            .map(|(id, _)| *id)
            .collect();
        let mut touched = Vec::new();
        for (name, q) in self.queues.iter_mut() {
            let before = q.consumers.len();
            q.consumers.retain(|c| c.sid != sid);
            if q.consumers.len() != before {
                touched.push(name.clone());
            }
        }
        for id in held {
            self.give_back(id, now);
        }
        touched
    }

    /// Releases delayed jobs that are due and takes back held jobs past their deadline.
    /// Returns the next time something is due.
    pub fn tick(&mut self, now: u64) -> Option<u64> {
        while let Some(&(t, id)) = self.timers.iter().next() {
            if t > now {
                return Some(t);
            }
            self.timers.remove(&(t, id));
            let Some(job) = self.jobs.get(&id) else {
                continue;
            };
            match job.at {
                Where::Delayed(due) if due == t => {
                    let (name, pri) = (job.queue.clone(), job.priority);
                    if let Some(j) = self.jobs.get_mut(&id) {
                        j.at = Where::Ready;
                    }
                    let q = self.queue(&name);
                    q.delayed -= 1;
                    q.ready.push((pri, Reverse(id)));
                }
                Where::Held { deadline, .. } if deadline == t => self.give_back(id, now),
                _ => {}
            }
        }
        None
    }

    /// Hands ready jobs of `queue` to its consumers with credit, round robin.
    pub fn dispatch(&mut self, queue: &str, now: u64) -> Vec<(Sid, Vec<Delivery>)> {
        let mut out: Vec<(Sid, Vec<Delivery>)> = Vec::new();
        let Some(q) = self.queues.get_mut(queue) else {
            return out;
        };
        if q.consumers.is_empty() {
            return out;
        }
        let n = q.consumers.len();
        let mut idle = 0;
        while idle < n {
            let ci = q.next_consumer % n;
            q.next_consumer = (ci + 1) % n;
            let c = &q.consumers[ci];
            if c.held >= c.credit {
                idle += 1;
                continue;
            }
            // The next ready job, skipping entries whose job moved on.
            let id = loop {
                match q.ready.pop() {
                    None => break None,
                    Some((_, Reverse(id))) => {
                        if matches!(self.jobs.get(&id), Some(j) if j.at == Where::Ready) {
                            break Some(id);
                        }
                    }
                }
            };
            let Some(id) = id else { break };
            idle = 0;
            let c = &mut q.consumers[ci];
            c.held += 1;
            q.held += 1;
            let (sid, deadline) = (c.sid, now + c.visibility_ms);
            let job = self.jobs.get_mut(&id).expect("checked above");
            job.at = Where::Held { sid, deadline };
            job.attempts += 1;
            if job.attempts > 1 {
                q.redelivered += 1;
            }
            self.timers.insert((deadline, id));
            let d = Delivery {
                id,
                data: job.data.clone(),
                priority: job.priority,
                attempts: job.attempts,
            };
            match out.iter_mut().find(|(s, _)| *s == sid) {
                Some((_, v)) => v.push(d),
                None => out.push((sid, vec![d])),
            }
        }
        out
    }

    /// Names of queues with consumers and ready jobs.
    pub fn dispatchable(&self) -> Vec<String> {
        self.queues
            .iter()
            .filter(|(_, q)| !q.consumers.is_empty() && q.live > q.delayed + q.held + q.pending)
            .map(|(n, _)| n.clone())
            .collect()
    }

    pub fn queue_of(&self, id: u64) -> Option<&str> {
        self.jobs.get(&id).map(|j| j.queue.as_str())
    }

    pub fn stats(&mut self, now: u64) -> Vec<QueueStats> {
        let mut v: Vec<QueueStats> = self
            .queues
            .iter_mut()
            .map(|(name, q)| {
                q.rate.roll(now);
                QueueStats {
                    name: name.clone(),
                    ready: q.live - q.delayed - q.held - q.pending,
                    delayed: q.delayed,
                    in_flight: q.held,
                    consumers: q.consumers.len(),
                    pushed: q.pushed,
                    acked: q.acked,
                    nacked: q.nacked,
                    redelivered: q.redelivered,
                    acked_per_sec: q.rate.acked_last,
                    pushed_per_sec: q.rate.pushed_last,
                }
            })
            .collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    }

    /// The next `count` jobs in delivery order: ready ones by priority, then delayed by due time.
    pub fn peek(&self, queue: &str, count: usize) -> Vec<Delivery> {
        let mut r: Vec<(i32, Reverse<u64>)> = Vec::new();
        let mut d: Vec<(u64, u64)> = Vec::new();
        for (id, j) in &self.jobs {
            if j.queue != queue {
                continue;
            }
            match j.at {
                Where::Ready => r.push((j.priority, Reverse(*id))),
                Where::Delayed(due) => d.push((due, *id)),
                Where::Held { .. } | Where::Pending(_) => {}
            }
        }
        r.sort_by(|a, b| b.cmp(a));
        d.sort();
        r.into_iter()
            .map(|(_, Reverse(id))| id)
            .chain(d.into_iter().map(|(_, id)| id))
            .take(count)
            .map(|id| {
                let j = &self.jobs[&id];
                Delivery {
                    id,
                    data: j.data.clone(),
                    priority: j.priority,
                    attempts: j.attempts,
                }
            })
            .collect()
    }

    /// Drops the waiting and delayed jobs of a queue.
    pub fn purge(&mut self, queue: &str, out: &mut Vec<Record>) -> usize {
        let ids: Vec<u64> = self
            .jobs
            .iter()
            .filter(|(_, j)| j.queue == queue && !matches!(j.at, Where::Held { .. }))
            .map(|(id, _)| *id)
            .collect();
        for &id in &ids {
            self.take(id);
            out.push(Record::Remove { id });
        }
        if let Some(q) = self.queues.get_mut(queue) {
            q.ready.clear();
        }
        ids.len()
    }

    /// Every live job as a push record, for compaction (held jobs are written as ready: after
    /// a restart nobody holds them).
    pub fn snapshot(&self) -> Vec<Record> {
        let mut ids: Vec<&u64> = self.jobs.keys().collect();
        ids.sort();
        ids.into_iter()
            .map(|id| {
                let j = &self.jobs[id];
                Record::Push {
                    id: *id,
                    queue: j.queue.clone(),
                    data: j.data.clone(),
                    priority: j.priority,
                    due: match j.at {
                        Where::Delayed(d) | Where::Pending(d) => d,
                        _ => 0,
                    },
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn job(v: Value) -> NewJob {
        NewJob {
            data: v,
            priority: 0,
            delay_ms: 0,
        }
    }

    /// A push made durable at once.
    fn push(
        s: &mut State,
        q: &str,
        jobs: Vec<NewJob>,
        max: Option<usize>,
        now: u64,
        rec: &mut Vec<Record>,
    ) -> (Vec<u64>, Option<Error>) {
        let (ids, err) = s.push(q, jobs, max, now, rec);
        s.commit(&ids, now);
        (ids, err)
    }

    fn ids(d: &[(Sid, Vec<Delivery>)]) -> Vec<u64> {
        d.iter().flat_map(|(_, v)| v.iter().map(|j| j.id)).collect()
    }

    #[test]
    fn fifo_within_a_priority_and_higher_priority_first() {
        let mut s = State::default();
        let mut rec = Vec::new();
        let (a, _) = push(
            &mut s,
            "q",
            vec![job(json!(1)), job(json!(2))],
            None,
            0,
            &mut rec,
        );
        let hi = NewJob {
            priority: 5,
            ..job(json!(3))
        };
        let (b, _) = push(&mut s, "q", vec![hi], None, 0, &mut rec);
        s.consume(1, "q", 10, 1000);
        let d = s.dispatch("q", 0);
        assert_eq!(ids(&d), vec![b[0], a[0], a[1]]);
        assert_eq!(rec.len(), 3);
    }

    #[test]
    fn cancel_stops_deliveries_releases_unstarted_jobs_and_keeps_the_rest() {
        let mut s = State::default();
        let mut rec = Vec::new();
        let jobs = (1..=4).map(|i| job(json!(i))).collect();
        let (a, _) = push(&mut s, "q", jobs, None, 0, &mut rec);
        s.consume(1, "q", 3, 1000);
        assert_eq!(ids(&s.dispatch("q", 0)), a[..3].to_vec());
        // Working on a[0]; a[1] and a[2] were never started.
        assert_eq!(s.cancel(1, "q", &[a[1], a[2], 99], 10), vec![99]);
        assert!(s.dispatch("q", 10).is_empty(), "no consumer left");
        assert_eq!(s.stats(10)[0].consumers, 0);
        assert_eq!(s.stats(10)[0].in_flight, 1);
        assert!(
            s.ack(1, &[a[0]], 20, &mut rec).is_empty(),
            "still acks what it kept"
        );
        s.consume(2, "q", 10, 1000);
        let d = s.dispatch("q", 30);
        assert_eq!(
            ids(&d),
            vec![a[1], a[2], a[3]],
            "released jobs first, in order"
        );
        assert!(
            d[0].1.iter().all(|j| j.attempts == 1),
            "a released job was never attempted"
        );
    }

    #[test]
    fn a_push_is_not_delivered_before_it_is_committed() {
        let mut s = State::default();
        let mut rec = Vec::new();
        let (ids, _) = s.push("q", vec![job(json!(1))], Some(1), 0, &mut rec);
        s.consume(1, "q", 10, 1000);
        assert!(s.dispatch("q", 0).is_empty(), "pending: not on disk yet");
        let (more, err) = s.push("q", vec![job(json!(2))], Some(1), 0, &mut rec);
        assert!(
            more.is_empty() && err.is_some(),
            "pending jobs count against the bound"
        );
        s.commit(&ids, 0);
        assert_eq!(super::tests::ids(&s.dispatch("q", 0)), ids);
    }

    #[test]
    fn credit_bounds_deliveries_and_ack_returns_it() {
        let mut s = State::default();
        let mut rec = Vec::new();
        push(
            &mut s,
            "q",
            (0..5).map(|i| job(json!(i))).collect(),
            None,
            0,
            &mut rec,
        );
        s.consume(1, "q", 2, 1000);
        let d = ids(&s.dispatch("q", 0));
        assert_eq!(d.len(), 2);
        assert!(s.dispatch("q", 0).is_empty());
        assert!(s.ack(1, &d[..1], 0, &mut rec).is_empty());
        assert_eq!(
            s.ack(2, &d[1..], 0, &mut rec),
            &d[1..],
            "another session cannot ack"
        );
        assert_eq!(ids(&s.dispatch("q", 0)).len(), 1);
    }

    #[test]
    fn a_closed_session_gives_its_jobs_back_at_once() {
        let mut s = State::default();
        let mut rec = Vec::new();
        push(
            &mut s,
            "q",
            vec![job(json!(1)), job(json!(2))],
            None,
            0,
            &mut rec,
        );
        s.consume(1, "q", 10, 1000);
        let first = ids(&s.dispatch("q", 0));
        assert_eq!(first.len(), 2);
        s.close(1, 5);
        s.consume(2, "q", 10, 1000);
        let d = s.dispatch("q", 5);
        assert_eq!(ids(&d), first, "same order again");
        assert!(d[0].1.iter().all(|j| j.attempts == 2));
    }

    #[test]
    fn visibility_timeout_and_delay() {
        let mut s = State::default();
        let mut rec = Vec::new();
        push(&mut s, "q", vec![job(json!(1))], None, 0, &mut rec);
        let later = NewJob {
            delay_ms: 100,
            ..job(json!(2))
        };
        push(&mut s, "q", vec![later], None, 0, &mut rec);
        s.consume(1, "q", 10, 50);
        assert_eq!(ids(&s.dispatch("q", 0)).len(), 1);
        assert_eq!(s.tick(10), Some(50));
        assert_eq!(s.tick(60), Some(100), "the held job came back");
        s.consume(1, "q", 10, 1000);
        assert_eq!(s.dispatch("q", 60)[0].1[0].attempts, 2);
        s.tick(100);
        assert_eq!(
            ids(&s.dispatch("q", 100)).len(),
            1,
            "the delayed job is due"
        );
    }

    #[test]
    fn bounded_length_refuses_the_rest_with_a_clear_error() {
        let mut s = State::default();
        let mut rec = Vec::new();
        let (got, err) = push(
            &mut s,
            "q",
            (0..5).map(|i| job(json!(i))).collect(),
            Some(3),
            0,
            &mut rec,
        );
        assert_eq!(got.len(), 3);
        let err = err.expect("full").to_string();
        assert!(
            err.contains("queue q is full") && err.contains('3'),
            "{err}"
        );
    }

    #[test]
    fn nack_requeue_dead_letter_and_replay() {
        let mut s = State::default();
        let mut rec = Vec::new();
        push(
            &mut s,
            "q",
            vec![job(json!(1)), job(json!(2))],
            None,
            0,
            &mut rec,
        );
        s.consume(1, "q", 10, 1000);
        let d = ids(&s.dispatch("q", 0));
        s.nack(1, &d[..1], Nack::Requeue { delay_ms: 0 }, 0, &mut rec);
        s.nack(1, &d[1..], Nack::DeadLetter, 0, &mut rec);
        let st = s.stats(0);
        let q = st.iter().find(|q| q.name == "q").expect("q");
        assert_eq!((q.ready, q.in_flight), (1, 0));
        let dead = st
            .iter()
            .find(|q| q.name == "q.dead")
            .expect("dead letters");
        assert_eq!(dead.ready, 1);
        let mut again = State::default();
        for r in rec {
            again.replay(r, 0);
        }
        assert_eq!(again.stats(0), {
            let mut z = s.stats(0);
            for q in &mut z {
                (q.pushed, q.nacked, q.redelivered, q.consumers) = (0, 0, 0, 0);
                q.pushed_per_sec = 0;
            }
            z
        });
    }

    #[test]
    fn purge_and_peek() {
        let mut s = State::default();
        let mut rec = Vec::new();
        push(
            &mut s,
            "q",
            (0..4).map(|i| job(json!(i))).collect(),
            None,
            0,
            &mut rec,
        );
        let p = s.peek("q", 2);
        assert_eq!(
            p.iter().map(|j| j.data.clone()).collect::<Vec<_>>(),
            vec![json!(0), json!(1)]
        );
        assert_eq!(s.purge("q", &mut rec), 4);
        assert!(s.is_empty());
    }
}
