//! The one error type of ecosystem loading. Each variant knows its source (a file, or stdin) and,
//! where there is one, the app and the position, so `Display` is a single line the CLI prints as
//! is and the library hands to JS unchanged.

use std::path::PathBuf;

use serde_json::Value;

use super::STDIN_ORIGIN;

/// Everything that can go wrong while reading an ecosystem file. `Display` is one line naming the
/// file, so the CLI can print it as is.
#[derive(Debug, thiserror::Error)]
pub enum EcosystemError {
    #[error("ecosystem file {}: cannot read it: {}", .path.display(), one_line(&.source.to_string()))]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("{}: invalid JSON at line {line} column {column}: {message}", label(.origin))]
    Json {
        origin: String,
        line: usize,
        column: usize,
        message: String,
    },

    #[error("{}: invalid YAML: {message}", label(.origin))]
    Yaml { origin: String, message: String },

    /// Node ran but the file threw, exported something unusable, or node itself failed.
    #[error("{}: {message}", label(.origin))]
    Eval { origin: String, message: String },

    #[error(
        "{}: cannot evaluate it: Node.js binary \"{node}\" not found (install Node.js or set PM_NODE to its path)",
        label(.origin)
    )]
    NodeMissing { origin: String, node: String },

    #[error("{}: no \"apps\" array", label(.origin))]
    NoApps { origin: String },

    /// The file parsed but its top level is not something that holds apps.
    #[error("{}: {message}", label(.origin))]
    Shape { origin: String, message: String },

    /// One app is invalid; `index` counts from 1 in file order.
    #[error("{}: app #{index}{}: {message}", label(.origin), name_part(.name))]
    App {
        origin: String,
        index: usize,
        name: Option<String>,
        message: String,
    },

    #[error("--only {}: no app named {} in {}{}", .wanted.join(","), or_list(.wanted), label(.origin), available(.names))]
    Only {
        origin: String,
        wanted: Vec<String>,
        names: Vec<String>,
    },
}

fn label(origin: &str) -> String {
    if origin == STDIN_ORIGIN {
        "ecosystem JSON from stdin".to_string()
    } else {
        format!("ecosystem file {origin}")
    }
}

fn name_part(name: &Option<String>) -> String {
    name.as_deref()
        .map(|n| format!(" ({n:?})"))
        .unwrap_or_default()
}

fn or_list(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("{n:?}"))
        .collect::<Vec<_>>()
        .join(" or ")
}

fn available(names: &[String]) -> String {
    if names.is_empty() {
        String::new()
    } else {
        format!(" (it has: {})", names.join(", "))
    }
}

/// Folds a possibly multi-line message (Node stacks, YAML errors) into one line.
pub(super) fn one_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// What a JSON value is, for messages such as "expected an object, got a string".
pub(super) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
