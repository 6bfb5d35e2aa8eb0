//! What a restart changes in an app besides its env: pm2 takes the options of `restart`,
//! `reload` and of a `start` that restarts (`--node-args`, `--name`, `--watch`,
//! `--cron-restart`, ...), and a restart from an ecosystem file takes the file's options.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::AppSpec;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SpecUpdate {
    /// The app as an ecosystem file now describes it. Its identity (name, mode, instance
    /// count, namespace) and its `env` (carried on its own) stay as they are.
    pub replace: Option<Box<AppSpec>>,
    /// Fields set by flags, by their pm2 names; `null` clears one (`--node-args=null`,
    /// `--cron-restart 0`).
    pub fields: Map<String, Value>,
    /// `restart --watch`: watching is switched, on when off and off when on, as pm2 does.
    pub toggle_watch: bool,
}

impl SpecUpdate {
    pub fn is_empty(&self) -> bool {
        self.replace.is_none() && self.fields.is_empty() && !self.toggle_watch
    }

    /// The spec after this update; an error names a field whose value does not fit.
    pub fn apply(&self, spec: &AppSpec) -> Result<AppSpec, String> {
        let mut next = match &self.replace {
            Some(file) => AppSpec {
                name: spec.name.clone(),
                exec_mode: spec.exec_mode,
                instances: spec.instances,
                workload: spec.workload.clone(),
                namespace: spec.namespace.clone(),
                env: spec.env.clone(),
                ..(**file).clone()
            },
            None => spec.clone(),
        };
        if !self.fields.is_empty() {
            let mut v = serde_json::to_value(&next).map_err(|e| e.to_string())?;
            if let Value::Object(m) = &mut v {
                for (k, val) in &self.fields {
                    // pm2's name for the field the spec serialises as `interpreter_args`.
                    let k = if k == "node_args" {
                        "interpreter_args"
                    } else {
                        k.as_str()
                    };
                    m.insert(k.to_string(), val.clone());
                }
            }
            next = serde_json::from_value(v).map_err(|e| format!("restart options: {e}"))?;
        }
        if self.toggle_watch {
            let on = !matches!(
                next.watch,
                None | Some(Value::Bool(false)) | Some(Value::Null)
            );
            next.watch = Some(Value::Bool(!on));
        }
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> AppSpec {
        AppSpec {
            name: Some("api".into()),
            script: "/srv/api.js".into(),
            interpreter_args: vec!["--harmony".into()],
            cron_restart: Some("0 * * * *".into()),
            ..Default::default()
        }
    }

    #[test]
    fn fields_set_and_clear() {
        let mut u = SpecUpdate::default();
        u.fields.insert("node_args".into(), Value::Array(vec![]));
        u.fields.insert("cron_restart".into(), Value::Null);
        u.fields.insert("max_memory_restart".into(), "200M".into());
        u.fields.insert("name".into(), "renamed".into());
        let s = u.apply(&spec()).expect("apply");
        assert!(s.interpreter_args.is_empty());
        assert_eq!(s.cron_restart, None);
        assert_eq!(s.max_memory_restart, Some(200 * 1024 * 1024));
        assert_eq!(s.name.as_deref(), Some("renamed"));
        assert_eq!(s.script, "/srv/api.js");
    }

    #[test]
    fn watch_toggles() {
        let u = SpecUpdate {
            toggle_watch: true,
            ..Default::default()
        };
        let on = u.apply(&spec()).expect("on");
        assert_eq!(on.watch, Some(Value::Bool(true)));
        assert_eq!(u.apply(&on).expect("off").watch, Some(Value::Bool(false)));
    }

    #[test]
    fn a_file_replaces_options_but_not_identity_or_env() {
        let mut running = spec();
        running.instances = crate::protocol::Instances::Count(4);
        running.env.insert("A".into(), "1".into());
        let file = AppSpec {
            name: Some("api".into()),
            script: "/srv/api.js".into(),
            watch: Some(Value::Bool(true)),
            ..Default::default()
        };
        let u = SpecUpdate {
            replace: Some(Box::new(file)),
            ..Default::default()
        };
        let s = u.apply(&running).expect("apply");
        assert_eq!(s.watch, Some(Value::Bool(true)));
        assert!(s.interpreter_args.is_empty(), "the file has no node_args");
        assert_eq!(s.cron_restart, None);
        assert_eq!(s.instances, crate::protocol::Instances::Count(4));
        assert_eq!(s.env.get("A"), Some(&Value::from("1")));
    }

    #[test]
    fn a_bad_field_is_an_error() {
        let mut u = SpecUpdate::default();
        u.fields.insert("max_memory_restart".into(), "lots".into());
        assert!(u.apply(&spec()).is_err());
    }
}
