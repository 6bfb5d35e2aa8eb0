//! `pm queue ls | stats | peek <name> | purge <name>`: the daemon's message queues, drawn with
//! the same box table as `pm ls`. Each command is one queue request on its own connection.

use anyhow::bail;
use clap::Subcommand;
use comfy_table::{CellAlignment, ContentArrangement, Table};

use super::client::Client;
use super::Out;
use crate::config::Home;
use crate::protocol::queue::{check_name, Delivery, QueueOp, QueueReply, QueueStats};
use crate::protocol::{Request, Response};

#[derive(Debug, Clone, Subcommand)]
pub enum QueueCmd {
    /// The queues and how many jobs wait in each.
    #[command(visible_alias = "list")]
    Ls {
        #[arg(long)]
        json: bool,
    },
    /// Every queue's counters and rates.
    Stats {
        #[arg(long)]
        json: bool,
    },
    /// The next jobs of a queue, in delivery order, left where they are.
    Peek {
        name: String,
        /// How many.
        #[arg(short = 'n', long, default_value_t = 10)]
        count: usize,
        #[arg(long)]
        json: bool,
    },
    /// Drop a queue's waiting and delayed jobs (jobs in flight finish or come back).
    Purge { name: String },
}

fn ask(home: &Home, op: QueueOp) -> anyhow::Result<QueueReply> {
    match Client::connect(home)?.call(&Request::Queue(op))? {
        Response::Queue(QueueReply::Failed { message, .. }) => bail!("{message}"),
        Response::Queue(r) => Ok(r),
        Response::Error { message, .. } => bail!("{message}"),
        other => bail!("unexpected answer from the daemon: {other:?}"),
    }
}

/// Every queue's counters (`pm describe` shows a consumer app's).
pub fn stats(home: &Home) -> anyhow::Result<Vec<QueueStats>> {
    match ask(home, QueueOp::Stats { rid: 1 })? {
        QueueReply::Stats { queues, .. } => Ok(queues),
        other => bail!("unexpected answer from the daemon: {other:?}"),
    }
}

/// A consumer app's queue: what it declared, and the broker's depth and rates for it (shown by
/// `pm describe` and `pm monit`).
pub fn app_rows(e: &crate::protocol::Pm2Env, queues: &[QueueStats]) -> Vec<(&'static str, String)> {
    let Ok(Some(c)) = crate::queue::app::parse_value(e.options.get(crate::queue::app::KEY)) else {
        return Vec::new();
    };
    let mut rows = vec![(
        "queue",
        format!(
            "{} (concurrency {}{})",
            c.name,
            c.concurrency,
            if c.redis { ", on Redis" } else { "" }
        ),
    )];
    if c.redis {
        return rows; // its depth is Redis's: queue(name, { redis }).stats()
    }
    let s = queues
        .iter()
        .find(|s| s.name == c.name)
        .cloned()
        .unwrap_or_default();
    rows.push((
        "queue depth",
        format!(
            "{} ready, {} delayed, {} in flight",
            s.ready, s.delayed, s.in_flight
        ),
    ));
    rows.push(("queue consumers", s.consumers.to_string()));
    rows.push((
        "queue rates",
        format!("{} pushed/s, {} acked/s", s.pushed_per_sec, s.acked_per_sec),
    ));
    rows.push((
        "queue totals",
        format!(
            "{} pushed, {} acked, {} nacked, {} redelivered",
            s.pushed, s.acked, s.nacked, s.redelivered
        ),
    ));
    rows
}

fn table(headers: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset("││──├─┼┤│    ┬┴┌┐└┘")
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(headers.iter().map(|h| comfy_table::Cell::new(*h)));
    t
}

fn left(mut t: Table, n: usize) -> String {
    for i in 0..n {
        if let Some(col) = t.column_mut(i) {
            col.set_padding((1, 1));
            col.set_cell_alignment(CellAlignment::Left);
        }
    }
    t.to_string()
}

pub fn render_ls(queues: &[QueueStats]) -> String {
    let h = ["queue", "ready", "delayed", "in flight", "consumers"];
    let mut t = table(&h);
    for q in queues {
        t.add_row(vec![
            q.name.clone(),
            q.ready.to_string(),
            q.delayed.to_string(),
            q.in_flight.to_string(),
            q.consumers.to_string(),
        ]);
    }
    left(t, h.len())
}

pub fn render_stats(queues: &[QueueStats]) -> String {
    let h = [
        "queue",
        "ready",
        "delayed",
        "in flight",
        "consumers",
        "pushed",
        "acked",
        "nacked",
        "redelivered",
        "push/s",
        "ack/s",
    ];
    let mut t = table(&h);
    for q in queues {
        t.add_row(vec![
            q.name.clone(),
            q.ready.to_string(),
            q.delayed.to_string(),
            q.in_flight.to_string(),
            q.consumers.to_string(),
            q.pushed.to_string(),
            q.acked.to_string(),
            q.nacked.to_string(),
            q.redelivered.to_string(),
            q.pushed_per_sec.to_string(),
            q.acked_per_sec.to_string(),
        ]);
    }
    left(t, h.len())
}

fn render_peek(jobs: &[Delivery]) -> String {
    let h = ["id", "priority", "attempts", "data"];
    let mut t = table(&h);
    for j in jobs {
        let mut data = j.data.to_string();
        if data.chars().count() > 60 {
            data = data.chars().take(59).collect::<String>() + "…";
        }
        t.add_row(vec![
            j.id.to_string(),
            j.priority.to_string(),
            j.attempts.to_string(),
            data,
        ]);
    }
    left(t, h.len())
}

pub fn run(home: &Home, cmd: QueueCmd, out: &Out) -> anyhow::Result<i32> {
    match cmd {
        QueueCmd::Ls { json } | QueueCmd::Stats { json } if json => {
            if let QueueReply::Stats { queues, .. } = ask(home, QueueOp::Stats { rid: 1 })? {
                println!("{}", serde_json::to_string(&queues)?);
            }
        }
        QueueCmd::Ls { .. } => {
            if let QueueReply::Stats { queues, .. } = ask(home, QueueOp::Stats { rid: 1 })? {
                out.line(render_ls(&queues));
            }
        }
        QueueCmd::Stats { .. } => {
            if let QueueReply::Stats { queues, .. } = ask(home, QueueOp::Stats { rid: 1 })? {
                out.line(render_stats(&queues));
            }
        }
        QueueCmd::Peek { name, count, json } => {
            check_name(&name)?;
            let op = QueueOp::Peek {
                rid: 1,
                queue: name,
                count,
            };
            if let QueueReply::Peek { jobs, .. } = ask(home, op)? {
                if json {
                    println!("{}", serde_json::to_string(&jobs)?);
                } else {
                    out.line(render_peek(&jobs));
                }
            }
        }
        QueueCmd::Purge { name } => {
            check_name(&name)?;
            let op = QueueOp::Purge {
                rid: 1,
                queue: name.clone(),
            };
            if let QueueReply::Ok { count, .. } = ask(home, op)? {
                out.line(format!("Purged {count} jobs from queue {name}"));
            }
        }
    }
    Ok(0)
}
