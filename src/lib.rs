#![deny(clippy::all)]
//! pm-native: a native PM2. The `pm` binary (CLI and daemon) and the Node addon are built from
//! this one crate; see DESIGN.md for how the pieces fit.

pub mod cli;
pub mod config;
pub mod daemon;
pub mod ipc;
pub mod logs;
pub mod metrics;
pub mod protocol;
pub mod supervisor;

pub mod binding;
