//! How a child ended, read once from its wait status. pm2 and Node report it differently: pm2's
//! `exit_code` is `code || signal` (one value), Node's `'exit'` event gives `(code, signal)`.

use std::io;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;

use nix::sys::signal::Signal;
use serde_json::Value;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Exit {
    /// The exit code, when the child exited by itself.
    pub code: Option<i32>,
    /// The signal number, when a signal ended it.
    pub signal: Option<i32>,
}

impl Exit {
    /// A failed wait knows neither.
    pub fn of(status: &io::Result<ExitStatus>) -> Exit {
        match status {
            Ok(st) => Exit::from(st),
            Err(_) => Exit::default(),
        }
    }

    /// `SIGTERM`, or the number for a signal nix does not know.
    fn signal_name(&self) -> Option<Result<&'static str, i32>> {
        self.signal
            .map(|s| Signal::try_from(s).map(Signal::as_str).map_err(|_| s))
    }

    /// pm2's `exit_code`: the code, else the signal's name (its number when it has none),
    /// else null.
    pub fn pm2_value(&self) -> Value {
        match (self.code, self.signal_name()) {
            (Some(c), _) => c.into(),
            (None, Some(Ok(name))) => name.into(),
            (None, Some(Err(n))) => n.into(),
            (None, None) => Value::Null,
        }
    }

    /// The `signal` of Node's `'exit'` event: the name (the number as text when it has none).
    pub fn node_signal(&self) -> Option<String> {
        self.signal_name().map(|s| match s {
            Ok(name) => name.to_string(),
            Err(n) => n.to_string(),
        })
    }
}

impl From<&ExitStatus> for Exit {
    fn from(st: &ExitStatus) -> Exit {
        Exit {
            code: st.code(),
            signal: st.signal(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pm2_and_node_read_the_same_exit() {
        let code = Exit::from(&ExitStatus::from_raw(3 << 8));
        assert_eq!(
            (code.pm2_value(), code.node_signal()),
            (Value::from(3), None)
        );
        let killed = Exit::from(&ExitStatus::from_raw(libc::SIGTERM));
        assert_eq!(killed.code, None);
        assert_eq!(killed.pm2_value(), Value::from("SIGTERM"));
        assert_eq!(killed.node_signal().as_deref(), Some("SIGTERM"));
        let failed = Exit::of(&Err(io::Error::other("wait failed")));
        assert_eq!(
            (failed.pm2_value(), failed.node_signal()),
            (Value::Null, None)
        );
    }
}
