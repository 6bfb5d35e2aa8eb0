//! One task per process instance, owning its child (watchexec's `Job` pattern): the daemon talks
//! to it through [`Control`] messages, and reads what it publishes in [`ProcInfo`]. Exits are
//! events (the child's pidfd wakes its task), so a restart never waits for a polling interval.
//!
//! How a child is spawned, waited for, stopped and whether it is restarted are the process
//! core's ([`crate::process`]), shared with library-mode `fork()`. What is the daemon's own
//! lives here:
//!
//! - [`instance`]: the daemon's handle to a task ([`Instance`]) and the verbs it sends.
//! - `task`: the task's state and its `select!` loop (exits, restarts, watch, cron, memory).
//! - `control`: one arm per [`Control`] verb, and stopping.
//! - `launch`: starting a child and wiring it up (channel, cluster worker, pid file).
//! - `logs`: the child's stdout/stderr into log files and onto the bus.
//! - `events`: what goes on the bus ([`Event`]).
//! - `child`: the daemon's steps around the core's stop, and reading the child's channel.
//! - [`spawn`]: which program runs a script and the environment pm2 apps expect.
//! - [`state`]: what clients see of an instance; [`watch`]: restart on file changes.
//! - [`checks`]: what an app asks to be checked (probes, notify, watchdog, hang, silence);
//!   `health`: arming those checks per child, readiness gates and their verdicts; `probe`:
//!   running a probe; `notify`: the per-app `NOTIFY_SOCKET`; `monitor`: deadlines (watchdog
//!   pings, heartbeats, output).

pub mod checks;
mod child;
mod control;
mod events;
mod health;
pub mod instance;
mod launch;
mod logs;
mod monitor;
mod notify;
mod probe;
pub mod shared;
pub mod spawn;
pub mod state;
mod task;
pub mod watch;

pub use events::Event;
pub use instance::{adopt, create, Adoption, Control, Ctx, Instance, Reply};
pub use state::{now_ms, Launch, Paths, ProcInfo, Status};
