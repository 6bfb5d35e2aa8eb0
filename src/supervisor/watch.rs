//! `watch`: restart an app when its files change. One notify watcher per instance; events are
//! filtered here (pm2's defaults ignore dot-files and node_modules, plus `ignore_watch` globs)
//! and debounced by the task, so an editor's save burst causes one restart.

use std::path::{Path, PathBuf};

use globset::{Glob, GlobSet, GlobSetBuilder};
use notify::{RecursiveMode, Watcher};
use serde_json::Value;
use tokio::sync::mpsc;

use crate::protocol::AppSpec;

pub struct AppWatcher {
    /// Kept alive for as long as events should flow.
    _watcher: notify::RecommendedWatcher,
    pub events: mpsc::UnboundedReceiver<PathBuf>,
}

/// The paths to watch: `watch: true` means the app's cwd; a list means those paths (relative to
/// the cwd). `None` when watching is off.
pub fn watched_paths(spec: &AppSpec) -> Option<Vec<PathBuf>> {
    let cwd = PathBuf::from(spec.cwd.clone().unwrap_or_else(|| "/".into()));
    match spec.watch.as_ref()? {
        Value::Bool(true) => Some(vec![cwd]),
        Value::String(s) if s == "true" => Some(vec![cwd]),
        Value::String(s) if !s.is_empty() && s != "false" => {
            Some(vec![crate::config::paths::resolve(&cwd, s)])
        }
        Value::Array(items) if !items.is_empty() => Some(
            items
                .iter()
                .filter_map(Value::as_str)
                .map(|p| crate::config::paths::resolve(&cwd, p))
                .collect(),
        ),
        _ => None,
    }
}

/// What not to react to: dot-files and node_modules (pm2's chokidar default), the user's
/// `ignore_watch` globs, and the app's own log files (else writing a log restarts the app).
pub struct Ignore {
    globs: GlobSet,
    own: Vec<PathBuf>,
}

impl Ignore {
    pub fn new(patterns: &[String], own: Vec<PathBuf>) -> Result<Self, String> {
        let mut b = GlobSetBuilder::new();
        for p in patterns {
            let g =
                |s: &str| Glob::new(s).map_err(|e| format!("ignore_watch pattern \"{p}\": {e}"));
            b.add(g(p)?);
            if !p.contains('/') {
                b.add(g(&format!("**/{p}"))?);
                b.add(g(&format!("**/{p}/**"))?);
            }
        }
        Ok(Ignore {
            globs: b.build().map_err(|e| e.to_string())?,
            own,
        })
    }

    pub fn ignored(&self, path: &Path, root: &Path) -> bool {
        if self.own.iter().any(|o| o == path) {
            return true;
        }
        let rel = path.strip_prefix(root).unwrap_or(path);
        let hidden = rel.components().any(|c| {
            let s = c.as_os_str().to_string_lossy();
            (s.starts_with('.') && s != "." && s != "..") || s == "node_modules"
        });
        hidden || self.globs.is_match(rel) || self.globs.is_match(path)
    }
}

pub fn start(spec: &AppSpec, own_logs: Vec<PathBuf>) -> Result<Option<AppWatcher>, String> {
    let Some(paths) = watched_paths(spec) else {
        return Ok(None);
    };
    let ignore = Ignore::new(&spec.ignore_watch, own_logs)?;
    let root = PathBuf::from(spec.cwd.clone().unwrap_or_else(|| "/".into()));
    let (tx, rx) = mpsc::unbounded_channel();
    // pm2 passes `watch_options` to chokidar; `followSymlinks` (default true) is the one that
    // changes what is watched.
    let follow = spec
        .extra
        .get("watch_options")
        .and_then(|o| o.get("followSymlinks"))
        .and_then(crate::protocol::loose::parse_bool)
        .unwrap_or(true);
    let config = notify::Config::default().with_follow_symlinks(follow);
    let handler = move |res: notify::Result<notify::Event>| {
        let Ok(ev) = res else { return };
        if matches!(ev.kind, notify::EventKind::Access(_)) {
            return;
        }
        for p in ev.paths {
            if !ignore.ignored(&p, &root) {
                let _ = tx.send(p);
            }
        }
    };
    let mut watcher = notify::RecommendedWatcher::new(handler, config)
        .map_err(|e| format!("cannot watch files: {e}"))?;
    for p in &paths {
        watcher
            .watch(p, RecursiveMode::Recursive)
            .map_err(|e| format!("cannot watch {}: {e}", p.display()))?;
    }
    Ok(Some(AppWatcher {
        _watcher: watcher,
        events: rx,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ignores_like_pm2() {
        let ig = Ignore::new(
            &["logs".into(), "*.tmp".into()],
            vec![PathBuf::from("/app/out.log")],
        )
        .expect("globs");
        let root = Path::new("/app");
        assert!(ig.ignored(Path::new("/app/node_modules/x/index.js"), root));
        assert!(ig.ignored(Path::new("/app/.git/HEAD"), root));
        assert!(ig.ignored(Path::new("/app/logs/a.txt"), root));
        assert!(ig.ignored(Path::new("/app/src/file.tmp"), root));
        assert!(ig.ignored(Path::new("/app/out.log"), root));
        assert!(!ig.ignored(Path::new("/app/src/index.js"), root));
    }
}
