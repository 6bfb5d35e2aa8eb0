//! A child's stdout and stderr: into its log files (and the combined one), formatted as the app
//! asks, and onto the bus as `log:out` / `log:err` while anyone listens.

use std::path::PathBuf;

use serde_json::json;

use super::task::Task;
use super::{now_ms, Event, ProcInfo};
use crate::logs::{self, Sinks, Stream};

type Pipe = Box<dyn tokio::io::AsyncRead + Unpin + Send>;

impl Task {
    /// `output`: stamped on every line when the app's silence is checked.
    pub(super) fn attach_logs(
        &self,
        info: &ProcInfo,
        stdout: Option<std::os::fd::OwnedFd>,
        stderr: Option<std::os::fd::OwnedFd>,
        output: Option<std::sync::Arc<super::monitor::Stamps>>,
    ) {
        // Checked by `start`, so this cannot fail; if it did, the global policy would apply.
        let rotation =
            crate::config::settings::app_override(&info.spec.rotate_settings()).unwrap_or_default();
        let info_handle = self.info.clone();
        let on_fault: std::sync::Arc<dyn Fn(Option<String>) + Send + Sync> =
            std::sync::Arc::new(move |fault| {
                let mut i = info_handle.lock().unwrap_or_else(|p| p.into_inner());
                i.log_error = fault;
            });
        let sinks = |own: &Option<PathBuf>| {
            let mut files = Vec::new();
            for p in [own.as_ref(), info.paths.combined.as_ref()]
                .into_iter()
                .flatten()
            {
                match self.ctx.logs.get_for(p, rotation.clone()) {
                    Ok(f) => files.push(f),
                    Err(e) => elog!(
                        "{}: cannot open log {}: {e}",
                        info.shown_name(),
                        p.display()
                    ),
                }
            }
            Sinks {
                files,
                on_fault: Some(on_fault.clone()),
            }
        };
        let format = logs::LineFormat {
            date_format: info
                .spec
                .log_date_format
                .as_deref()
                .map(crate::logs::pump::moment_to_chrono)
                .or_else(|| {
                    (info.spec.time == Some(true)).then(|| "%Y-%m-%dT%H:%M:%S".to_string())
                }),
            json: (info.spec.log_type.as_deref() == Some("json")).then(|| logs::pump::JsonTag {
                app_name: info.name.clone(),
                process_id: info.pm_id,
            }),
        };
        // Pipes, spawned here or kept by the keeper for an adopted child.
        let open = |fd: std::os::fd::OwnedFd| {
            tokio::net::unix::pipe::Receiver::from_owned_fd(fd)
                .map(|p| Box::new(p) as Pipe)
                .ok()
        };
        let stdout = stdout.and_then(open);
        let stderr = stderr.and_then(open);
        let streams = [
            (stdout, Stream::Out, &info.paths.out),
            (stderr, Stream::Err, &info.paths.err),
        ];
        for (reader, stream, own) in streams {
            let Some(reader) = reader else { continue };
            let bus = self.ctx.bus.clone();
            let (id, name, ns) = (info.pm_id, info.name.clone(), info.namespace.clone());
            let output = output.clone();
            let channel = if stream == Stream::Out {
                "log:out"
            } else {
                "log:err"
            };
            tokio::spawn(logs::pump(
                reader,
                stream,
                sinks(own),
                format.clone(),
                move |line| {
                    if let Some(s) = &output {
                        super::monitor::Stamps::touch(&s.output);
                    }
                    if bus.receiver_count() > 0 {
                        let data = json!({ "process": { "pm_id": id, "name": name, "rev": null, "namespace": ns }, "data": String::from_utf8_lossy(line), "at": now_ms() });
                        let _ = bus.send(Event {
                            channel: channel.into(),
                            data,
                        });
                    }
                },
            ));
        }
    }
}
