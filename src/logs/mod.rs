//! App output: pumping a child's stdout/stderr into log files line by line, and reading them
//! back for `pm logs`.

pub mod file;
pub mod pump;
pub mod tail;

pub use file::{LogFile, LogFiles};
pub use pump::{pump, LineFormat, Sinks, Stream};
