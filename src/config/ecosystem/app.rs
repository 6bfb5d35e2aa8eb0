//! One app object of a file turned into an [`AppSpec`], with pm2's rules for it: null means
//! absent, every spelling of a key folds to one (`keys.rs`), `env` merges with `--env`,
//! and an invalid field is named in the error. The steps pm2 applies only to the apps `--only`
//! picked (the `script` check, `append_env_to_name`, paths) are in [`ParsedApp::finish`].

use std::path::Path;

use serde_json::{Map, Value};

use super::error::{kind, one_line, EcosystemError};
use super::keys::normalize_keys;
use super::paths::{default_log_file, resolve_paths};
use crate::protocol::AppSpec;

/// One app on its way through `from_value`, with the bits of pm2 behaviour that apply after
/// `--only` has picked the apps.
pub(super) struct ParsedApp {
    index: usize,
    pub spec: AppSpec,
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

    /// The last steps, for an app that `--only` selected: pm2 checks `script` only for the apps
    /// it is about to start (`Common.prepareAppConf`), so an incomplete app does not block
    /// `--only` on the others.
    pub(super) fn finish(
        mut self,
        origin: &str,
        env_name: Option<&str>,
        base_dir: &Path,
    ) -> Result<AppSpec, EcosystemError> {
        if self.spec.script.trim().is_empty() {
            return Err(self.error(
                origin,
                "No script path - aborting (\"script\" is required)".into(),
            ));
        }
        if let (true, Some(env)) = (self.append_env_to_name, env_name) {
            self.spec.name = Some(format!("{}-{env}", self.spec.resolved_name()));
        }
        if self.default_log_file {
            self.spec.log_file = Some(default_log_file(&self.spec.resolved_name()));
        }
        resolve_paths(&mut self.spec, base_dir);
        Ok(self.spec)
    }
}

pub(super) fn parse_app(
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
