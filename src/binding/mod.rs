//! The napi surface: the only place that knows about Node. It converts types and calls the
//! modules that the CLI and daemon use.
//!
//! - [`child`]: library-mode `fork()` (DESIGN.md §7): a Node child spawned and supervised on
//!   the addon's tokio runtime, its IPC channel read and written here, not by `child_process`.
//! - [`daemon`]: the daemon client behind the pm2 programmatic API (`lib/pm2.js`), and its bus.

pub mod child;
pub mod daemon;

use napi_derive::napi;

/// The package version (the same as `pm --version`).
#[napi]
pub fn version() -> String {
    crate::protocol::VERSION.to_string()
}

/// The client/daemon protocol version this addon speaks.
#[napi]
pub fn protocol_version() -> u32 {
    crate::protocol::PROTOCOL_VERSION
}

/// How many workers a pool of this kind gets: `cpu` = cores, `io` = 2 × cores, `mixed` =
/// 1.5 × cores (the daemon's `--workload` rule, so the CLI and the library agree).
#[napi]
pub fn workload_size(workload: String) -> napi::Result<u32> {
    crate::sys::workload::workload_instances(&workload, crate::sys::workload::cores())
        .map_err(napi::Error::from_reason)
}
