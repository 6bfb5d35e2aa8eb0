//! Ecosystem files: the JSON, YAML or JavaScript files that describe a set of apps.
//!
//! The rules follow pm2 7 (`lib/Common.js` and `lib/API.js` `_startJson`): which names count as
//! config files, where the apps live in the file, how `--env <name>` and `--only` apply, and how
//! relative paths resolve. JavaScript files need a JS engine, and the daemon stays V8-free, so the
//! CLI spawns `node` once to evaluate them and carries on with plain JSON.
//!
//! One deliberate difference: pm2 resolves a relative `cwd`, `script` and log path against the
//! shell's current directory, so `pm2 start /srv/app/ecosystem.config.js` run from elsewhere
//! usually fails with "Script not found". We resolve them against the file's own directory, which
//! gives the same answer whenever pm2's works from the file's directory.
//!
//! The files, in the order a file's contents flow through them:
//! - `format.rs`: which names are ecosystem files; reading one into JSON by its format
//!   (`js.rs` evaluates JavaScript with `node`);
//! - `layout.rs`: where the apps are in that JSON (`apps`, `pm2`, a bare array or one app);
//! - `keys.rs`: pm2's option names and aliases, folded to one spelling;
//! - `app.rs`: one app object turned into an [`AppSpec`] (`env` merging, field errors);
//! - `paths.rs`: `cwd`, `script` and log/pid files made absolute;
//! - `error.rs`: the one-line error type; `templates.rs`: what `pm init` writes.
//!
//! This file holds the entry points, [`load`] and [`from_value`], and `--only`.

mod app;
mod error;
mod format;
mod js;
mod keys;
mod layout;
mod paths;
mod templates;

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::config::paths::absolute;
use crate::protocol::app::split_only;
use crate::protocol::AppSpec;

pub use error::EcosystemError;
pub use format::is_config_file;
pub use js::node_binary;
pub use keys::is_option_key;
pub use templates::{sample, sample_simple};

/// How `from_value` callers name a source that is not a file (`pm start -`).
pub const STDIN_ORIGIN: &str = "-";

/// The file `pm start` and `pm init` use when none is named (pm2's `APP_CONF_DEFAULT_FILE`).
pub const DEFAULT_FILE: &str = "ecosystem.config.js";

/// The script name pm2 reserves for its static file server (`script: "serve"`, `pm serve`); the
/// daemon runs its own copy from the home.
pub const SERVE_SCRIPT: &str = "serve";

/// Loads the apps of an ecosystem file: JSON (pm2's `process.json` too), YAML, or
/// JS/CJS/MJS (evaluated by `$PM_NODE`, else `node`). See the module doc for the rules.
pub fn load(
    path: &Path,
    env_name: Option<&str>,
    only: &[String],
) -> Result<Vec<AppSpec>, EcosystemError> {
    let abs = absolute(path);
    let origin = abs.display().to_string();
    let base_dir = abs
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("/"));
    let value = format::read(&abs, &origin)?;
    from_value(value, &base_dir, env_name, only, &origin)
}

/// The whole document of an ecosystem file, as JSON, before any app is read (`pm deploy` takes
/// its `deploy` section from it).
pub fn read_document(path: &Path) -> Result<Value, EcosystemError> {
    let abs = absolute(path);
    let origin = abs.display().to_string();
    format::read(&abs, &origin)
}

/// Parses apps from an already-read JSON value: used by `pm start -` (JSON on stdin; pass
/// [`STDIN_ORIGIN`] as `origin`) and by [`load`]. `base_dir` is what relative paths resolve
/// against; `origin` names the source in error messages.
pub fn from_value(
    v: Value,
    base_dir: &Path,
    env_name: Option<&str>,
    only: &[String],
    origin: &str,
) -> Result<Vec<AppSpec>, EcosystemError> {
    let layout::TopLevel {
        apps: raw_apps,
        deploy,
    } = layout::split_top(v, origin)?;
    if raw_apps.is_empty() {
        return Err(EcosystemError::Shape {
            origin: origin.to_string(),
            message: "the \"apps\" array is empty".into(),
        });
    }
    let env_name = env_name.filter(|e| !e.is_empty());
    let mut apps = Vec::with_capacity(raw_apps.len());
    for (i, raw) in raw_apps.into_iter().enumerate() {
        apps.push(app::parse_app(
            i + 1,
            raw,
            deploy.as_ref(),
            env_name,
            origin,
        )?);
    }

    // `--only a,b`: pm2 keeps apps whose name is listed, quietly skipping names that match
    // nothing (`_startJson`); we only fail when nothing matches at all. Callers may pass the
    // option as typed, so each entry is split again (splitting is idempotent).
    let wanted: Vec<String> = only.iter().flat_map(|s| split_only(s)).collect();
    if !wanted.is_empty() {
        let names: Vec<String> = apps.iter().map(|a| a.spec.resolved_name()).collect();
        apps.retain(|a| wanted.contains(&a.spec.resolved_name()));
        if apps.is_empty() {
            return Err(EcosystemError::Only {
                origin: origin.to_string(),
                wanted,
                names,
            });
        }
    }

    apps.into_iter()
        .map(|app| app.finish(origin, env_name, base_dir))
        .collect()
}

#[cfg(test)]
mod fuzz;
#[cfg(test)]
mod tests;
