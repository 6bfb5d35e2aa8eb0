//! Why the daemon refused or failed a request, as it crosses the socket: a `code` a client can
//! match on, next to the human `message` pm2 users know. Clients branch on the code and print
//! the message, so rewording a message never changes what a client does.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum Error {
    /// A target (id, name, namespace, `/regex/`, script path) that matches no process.
    #[error("Process or Namespace {target} not found")]
    NotFound { target: String },
    /// `all` while the daemon manages nothing (pm2 only warns about it).
    #[error("No process found")]
    NoProcess,
    /// A message for a pm_id that does not exist (`sendDataToProcessId`).
    #[error("Process {id} not found")]
    UnknownId { id: u32 },
    /// `start` of a script that already runs under that name, without `-f`.
    #[error("Script already launched, add -f option to force re-execution")]
    AlreadyRunning,
    /// The request is refused as given: an unknown signal, a bad regex or count, a protocol
    /// misuse. Nothing was done.
    #[error("{reason}")]
    InvalidInput { reason: String },
    /// The request was fine, but doing it failed (a spawn, a log file, the dump).
    #[error("{reason}")]
    Failed { reason: String },
}

impl Error {
    pub fn invalid(reason: impl Into<String>) -> Self {
        Error::InvalidInput {
            reason: reason.into(),
        }
    }

    pub fn failed(reason: impl Into<String>) -> Self {
        Error::Failed {
            reason: reason.into(),
        }
    }

    /// The wire code, as JS sees it in `err.code`.
    pub fn code(&self) -> &'static str {
        match self {
            Error::NotFound { .. } => "not_found",
            Error::NoProcess => "no_process",
            Error::UnknownId { .. } => "unknown_id",
            Error::AlreadyRunning => "already_running",
            Error::InvalidInput { .. } => "invalid_input",
            Error::Failed { .. } => "failed",
        }
    }

    /// Whether the targets named nothing: the answers a client may treat as an empty list.
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            Error::NotFound { .. } | Error::NoProcess | Error::UnknownId { .. }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::Response;
    use super::*;

    #[test]
    fn an_error_carries_its_code_and_pm2_message() {
        let r = Response::error(Error::NotFound {
            target: "api".into(),
        });
        let json = serde_json::to_string(&r).expect("serialisable");
        assert_eq!(
            json,
            r#"{"kind":"error","code":"not_found","target":"api","message":"Process or Namespace api not found"}"#
        );
        let back: Response = serde_json::from_str(&json).expect("round trip");
        assert!(matches!(
            back,
            Response::Error { error: Error::NotFound { target }, message }
                if target == "api" && message == "Process or Namespace api not found"
        ));
    }

    #[test]
    fn every_code_matches_its_wire_tag() {
        for e in [
            Error::NotFound { target: "x".into() },
            Error::NoProcess,
            Error::UnknownId { id: 3 },
            Error::AlreadyRunning,
            Error::invalid("bad"),
            Error::failed("broke"),
        ] {
            let v = serde_json::to_value(&e).expect("serialisable");
            assert_eq!(v["code"], e.code());
        }
    }
}
