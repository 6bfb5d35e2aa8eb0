//! Where the apps are in a parsed file: pm2 accepts an `apps` array, a `pm2` array, a bare array,
//! or one app object on its own, and reads `deploy.<env>.env` from beside them.

use serde_json::{Map, Value};

use super::error::{kind, EcosystemError};

/// The parts of a parsed file that matter: the app objects and the `deploy` section.
pub(super) struct TopLevel {
    pub apps: Vec<Value>,
    pub deploy: Option<Map<String, Value>>,
}

/// Where pm2 looks for apps (`_startJson`): `apps`, else `pm2`, else the object itself as one
/// app; a non-array is wrapped in one. `deploy` is only read for `deploy.<env>.env`.
pub(super) fn split_top(v: Value, origin: &str) -> Result<TopLevel, EcosystemError> {
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
            let statics = static_apps(top.remove("static"), origin)?;
            let apps = match top.remove("apps").filter(|a| !a.is_null()) {
                Some(a) => a,
                None if !statics.is_empty() && !top.contains_key("pm2") => Value::Array(Vec::new()),
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
                Value::Array(mut apps) => {
                    apps.extend(statics);
                    Ok(TopLevel { apps, deploy })
                }
                one @ Value::Object(_) => Ok(TopLevel {
                    apps: std::iter::once(one).chain(statics).collect(),
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

/// pm2's `static` section (`_startJson`): each entry a `pm serve` app, configured through the
/// server's PM2_SERVE_* variables and named `static-page-server-<port>` unless named.
fn static_apps(section: Option<Value>, origin: &str) -> Result<Vec<Value>, EcosystemError> {
    let entries = match section {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(a)) => a,
        Some(one @ Value::Object(_)) => vec![one],
        Some(other) => {
            return Err(EcosystemError::Shape {
                origin: origin.to_string(),
                message: format!(
                    "\"static\" must be an array of objects, got {}",
                    kind(&other)
                ),
            })
        }
    };
    let mut apps = Vec::new();
    for e in entries {
        let Value::Object(e) = e else {
            return Err(EcosystemError::Shape {
                origin: origin.to_string(),
                message: format!("a \"static\" entry must be an object, got {}", kind(&e)),
            });
        };
        let port = e.get("port").cloned().unwrap_or(Value::from(8080));
        let port_text = match &port {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let name = e
            .get("name")
            .cloned()
            .unwrap_or_else(|| format!("static-page-server-{port_text}").into());
        let mut env = Map::new();
        env.insert("PM2_SERVE_PORT".into(), port);
        for (var, key) in [
            ("PM2_SERVE_HOST", "host"),
            ("PM2_SERVE_PATH", "path"),
            ("PM2_SERVE_SPA", "spa"),
            ("PM2_SERVE_FTP", "ftp"),
            ("PM2_SERVE_HOMEPAGE", "homepage"),
        ] {
            if let Some(v) = e.get(key).filter(|v| !v.is_null()) {
                env.insert(var.into(), v.clone());
            }
        }
        if let Some(Value::Object(auth)) = e.get("basic_auth") {
            env.insert("PM2_SERVE_BASIC_AUTH".into(), "true".into());
            for (var, key) in [
                ("PM2_SERVE_BASIC_AUTH_USERNAME", "username"),
                ("PM2_SERVE_BASIC_AUTH_PASSWORD", "password"),
            ] {
                if let Some(v) = auth.get(key) {
                    env.insert(var.into(), v.clone());
                }
            }
        }
        let mut app = Map::new();
        app.insert("name".into(), name);
        app.insert("script".into(), super::SERVE_SCRIPT.into());
        app.insert("env".into(), Value::Object(env));
        apps.push(Value::Object(app));
    }
    Ok(apps)
}
