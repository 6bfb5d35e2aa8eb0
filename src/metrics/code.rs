//! Apps' code metrics (pm2's `axm_monitor`): the last value of each metric a process reported
//! in an `axm:monitor` message, kept where its channel is read, so watching them costs the
//! daemon nothing per log line.

use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::{Map, Value};

#[derive(Default)]
pub struct CodeMetrics {
    by_id: Mutex<HashMap<u32, Map<String, Value>>>,
}

impl CodeMetrics {
    /// Merges a report: metrics it names take its values, others keep theirs (an app may
    /// send the preload's and `@pm2/io`'s side by side).
    pub fn update(&self, pm_id: u32, report: &Map<String, Value>) {
        let mut all = self.by_id.lock().unwrap_or_else(|p| p.into_inner());
        let slot = all.entry(pm_id).or_default();
        for (k, v) in report {
            slot.insert(k.clone(), v.clone());
        }
    }

    pub fn get(&self, pm_id: u32) -> Option<Map<String, Value>> {
        self.by_id
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&pm_id)
            .cloned()
    }

    /// A new process of this id starts with none.
    pub fn clear(&self, pm_id: u32) {
        self.by_id
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&pm_id);
    }
}
