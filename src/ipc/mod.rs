//! Node's IPC channel, spoken from Rust (DESIGN.md §4): a socketpair whose child end becomes the
//! app's fd 3 (`NODE_CHANNEL_FD=3`), carrying one `JSON.stringify(msg)` per line.

pub mod channel;
pub mod cluster;
pub mod lines;

pub use channel::{open, pair, Incoming, Reader, Writer};
