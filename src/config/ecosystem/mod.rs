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

mod js;

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use js::{eval_js, node_binary, EvalMode};

use crate::config::paths::{absolute, resolve, Home};
use crate::protocol::AppSpec;

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

/// How `from_value` callers name a source that is not a file (`pm start -`).
pub const STDIN_ORIGIN: &str = "-";

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
fn one_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

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
    let read_err = |source| EcosystemError::Read {
        path: abs.clone(),
        source,
    };
    let value = match format_of(&abs.to_string_lossy()) {
        Some(Format::Js) => {
            // Checked here so a missing file reads the same for every format, not as a Node stack.
            std::fs::metadata(&abs).map_err(read_err)?;
            eval_js(&node_binary(), &abs, EvalMode::Module, &origin)?
        }
        Some(Format::Yaml) => {
            parse_yaml(&std::fs::read_to_string(&abs).map_err(read_err)?, &origin)?
        }
        // pm2 parses anything that is not YAML or JS as JSON (`Common.parseConfig`).
        Some(Format::Json) | None => parse_json(
            &abs,
            &std::fs::read_to_string(&abs).map_err(read_err)?,
            &origin,
        )?,
    };
    from_value(value, &base_dir, env_name, only, &origin)
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
fn parse_yaml(text: &str, origin: &str) -> Result<Value, EcosystemError> {
    let yaml_err = |message: String| EcosystemError::Yaml {
        origin: origin.to_string(),
        message: one_line(&message),
    };
    let mut doc: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(text).map_err(|e| yaml_err(e.to_string()))?;
    doc.apply_merge().map_err(|e| yaml_err(e.to_string()))?;
    serde_json::to_value(doc).map_err(|e| yaml_err(e.to_string()))
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
    let TopLevel {
        apps: raw_apps,
        deploy,
    } = split_top(v, origin)?;
    if raw_apps.is_empty() {
        return Err(EcosystemError::Shape {
            origin: origin.to_string(),
            message: "the \"apps\" array is empty".into(),
        });
    }
    let env_name = env_name.filter(|e| !e.is_empty());
    let mut apps = Vec::with_capacity(raw_apps.len());
    for (i, raw) in raw_apps.into_iter().enumerate() {
        apps.push(parse_app(i + 1, raw, deploy.as_ref(), env_name, origin)?);
    }

    // `--only a,b`: pm2 splits on commas and spaces and keeps apps whose name is listed, quietly
    // skipping names that match nothing (`_startJson`); we only fail when nothing matches at all.
    let wanted: Vec<String> = only
        .iter()
        .flat_map(|s| s.split([',', ' ']))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
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

    let mut out = Vec::with_capacity(apps.len());
    for mut app in apps {
        // pm2 checks `script` only for the apps it is about to start (`Common.prepareAppConf`), so
        // an incomplete app does not block `--only` on the others.
        if app.spec.script.trim().is_empty() {
            return Err(app.error(
                origin,
                "No script path - aborting (\"script\" is required)".into(),
            ));
        }
        if let (true, Some(env)) = (app.append_env_to_name, env_name) {
            app.spec.name = Some(format!("{}-{env}", app.spec.resolved_name()));
        }
        if app.default_log_file {
            // `log_file: true` means pm2's combined log in the default folder (`prepareAppConf`).
            let file = format!("{}.log", log_safe_name(&app.spec.resolved_name()));
            app.spec.log_file = Some(
                Home::from_env()
                    .logs_dir()
                    .join(file)
                    .to_string_lossy()
                    .into_owned(),
            );
        }
        resolve_paths(&mut app.spec, base_dir);
        out.push(app.spec);
    }
    Ok(out)
}

/// The parts of a parsed file that matter: the app objects and the `deploy` section.
struct TopLevel {
    apps: Vec<Value>,
    deploy: Option<Map<String, Value>>,
}

/// Where pm2 looks for apps (`_startJson`): `apps`, else `pm2`, else the object itself as one
/// app; a non-array is wrapped in one. `deploy` is only read for `deploy.<env>.env`.
fn split_top(v: Value, origin: &str) -> Result<TopLevel, EcosystemError> {
    let shape = |message: String| EcosystemError::Shape {
        origin: origin.to_string(),
        message,
    };
    match v {
        Value::Array(apps) => Ok(TopLevel { apps, deploy: None }),
        Value::Object(mut top) => {
            let deploy = match top.get("deploy") {
                Some(Value::Object(d)) => Some(d.clone()),
                _ => None,
            };
            let apps = match top.remove("apps").filter(|a| !a.is_null()) {
                Some(a) => a,
                None => match top.remove("pm2").filter(|a| !a.is_null()) {
                    Some(a) => a,
                    // A lone app object: recognised by the script (or one of its aliases).
                    None if ["script", "exec", "cmd", "command"]
                        .iter()
                        .any(|k| top.contains_key(*k)) =>
                    {
                        return Ok(TopLevel {
                            apps: vec![Value::Object(top)],
                            deploy: None,
                        });
                    }
                    None => {
                        return Err(EcosystemError::NoApps {
                            origin: origin.to_string(),
                        })
                    }
                },
            };
            match apps {
                Value::Array(apps) => Ok(TopLevel { apps, deploy }),
                one @ Value::Object(_) => Ok(TopLevel {
                    apps: vec![one],
                    deploy,
                }),
                other => Err(shape(format!(
                    "\"apps\" must be an array of app objects, got {}",
                    kind(&other)
                ))),
            }
        }
        Value::Null => Err(shape(
            "the file is empty (expected an object with an \"apps\" array)".into(),
        )),
        other => Err(shape(format!(
            "expected an object with an \"apps\" array, got {}",
            kind(&other)
        ))),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// One app on its way through `from_value`, with the bits of pm2 behaviour that apply after
/// `--only` has picked the apps.
struct ParsedApp {
    index: usize,
    spec: AppSpec,
    append_env_to_name: bool,
    default_log_file: bool,
}

impl ParsedApp {
    fn error(&self, origin: &str, message: String) -> EcosystemError {
        EcosystemError::App {
            origin: origin.to_string(),
            index: self.index,
            name: self.spec.name.clone(),
            message,
        }
    }
}

fn parse_app(
    index: usize,
    raw: Value,
    deploy: Option<&Map<String, Value>>,
    env_name: Option<&str>,
    origin: &str,
) -> Result<ParsedApp, EcosystemError> {
    let name = raw.get("name").and_then(Value::as_str).map(str::to_string);
    let err = |message: String| EcosystemError::App {
        origin: origin.to_string(),
        index,
        name: name.clone(),
        message,
    };
    let mut obj = match raw {
        Value::Object(o) => o,
        other => return Err(err(format!("expected an app object, got {}", kind(&other)))),
    };

    // pm2's validator treats null like an absent key (`Config.validateJSON`).
    obj.retain(|_, v| !v.is_null());
    normalize_keys(&mut obj);

    let append_env_to_name = obj
        .get("append_env_to_name")
        .and_then(crate::protocol::loose::parse_bool)
        .unwrap_or(false);
    let mut default_log_file = false;
    // `log_file` may be a boolean in pm2 (schema type boolean|string): true asks for the default
    // combined log, false for none.
    if let Some(Value::Bool(b)) = obj.get("log_file") {
        default_log_file = *b;
        obj.remove("log_file");
    }
    // pm2's schema allows a number here (`cron_restart: 0` disables cron restarts).
    if let Some(Value::Number(n)) = obj.get("cron_restart") {
        let text = n.to_string();
        obj.insert("cron_restart".into(), Value::String(text));
    }

    merge_env(&mut obj, deploy, env_name).map_err(&err)?;
    let spec = deserialize_app(obj).map_err(&err)?;
    Ok(ParsedApp {
        index,
        spec,
        append_env_to_name,
        default_log_file,
    })
}

/// The app's `env` as pm2 builds it (`Common.mergeEnvironmentVariables`, `prepareAppConf`): `port`
/// sets `PORT`; with `--env <name>` the result is `deploy.<name>.env`, then `env`, then
/// `env_<name>` (later wins). `env` keys are kept; `env_<name>` stays in the app (pm2 shows it in
/// `pm2_env`). A missing `env_<name>` is not an error (pm2 only warns). Values keep their JSON types.
fn merge_env(
    obj: &mut Map<String, Value>,
    deploy: Option<&Map<String, Value>>,
    env_name: Option<&str>,
) -> Result<(), String> {
    let mut env = match obj.remove("env") {
        None => Map::new(),
        Some(Value::Object(m)) => m,
        Some(other) => {
            return Err(format!(
                "env: expected an object of variables, got {}",
                kind(&other)
            ))
        }
    };
    if let Some(port) = obj
        .get("port")
        .filter(|p| crate::protocol::loose::parse_bool(p) != Some(false))
    {
        env.insert("PORT".into(), port.clone());
    }
    if let Some(name) = env_name {
        let mut merged = deploy
            .and_then(|d| d.get(name))
            .and_then(|d| d.get("env"))
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        merged.extend(env);
        let key = format!("env_{name}");
        match obj.get(&key) {
            None => {}
            Some(Value::Object(over)) => {
                merged.extend(over.iter().map(|(k, v)| (k.clone(), v.clone())))
            }
            Some(other) => {
                return Err(format!(
                    "{key}: expected an object of variables, got {}",
                    kind(other)
                ))
            }
        }
        env = merged;
    }
    obj.insert("env".into(), Value::Object(env));
    Ok(())
}

/// pm2's option names (`lib/API/schema.json`). pm2 accepts each in camelCase too (`Config.schema`
/// derives the aliases), so `maxMemoryRestart` works in a file.
const PM2_KEYS: &[&str] = &[
    "script",
    "name",
    "name_prefix",
    "filter_env",
    "namespace",
    "install_url",
    "cwd",
    "args",
    "exec_interpreter",
    "node_args",
    "out_file",
    "error_file",
    "log_file",
    "disable_logs",
    "log_type",
    "log_date_format",
    "time",
    "env",
    "max_memory_restart",
    "pid_file",
    "restart_delay",
    "exp_backoff_restart_delay",
    "source_map_support",
    "disable_source_map_support",
    "wait_ready",
    "instances",
    "kill_timeout",
    "shutdown_with_message",
    "listen_timeout",
    "cron_restart",
    "merge_logs",
    "vizion",
    "autostart",
    "autorestart",
    "stop_exit_codes",
    "watch_delay",
    "watch",
    "ignore_watch",
    "watch_options",
    "min_uptime",
    "max_restarts",
    "execute_command",
    "exec_mode",
    "force",
    "append_env_to_name",
    "post_update",
    "trace",
    "disable_trace",
    "v8",
    "event_loop_inspector",
    "deep_monitoring",
    "increment_var",
    "instance_var",
    "pmx",
    "automation",
    "treekill",
    "port",
    "username",
    "uid",
    "gid",
    "windowsHide",
    "kill_retry_time",
    "write",
    "io",
];

/// pm2's aliases, each group in pm2's order of preference (the schema name first, then its
/// `alias` list as `Config.schema` orders it; `cmd` and `command` come from `Common.verifyConfs`).
/// The first key present wins and is stored under [`AppSpec`]'s own field name; the others are
/// dropped, as pm2 drops them, so serde never sees two spellings of one field.
const ALIASES: &[(&str, &[&str])] = &[
    ("script", &["script", "cmd", "command", "exec"]),
    ("interpreter", &["exec_interpreter", "interpreter"]),
    ("interpreter_args", &["node_args", "interpreter_args"]),
    ("out_file", &["out_file", "out_log", "output", "out"]),
    (
        "error_file",
        &["error_file", "err_log", "err_file", "err", "error"],
    ),
    ("log_file", &["log_file", "log"]),
    ("pid_file", &["pid_file", "pid"]),
    ("merge_logs", &["merge_logs", "combine_logs"]),
    ("cron_restart", &["cron_restart", "cron"]),
    ("uid", &["uid", "user"]),
];

fn snake_case(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 4);
    for c in key.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn normalize_keys(obj: &mut Map<String, Value>) {
    // camelCase spellings of pm2 options become snake_case; the snake_case key wins if both exist.
    let camel: Vec<String> = obj
        .keys()
        .filter(|k| k.bytes().any(|b| b.is_ascii_uppercase()))
        .cloned()
        .collect();
    for key in camel {
        let snake = snake_case(&key);
        if snake == key || !PM2_KEYS.contains(&snake.as_str()) {
            continue;
        }
        if let Some(v) = obj.remove(&key) {
            obj.entry(snake).or_insert(v);
        }
    }
    for (field, spellings) in ALIASES {
        let mut chosen = None;
        for key in spellings.iter() {
            if let Some(v) = obj.remove(*key) {
                chosen.get_or_insert(v);
            }
        }
        if let Some(v) = chosen {
            obj.insert((*field).to_string(), v);
        }
    }
}

/// Deserializes one app; on failure, finds the field at fault so the message can name it (serde's
/// own message does not say which key of a flattened struct was wrong).
fn deserialize_app(obj: Map<String, Value>) -> Result<AppSpec, String> {
    let whole = match serde_json::from_value::<AppSpec>(Value::Object(obj.clone())) {
        Ok(spec) => return Ok(spec),
        Err(e) => e,
    };
    for (key, value) in obj {
        let mut single = Map::new();
        single.insert(key.clone(), value);
        if let Err(e) = serde_json::from_value::<AppSpec>(Value::Object(single)) {
            let msg = one_line(&e.to_string());
            return Err(if msg.starts_with(key.as_str()) {
                msg
            } else {
                format!("{key}: {msg}")
            });
        }
    }
    Err(one_line(&whole.to_string()))
}

/// pm2's `formated_app_name` for default log files: anything but letters, digits, `.`, `\` and `-`
/// becomes `-`.
fn log_safe_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '\\') {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// `~` and `~/x` as pm2's `resolveHome` expands them (for `cwd` and the log/pid files).
fn expand_home(p: &str) -> String {
    let rest = match p.strip_prefix('~') {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => rest,
        _ => return p.to_string(),
    };
    match std::env::var("HOME") {
        Ok(home) if !home.is_empty() => format!("{home}{rest}"),
        _ => p.to_string(),
    }
}

fn path_string(p: PathBuf) -> String {
    p.to_string_lossy().into_owned()
}

/// Makes `cwd`, `script` and the log/pid files absolute, as `Common.prepareAppConf` does (see the
/// module doc for the base directory).
fn resolve_paths(spec: &mut AppSpec, base_dir: &Path) {
    spec.cwd = spec
        .cwd
        .as_deref()
        .filter(|c| !c.is_empty())
        .map(|cwd| path_string(resolve(base_dir, &expand_home(cwd))));
    let dir = spec
        .cwd
        .as_deref()
        .map(PathBuf::from)
        .unwrap_or_else(|| base_dir.to_path_buf());
    spec.script = resolve_script(&spec.script, &dir);
    for file in [
        &mut spec.out_file,
        &mut spec.error_file,
        &mut spec.log_file,
        &mut spec.pid_file,
    ] {
        match file.as_deref() {
            // pm2's spellings for "discard"; resolving `NULL` would make it a real file.
            None | Some("NULL") | Some("/dev/null") => {}
            Some("") => *file = None,
            Some(f) => *file = Some(path_string(resolve(&dir, &expand_home(f)))),
        }
    }
}

/// pm2 (`prepareAppConf`): resolve the script against the cwd; if nothing is there, look the name
/// up in `$PATH` (`npm`, `python3`); if that fails too, keep the resolved path so the start fails
/// with "Script not found: <absolute path>". A script with a space is a command line that pm2
/// runs with `bash -c` (`Common.verifyConfs`), so it is left alone.
fn resolve_script(script: &str, dir: &Path) -> String {
    if script.contains(' ') {
        return script.to_string();
    }
    let expanded = expand_home(script);
    let candidate = resolve(dir, &expanded);
    if candidate.exists() {
        return path_string(candidate);
    }
    if !expanded.contains('/') {
        if let Some(found) = which(&expanded) {
            return path_string(found);
        }
    }
    path_string(candidate)
}

/// The first executable file called `name` in `$PATH`. Resolved here, in the CLI, because the
/// daemon's `PATH` may not be the user's.
fn which(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .filter(|d| d.is_absolute())
        .map(|d| d.join(name))
        .find(|p| {
            std::fs::metadata(p)
                .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
                .unwrap_or(false)
        })
}

/// What `pm init` writes to `ecosystem.config.js`: pm2 7's `lib/templates/ecosystem.tpl`, which
/// `pm2 init` / `pm2 ecosystem` write (`CLI.prototype.generateSample`).
pub fn sample() -> &'static str {
    SAMPLE
}

/// What `pm init simple` writes: pm2 7's `lib/templates/ecosystem-simple.tpl`.
pub fn sample_simple() -> &'static str {
    SAMPLE_SIMPLE
}

const SAMPLE: &str = "module.exports = {
  apps : [{
    script: 'index.js',
    watch: '.'
  }, {
    script: './service-worker/',
    watch: ['./service-worker']
  }],

  deploy : {
    production : {
      user : 'SSH_USERNAME',
      host : 'SSH_HOSTMACHINE',
      ref  : 'origin/master',
      repo : 'GIT_REPOSITORY',
      path : 'DESTINATION_PATH',
      'pre-deploy-local': '',
      'post-deploy' : 'npm install && pm2 reload ecosystem.config.js --env production',
      'pre-setup': ''
    }
  }
};
";

const SAMPLE_SIMPLE: &str = "module.exports = {
  apps : [{
    name   : \"app1\",
    script : \"./app.js\"
  }]
}
";

#[cfg(test)]
mod tests;
