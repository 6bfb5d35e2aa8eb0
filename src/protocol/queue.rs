//! The queue wire: what a queue client ([`QueueOp`]) and the daemon's broker ([`QueueReply`])
//! say once a connection has sent its first `{"verb":"queue",...}` request. From then on the
//! connection is a queue session: requests carry a client-chosen `rid` echoed by their reply,
//! and the broker also sends unsolicited [`QueueReply::Jobs`] frames to the session's consumers.
//! A consumer's death is its connection closing: the jobs it held go back at once.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Error;

/// Longest queue name; names are `[A-Za-z0-9_.:-]+`, so they are safe in the journal, in
/// Redis keys and in a table.
pub const MAX_NAME: usize = 128;
/// Default bound on a queue's length (ready, delayed and in flight together).
pub const DEFAULT_MAX_LENGTH: usize = 100_000;
/// Default visibility timeout: a job not acknowledged in this time is delivered again.
pub const DEFAULT_VISIBILITY_MS: u64 = 30_000;

/// Why a name is not a queue name, or nothing when it is one.
pub fn check_name(name: &str) -> Result<(), Error> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "invalid queue name {name:?}: use 1 to {MAX_NAME} characters among letters, digits, '_', '.', ':' and '-'"
        )))
    }
}

/// The dead-letter queue of `name` (where `nack({ deadLetter: true })` sends a job).
pub fn dead_letter_of(name: &str) -> String {
    format!("{name}.dead")
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewJob {
    pub data: Value,
    /// Larger first; equal priorities are first in, first out.
    #[serde(default)]
    pub priority: i32,
    /// Delivered no sooner than this many milliseconds after the push.
    #[serde(default)]
    pub delay_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum QueueOp {
    /// Appends jobs in order; answered with [`QueueReply::Pushed`] once they are on disk.
    Push {
        rid: u64,
        queue: String,
        jobs: Vec<NewJob>,
        #[serde(default)]
        max_length: Option<usize>,
    },
    /// Makes this session a consumer of `queue`, with `concurrency` jobs in flight at most.
    Consume {
        rid: u64,
        queue: String,
        concurrency: u32,
        #[serde(default)]
        visibility_ms: Option<u64>,
    },
    /// Stops this session consuming `queue` and hands back `release` (jobs given but never
    /// started); it still acks or nacks the jobs it kept. A consumer drains with it.
    Cancel {
        rid: u64,
        queue: String,
        #[serde(default)]
        release: Vec<u64>,
    },
    /// Done with these jobs (they leave the queue).
    Ack { rid: u64, ids: Vec<u64> },
    /// Not done: back to the queue (`requeue`, after `delay_ms`), to the dead-letter queue
    /// (`dead_letter`), or dropped (neither).
    Nack {
        rid: u64,
        ids: Vec<u64>,
        #[serde(default)]
        requeue: bool,
        #[serde(default)]
        dead_letter: bool,
        #[serde(default)]
        delay_ms: u64,
    },
    /// Every queue's counters.
    Stats { rid: u64 },
    /// The next `count` jobs of a queue, in delivery order, without taking them.
    Peek {
        rid: u64,
        queue: String,
        count: usize,
    },
    /// Drops a queue's waiting and delayed jobs (in-flight ones finish or come back).
    Purge { rid: u64, queue: String },
}

impl QueueOp {
    pub fn rid(&self) -> u64 {
        match self {
            QueueOp::Push { rid, .. }
            | QueueOp::Consume { rid, .. }
            | QueueOp::Cancel { rid, .. }
            | QueueOp::Ack { rid, .. }
            | QueueOp::Nack { rid, .. }
            | QueueOp::Stats { rid }
            | QueueOp::Peek { rid, .. }
            | QueueOp::Purge { rid, .. } => *rid,
        }
    }
}

/// One job handed to a consumer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Delivery {
    pub id: u64,
    pub data: Value,
    pub priority: i32,
    /// 1 on the first delivery, more when it came back (nack, timeout, a consumer that died).
    pub attempts: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct QueueStats {
    pub name: String,
    /// Waiting for a consumer.
    pub ready: usize,
    pub delayed: usize,
    pub in_flight: usize,
    pub consumers: usize,
    pub pushed: u64,
    pub acked: u64,
    pub nacked: u64,
    /// Deliveries after the first (timeouts, requeues, consumers that died).
    pub redelivered: u64,
    /// Acknowledgements in the last whole second.
    pub acked_per_sec: u64,
    /// Pushes in the last whole second.
    pub pushed_per_sec: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "q", rename_all = "snake_case")]
pub enum QueueReply {
    /// The first `ids.len()` jobs of the push were queued (and are durable); `error` says why
    /// the rest were refused (a full queue).
    Pushed {
        rid: u64,
        ids: Vec<u64>,
        #[serde(default)]
        error: Option<Error>,
    },
    /// Ack, nack, consume or purge done; `count` is how many jobs it concerned, `missed` the
    /// ids of an ack or nack this session no longer held (timed out and handed out again).
    Ok {
        rid: u64,
        count: usize,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        missed: Vec<u64>,
    },
    Stats {
        rid: u64,
        queues: Vec<QueueStats>,
    },
    Peek {
        rid: u64,
        jobs: Vec<Delivery>,
    },
    /// Jobs for the consumer of `queue` on this session.
    Jobs {
        queue: String,
        jobs: Vec<Delivery>,
    },
    Failed {
        rid: u64,
        #[serde(flatten)]
        error: Error,
        message: String,
    },
}

impl QueueReply {
    pub fn failed(rid: u64, error: Error) -> Self {
        QueueReply::Failed {
            rid,
            message: error.to_string(),
            error,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Request, Response};

    #[test]
    fn queue_ops_nest_in_requests_and_replies_in_responses() {
        let r: Request = serde_json::from_str(
            r#"{"verb":"queue","op":"push","rid":7,"queue":"jobs","jobs":[{"data":{"a":1}}]}"#,
        )
        .expect("a push parses");
        match r {
            Request::Queue(QueueOp::Push { rid, jobs, .. }) => {
                assert_eq!(rid, 7);
                assert_eq!(jobs[0].data["a"], 1);
                assert_eq!(jobs[0].priority, 0);
            }
            other => panic!("wrong request {other:?}"),
        }
        let resp = Response::Queue(QueueReply::failed(3, Error::invalid("full")));
        let json = serde_json::to_string(&resp).expect("serialises");
        assert_eq!(
            json,
            r#"{"kind":"queue","q":"failed","rid":3,"code":"invalid_input","reason":"full","message":"full"}"#
        );
        let back: Response = serde_json::from_str(&json).expect("round trip");
        assert!(matches!(
            back,
            Response::Queue(QueueReply::Failed { rid: 3, .. })
        ));
    }

    #[test]
    fn names_are_checked() {
        for good in ["jobs", "a.b:c-d_e", &"x".repeat(MAX_NAME)] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in ["", "a b", "é", "a/b", &"x".repeat(MAX_NAME + 1)] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }
}
