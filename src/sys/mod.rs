//! Leaf helpers every layer may use (CLI, daemon, supervisor, library): signal names, finding
//! programs, `/proc` readers, cron, file-safe names, workload sizing, the clock, systemd's
//! notify socket, splitting a string into words. Nothing here imports another pm-native module,
//! so using one never drags in the daemon or the napi surface.

pub mod clock;
pub mod cron;
pub mod names;
pub mod notify;
pub mod proc;
pub mod signal;
pub mod sock;
pub mod user;
pub mod which;
pub mod words;
pub mod workload;
pub mod zone;
