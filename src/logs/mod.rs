//! App output: pumping a child's stdout/stderr into log files line by line, and reading them
//! back for `pm logs`.

pub mod file;
pub mod pump;
pub mod rotate;
pub mod stderr;
pub mod tail;

pub use file::{LogFile, LogFiles};
pub use pump::{pump, LineFormat, Sinks, Stream};
pub use rotate::{RotateOverride, RotatePolicy};

/// Log files (apps' and `pm.log`), created so: the owner writes, the group may read (pm2's
/// logrotate template's `create 0640`), others see nothing, as apps print tokens and such.
pub const LOG_MODE: u32 = 0o640;
