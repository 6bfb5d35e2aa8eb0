//! Finding a program the way a shell would, on a given `PATH` (the daemon's own `PATH` may not
//! be the user's, so callers pass the one that counts).

use std::path::PathBuf;

/// Where a `PATH` is unset, as execvp assumes.
const DEFAULT_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// The executable `program` names: a path (with a `/`) is checked as is, a bare name is looked
/// up on `path_var`, or on the default path when there is none.
pub fn which(program: &str, path_var: Option<&str>) -> Option<PathBuf> {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    ::which::which_in(program, Some(path_var.unwrap_or(DEFAULT_PATH)), cwd).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_programs_on_the_given_path_only() {
        assert_eq!(which("sh", Some("/bin")), Some(PathBuf::from("/bin/sh")));
        assert_eq!(which("sh", Some("/nonexistent")), None);
        assert_eq!(
            which("/bin/sh", Some("/nonexistent")),
            Some(PathBuf::from("/bin/sh"))
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let plain = dir.path().join("data");
        std::fs::write(&plain, "x").expect("write");
        assert_eq!(
            which(plain.to_str().expect("utf8"), None),
            None,
            "not executable"
        );
    }
}
