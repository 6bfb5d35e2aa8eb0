#![deny(clippy::all)]
//! pm-native: a native PM2. The `pm` binary (CLI and daemon) and the Node addon are built from
//! this one crate; see DESIGN.md for how the pieces fit.

/// `eprintln!` that cannot panic. The daemon's stderr is `pm.log`: `eprintln!` panics when the
/// write fails, so a full disk under the home would take down whichever task tried to log it
/// (an instance's supervisor, a connection, or the daemon itself).
macro_rules! elog {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($t)*);
    }};
}

pub mod cli;
pub mod config;
pub mod daemon;
pub mod ipc;
pub mod keeper;
pub mod logs;
pub mod metrics;
pub mod process;
pub mod protocol;
pub mod queue;
pub mod runtime;
pub mod startup;
pub mod supervisor;
pub mod sys;

pub mod binding;
