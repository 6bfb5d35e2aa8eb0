//! The apps' output on the runtime's own stdout and stderr, in pm2-runtime's four shapes
//! (lib/API/Log.js): raw by default (stdout lines to stdout, stderr lines to stderr, as if the
//! app ran alone), `--formatted` (`0|web | line`), `--json` (one object a line, plus
//! `process_event` lines) and `--format` (`key=value`). Rendering is a pure function of the
//! event so each shape is tested without processes.

use chrono::TimeZone;
use serde_json::json;

use crate::protocol::event::LogLine;
use crate::protocol::BusEvent;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Raw,
    Formatted,
    Json,
    KeyValue,
}

/// Which of the runtime's streams a rendered piece goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum To {
    Out,
    Err,
}

pub struct Echo {
    style: Style,
    /// pm2's `min_padding`: the widest `id|name` seen so far, plus one; it only grows.
    pad: usize,
}

impl Echo {
    pub fn new(style: Style) -> Self {
        Echo { style, pad: 3 }
    }

    /// What to write for one bus event: `(stream, text)` pieces, each ending in a newline.
    pub fn render(&mut self, ev: &BusEvent) -> Vec<(To, String)> {
        match ev {
            BusEvent::Out(l) => self.line(l, false),
            BusEvent::Err(l) => self.line(l, true),
            BusEvent::Process(p) if self.style == Style::Json => {
                let v = json!({
                    "timestamp": iso(p.at),
                    "type": "process_event",
                    "status": p.event,
                    "app_name": p.process.name,
                });
                vec![(To::Out, format!("{v}\n"))]
            }
            BusEvent::Process(p) => match p.event.as_str() {
                // pm2-runtime's in-process God logs these on stdout in every other shape.
                "online" => vec![(
                    To::Out,
                    pm2_log(
                        p.at,
                        &format!("App [{}:{}] online", p.process.name, p.process.pm_id),
                    ),
                )],
                _ => Vec::new(),
            },
            BusEvent::Message { .. } | BusEvent::Kill(_) => Vec::new(),
        }
    }

    fn line(&mut self, l: &LogLine, is_err: bool) -> Vec<(To, String)> {
        if self.style == Style::Json {
            // pm2 strips the line breaks and keeps the line even when it is empty.
            let v = json!({
                "message": l.data.replace(['\r', '\n'], ""),
                "timestamp": iso(l.at),
                "type": if is_err { "err" } else { "out" },
                "process_id": l.process.pm_id,
                "app_name": l.process.name,
            });
            return vec![(To::Out, format!("{v}\n"))];
        }
        let mut out = Vec::new();
        for text in l.data.split('\n').filter(|t| !t.is_empty()) {
            let piece = match self.style {
                Style::Raw => {
                    let to = if is_err { To::Err } else { To::Out };
                    out.push((to, format!("{text}\n")));
                    continue;
                }
                Style::Formatted => {
                    let name = format!("{}|{}", l.process.pm_id, l.process.name);
                    let width = name.chars().count();
                    if width > self.pad {
                        self.pad = width + 1;
                    }
                    format!("{name:<pad$}| {text}\n", pad = self.pad)
                }
                Style::KeyValue => format!(
                    "timestamp={} app={} id={} type={} message={text}\n",
                    local(l.at).format("%Y-%m-%d-%H:%M:%S%z"),
                    l.process.name,
                    l.process.pm_id,
                    if is_err { "error" } else { "out" },
                ),
                Style::Json => unreachable!("handled above"),
            };
            out.push((To::Out, piece));
        }
        out
    }
}

/// A line in the shape of pm2's own `PM2 log:` lines.
pub fn pm2_log(at: i64, msg: &str) -> String {
    format!(
        "{}: PM2 log: {msg}\n",
        local(at).format("%Y-%m-%dT%H:%M:%S")
    )
}

/// dayjs's JSON form: UTC, milliseconds, `Z`.
fn iso(at_ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(at_ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn local(at_ms: i64) -> chrono::DateTime<chrono::Local> {
    chrono::Local
        .timestamp_millis_opt(at_ms)
        .single()
        .unwrap_or_else(chrono::Local::now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::event::{EventProcess, ProcessEvent, Source};

    fn out(data: &str, name: &str, id: u32) -> BusEvent {
        BusEvent::Out(LogLine {
            process: Source {
                pm_id: id,
                name: name.into(),
                rev: None,
                namespace: None,
            },
            data: data.into(),
            at: 1_764_636_318_041,
        })
    }

    fn err(data: &str) -> BusEvent {
        match out(data, "web", 0) {
            BusEvent::Out(l) => BusEvent::Err(l),
            _ => unreachable!(),
        }
    }

    #[test]
    fn raw_keeps_the_stream_and_the_line() {
        let mut e = Echo::new(Style::Raw);
        assert_eq!(
            e.render(&out("hi", "web", 0)),
            vec![(To::Out, "hi\n".into())]
        );
        assert_eq!(e.render(&err("oops")), vec![(To::Err, "oops\n".into())]);
        assert!(e.render(&out("", "web", 0)).is_empty());
    }

    #[test]
    fn formatted_pads_like_pm2() {
        let mut e = Echo::new(Style::Formatted);
        assert_eq!(
            e.render(&out("hi", "web", 0)),
            vec![(To::Out, "0|web | hi\n".into())]
        );
        // A longer name widens the column for everyone after it.
        e.render(&out("x", "worker", 12));
        assert_eq!(
            e.render(&err("oops")),
            vec![(To::Out, "0|web     | oops\n".into())]
        );
    }

    #[test]
    fn json_has_pm2s_keys_in_pm2s_order() {
        let mut e = Echo::new(Style::Json);
        let r = e.render(&out("hello out", "app", 0));
        assert_eq!(
            r[0].1,
            "{\"message\":\"hello out\",\"timestamp\":\"2025-12-02T00:45:18.041Z\",\"type\":\"out\",\"process_id\":0,\"app_name\":\"app\"}\n"
        );
        let ev = BusEvent::Process(ProcessEvent {
            event: "online".into(),
            at: 1_764_636_318_041,
            process: EventProcess {
                name: "app".into(),
                pm_id: 0,
                namespace: "default".into(),
                status: "online".into(),
                restart_time: 0,
                unstable_restarts: 0,
            },
        });
        assert_eq!(
            e.render(&ev)[0].1,
            "{\"timestamp\":\"2025-12-02T00:45:18.041Z\",\"type\":\"process_event\",\"status\":\"online\",\"app_name\":\"app\"}\n"
        );
    }

    #[test]
    fn key_value_names_error_lines() {
        let mut e = Echo::new(Style::KeyValue);
        let r = e.render(&err("oops"));
        assert_eq!(r[0].0, To::Out);
        assert!(r[0].1.starts_with("timestamp="), "{}", r[0].1);
        assert!(
            r[0].1.ends_with(" app=web id=0 type=error message=oops\n"),
            "{}",
            r[0].1
        );
    }
}
