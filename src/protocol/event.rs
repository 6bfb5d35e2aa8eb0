//! Bus events (pm2's `launchBus`), typed by channel. On the wire an event is
//! `{"channel": ..., "data": ...}` with `data` in the shape pm2's bus sends, key for key.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// A process's state change: `online`, `exit`, `stop`, `restart`, `delete`, ...
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcessEvent {
    pub event: String,
    pub at: i64,
    pub process: EventProcess,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventProcess {
    pub name: String,
    pub pm_id: u32,
    pub namespace: String,
    pub status: String,
    pub restart_time: u32,
    pub unstable_restarts: u32,
}

/// Which process a log line or message came from (pm2 adds the namespace).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Source {
    pub pm_id: u32,
    pub name: String,
    /// pm2's git revision of the app (vizion); pm-native reads none, so `null`, as pm2 sends
    /// for an app outside a repository.
    #[serde(default)]
    pub rev: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// One line an app wrote on stdout (`log:out`) or stderr (`log:err`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogLine {
    pub process: Source,
    pub data: String,
    pub at: i64,
}

/// The daemon is going away (`pm2:kill`), sent once every app has stopped, as pm2 does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KillNotice {
    pub status: String,
    pub msg: String,
}

/// A `process.send({ type, data })` from an app, published under its `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppMessage {
    pub at: i64,
    pub data: Value,
    pub process: Source,
}

#[derive(Debug, Clone, PartialEq)]
pub enum BusEvent {
    /// `process:event`
    Process(ProcessEvent),
    /// `log:out`
    Out(LogLine),
    /// `log:err`
    Err(LogLine),
    /// `pm2:kill`
    Kill(KillNotice),
    /// Any other channel: an app's message under its `type` (`process:msg` by convention).
    Message {
        channel: String,
        message: AppMessage,
    },
}

pub const PROCESS_EVENT: &str = "process:event";
pub const LOG_OUT: &str = "log:out";
pub const LOG_ERR: &str = "log:err";
pub const PM2_KILL: &str = "pm2:kill";

impl BusEvent {
    pub fn channel(&self) -> &str {
        match self {
            BusEvent::Process(_) => PROCESS_EVENT,
            BusEvent::Out(_) => LOG_OUT,
            BusEvent::Err(_) => LOG_ERR,
            BusEvent::Kill(_) => PM2_KILL,
            BusEvent::Message { channel, .. } => channel,
        }
    }

    /// Types an event by its channel. An app may send a message under a reserved channel
    /// name; when its data does not have that channel's shape it stays a message.
    pub fn from_parts(channel: String, data: Value) -> Result<Self, serde_json::Error> {
        let typed = match channel.as_str() {
            PROCESS_EVENT => serde_json::from_value(data.clone())
                .map(BusEvent::Process)
                .ok(),
            LOG_OUT => serde_json::from_value(data.clone()).map(BusEvent::Out).ok(),
            LOG_ERR => serde_json::from_value(data.clone()).map(BusEvent::Err).ok(),
            PM2_KILL => serde_json::from_value(data.clone())
                .map(BusEvent::Kill)
                .ok(),
            _ => None,
        };
        if let Some(ev) = typed {
            return Ok(ev);
        }
        Ok(BusEvent::Message {
            message: serde_json::from_value(data)?,
            channel,
        })
    }
}

#[derive(Serialize)]
struct WireOut<'a, T: Serialize> {
    channel: &'a str,
    data: &'a T,
}

#[derive(Deserialize)]
struct WireIn {
    channel: String,
    data: Value,
}

impl Serialize for BusEvent {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let channel = self.channel();
        match self {
            BusEvent::Process(d) => WireOut { channel, data: d }.serialize(s),
            BusEvent::Out(d) | BusEvent::Err(d) => WireOut { channel, data: d }.serialize(s),
            BusEvent::Kill(d) => WireOut { channel, data: d }.serialize(s),
            BusEvent::Message { message, .. } => WireOut {
                channel,
                data: message,
            }
            .serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for BusEvent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let w = WireIn::deserialize(d)?;
        BusEvent::from_parts(w.channel, w.data).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn same_bytes(channel: &str, data: Value) {
        let ev = BusEvent::from_parts(channel.into(), data.clone()).expect("typed");
        assert_eq!(
            serde_json::to_string(&ev).expect("serialisable"),
            json!({ "channel": channel, "data": data }).to_string()
        );
    }

    #[test]
    fn each_channel_keeps_pm2s_shape() {
        same_bytes(
            "process:event",
            json!({ "event": "online", "at": 1, "process": { "name": "a", "pm_id": 0,
                "namespace": "default", "status": "online", "restart_time": 0, "unstable_restarts": 0 } }),
        );
        same_bytes(
            "log:out",
            json!({ "process": { "pm_id": 0, "name": "a", "rev": null, "namespace": "default" }, "data": "hello\n", "at": 2 }),
        );
        same_bytes(
            "log:err",
            json!({ "process": { "pm_id": 1, "name": "b", "rev": null }, "data": "oops", "at": 3 }),
        );
        same_bytes(
            "process:msg",
            json!({ "at": 4, "data": { "any": ["thing"] }, "process": { "pm_id": 0, "name": "a", "rev": null } }),
        );
        same_bytes(
            "pm2:kill",
            json!({ "status": "killed", "msg": "pm2 has been killed via CLI" }),
        );
        same_bytes(
            "process:exception",
            json!({ "at": 5, "data": { "message": "boom", "stack": "Error: boom" }, "process": { "pm_id": 0, "name": "a", "rev": null } }),
        );
    }

    #[test]
    fn an_app_message_on_a_reserved_channel_stays_a_message() {
        let data = json!({ "at": 4, "data": 42, "process": { "pm_id": 0, "name": "a" } });
        let ev = BusEvent::from_parts("log:out".into(), data).expect("a message");
        assert!(matches!(ev, BusEvent::Message { ref channel, .. } if channel == "log:out"));
    }
}
