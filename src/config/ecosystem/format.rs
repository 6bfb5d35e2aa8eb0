//! Which files are ecosystem files, and turning one into a JSON value by its format: JSON (JSON5
//! too, as pm2 allows), YAML, or JavaScript (evaluated by `node`, see `js.rs`). Everything
//! after this step works on plain JSON, whatever the file was written in.

use std::path::Path;

use serde_json::Value;

use super::error::{one_line, EcosystemError};
use super::js::{eval_js, node_binary, EvalMode};

/// The formats pm2 recognises, by its `Common.knonwConfigFileExtensions` table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Yaml,
    Js,
}

/// pm2's `Common.isConfigFile`: the first extension that occurs *anywhere* in the name wins, in
/// this order. The substring match is pm2's, and it matters: `process.json5` counts as JSON (pm2
/// evaluates JSON as a JS expression, so JSON5 works). We look at the file name only, not at the
/// directories above it, so a folder called `my.json-api/` does not turn scripts into configs.
fn format_of(path: &str) -> Option<Format> {
    const TABLE: [(&str, Format); 6] = [
        (".json", Format::Json),
        (".yml", Format::Yaml),
        (".yaml", Format::Yaml),
        (".config.js", Format::Js),
        (".config.cjs", Format::Js),
        (".config.mjs", Format::Js),
    ];
    let name = path.rsplit('/').next().unwrap_or(path);
    TABLE
        .iter()
        .find(|(ext, _)| name.contains(ext))
        .map(|(_, f)| *f)
}

/// Is this path an ecosystem/config file rather than a script? pm2's rule (`Common.isConfigFile`):
/// the file name contains `.json`, `.yml`, `.yaml`, `.config.js`, `.config.cjs` or `.config.mjs`.
pub fn is_config_file(path: &str) -> bool {
    format_of(path).is_some()
}

/// Far beyond any real configuration (a thousand apps with large envs is a few MiB); a larger
/// file is a mistake (a log or a dump named `.json`), refused before it is read or evaluated.
const MAX_FILE: u64 = 16 << 20;

/// Reads the file at `abs` (an absolute path) into a JSON value, by its format; `origin` names it
/// in errors.
pub(super) fn read(abs: &Path, origin: &str) -> Result<Value, EcosystemError> {
    let read_err = |source| EcosystemError::Read {
        path: abs.to_path_buf(),
        source,
    };
    // First, so a missing file reads the same for every format, not as a Node stack.
    let size = std::fs::metadata(abs).map_err(read_err)?.len();
    if size > MAX_FILE {
        return Err(EcosystemError::Shape {
            origin: origin.to_string(),
            message: format!(
                "too large ({:.1} MiB; an ecosystem file may be at most {} MiB)",
                size as f64 / (1024.0 * 1024.0),
                MAX_FILE >> 20
            ),
        });
    }
    match format_of(&abs.to_string_lossy()) {
        Some(Format::Js) => eval_js(&node_binary(), abs, EvalMode::Module, origin),
        Some(Format::Yaml) => parse_yaml(&std::fs::read_to_string(abs).map_err(read_err)?, origin),
        // pm2 parses anything that is not YAML or JS as JSON (`Common.parseConfig`).
        Some(Format::Json) | None => parse_json(
            abs,
            &std::fs::read_to_string(abs).map_err(read_err)?,
            origin,
        ),
    }
}

/// Strict JSON first (no Node start-up). pm2 evaluates `.json` files as a JS expression
/// (`vm.runInThisContext('(' + text + ')')` in `Common.parseConfig`), so comments, trailing commas
/// and JSON5 work there; when strict parsing fails we give Node the same chance, and report the
/// strict parser's error (it has a line and column) if Node cannot make sense of it either.
fn parse_json(path: &Path, text: &str, origin: &str) -> Result<Value, EcosystemError> {
    match serde_json::from_str::<Value>(text) {
        Ok(v) => Ok(v),
        Err(e) => match eval_js(&node_binary(), path, EvalMode::Expression, origin) {
            Ok(v) => Ok(v),
            Err(_) => Err(json_error(&e, origin)),
        },
    }
}

fn json_error(e: &serde_json::Error, origin: &str) -> EcosystemError {
    let full = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    let message = full.strip_suffix(&suffix).unwrap_or(&full);
    EcosystemError::Json {
        origin: origin.to_string(),
        line: e.line(),
        column: e.column(),
        message: one_line(message),
    }
}

/// YAML as js-yaml reads it for pm2, including `<<: *anchor` merge keys, which people use to share
/// an `env` block between apps.
pub(super) fn parse_yaml(text: &str, origin: &str) -> Result<Value, EcosystemError> {
    let yaml_err = |message: String| EcosystemError::Yaml {
        origin: origin.to_string(),
        message: one_line(&message),
    };
    let mut doc: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(text).map_err(|e| yaml_err(e.to_string()))?;
    doc.apply_merge().map_err(|e| yaml_err(e.to_string()))?;
    serde_json::to_value(doc).map_err(|e| yaml_err(e.to_string()))
}
