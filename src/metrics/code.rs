//! Apps' code metrics (pm2's `axm_monitor`): the last value of each metric a process reported
//! in an `axm:monitor` message, kept where its channel is read, so watching them costs the
//! daemon nothing per log line.

use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::{Map, Value};

/// What one process's agent (the preload, `@pm2/io`) told the daemon: its metrics and the
/// actions `pm trigger` may call.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Agent {
    /// pm2's `axm_monitor`.
    pub monitor: Map<String, Value>,
    /// pm2's `axm_actions`: `{ action_name, action_type, opts, arity }`, once per name.
    pub actions: Vec<Value>,
}

impl Agent {
    pub fn has_action(&self, name: &str) -> bool {
        self.actions
            .iter()
            .any(|a| a.get("action_name").and_then(Value::as_str) == Some(name))
    }
}

#[derive(Default)]
pub struct CodeMetrics {
    by_id: Mutex<HashMap<u32, Agent>>,
}

impl CodeMetrics {
    fn with<T>(&self, f: impl FnOnce(&mut HashMap<u32, Agent>) -> T) -> T {
        f(&mut self.by_id.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Merges a report: metrics it names take its values, others keep theirs (an app may
    /// send the preload's and `@pm2/io`'s side by side).
    pub fn update(&self, pm_id: u32, report: &Map<String, Value>) {
        self.with(|all| {
            let slot = &mut all.entry(pm_id).or_default().monitor;
            for (k, v) in report {
                slot.insert(k.clone(), v.clone());
            }
        })
    }

    /// An `axm:action` registration; a name already known is kept as first registered (pm2).
    pub fn add_action(&self, pm_id: u32, action: &Value) {
        let Some(name) = action.get("action_name").and_then(Value::as_str) else {
            return;
        };
        self.with(|all| {
            let slot = all.entry(pm_id).or_default();
            if !slot.has_action(name) {
                slot.actions.push(action.clone());
            }
        })
    }

    pub fn get(&self, pm_id: u32) -> Option<Agent> {
        self.with(|all| all.get(&pm_id).cloned())
    }

    /// A new process of this id starts with none.
    pub fn clear(&self, pm_id: u32) {
        self.with(|all| all.remove(&pm_id));
    }
}
