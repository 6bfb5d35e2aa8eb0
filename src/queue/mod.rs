//! Message queues brokered by the daemon: named queues with priorities, delays, at-least-once
//! delivery (ack / nack, a visibility timeout, jobs of a closed connection back at once), a
//! bounded length, and a journal in the home (see [`journal`]). Clients speak
//! [`crate::protocol::queue`] over `rpc.sock`; [`session`] serves one connection, [`broker`]
//! owns the queues, [`state`] is the rules as plain data; [`app`] reads an app's `queue:` (an
//! ecosystem app that consumes one).

pub mod app;
pub mod broker;
pub mod journal;
pub mod session;
pub mod state;
