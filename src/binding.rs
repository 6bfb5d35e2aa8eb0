//! The napi surface: the only place that knows about Node. It converts types and calls the
//! modules that the CLI and daemon use.

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
