//! The child-process core that the daemon's supervisor and library-mode `fork()` both use: how a
//! child is spawned, waited for, stopped and judged when it exits, and when it is restarted.
//!
//! It exists so that each of those mechanics is written once. A newcomer changing how children
//! are stopped edits [`stop`]; how they are started, [`spawn`]. What is particular to one face
//! stays with it: the daemon's supervisor keeps logs, metrics, cluster, watch, cron and memory
//! checks (and the polite first steps of a stop: cluster `disconnect`, the `shutdown` message);
//! the napi surface keeps reading the channel on Node's loop, the outbox and its events.
//!
//! Nothing here imports the daemon, the protocol or napi, so both faces can depend on it without
//! dragging the other in.
//!
//! - [`spawn`]: a [`Command`] builder with the one `pre_exec` (own process group, Node's channel
//!   on fd 3, no other inherited descriptors).
//! - [`child`]: a [`Child`] handle; exits are watched through a pidfd (see there for why).
//! - [`stop`]: signal the group, SIGKILL after the grace period, wait out the group.
//! - [`exit`]: one [`Exit`] from which pm2's `code || signal` and Node's `(code, signal)` follow.
//! - [`policy`]: pm2's restart decisions, as pure functions.

pub mod child;
pub mod exit;
pub mod policy;
pub mod spawn;
pub mod stop;

pub use child::Child;
pub use exit::Exit;
pub use spawn::{Command, Spawned};
