//! What the supervisor puts on the event bus (pm2's `launchBus`).

use serde_json::{json, Value};

use super::now_ms;
use super::task::Task;

/// A message on the bus: `process:event`, `log:out`, `log:err`, `process:msg`.
#[derive(Debug, Clone)]
pub struct Event {
    pub channel: String,
    pub data: Value,
}

impl Task {
    /// A `process:event` (`start`, `online`, `exit`, `stop`, ...) with the instance's state.
    pub(super) fn publish(&self, event: &str) {
        self.ctx.live.notify_one();
        // Nobody listening (the usual case): no event to build. Fifty apps starting publish a
        // hundred, each allocating on the loop while spawning threads fork.
        if self.ctx.bus.receiver_count() == 0 {
            return;
        }
        let data = self.with_info(|i| {
            json!({ "event": event, "at": now_ms(), "process": {
                "name": i.name, "pm_id": i.pm_id, "namespace": i.namespace, "status": i.status.as_str(),
                "restart_time": i.restart_time, "unstable_restarts": i.unstable_restarts,
            }})
        });
        let _ = self.ctx.bus.send(Event {
            channel: "process:event".into(),
            data,
        });
    }
}
