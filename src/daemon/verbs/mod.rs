//! One dispatcher, one file per verb: the `match` below only routes, and each arm's logic
//! lives next to it, so a verb can be read without the others.

mod admit;
mod apply;
mod conf;
mod delete;
pub(super) mod depends;
mod dump;
mod flush;
mod kill;
mod list;
mod reset;
mod restart;
mod scale;
mod send;
mod signal;
pub(super) mod start;
mod stop;

use super::Daemon;
use crate::protocol::{Error, Request, Response};
use crate::supervisor::ProcInfo;

/// Writes the dump now, forced (the autodump's save).
pub(super) fn dump_now(d: &Daemon) -> Result<(), Error> {
    dump::dump(d, true).map(|_| ())
}

/// Whether a request changes what `pm save` would write (for the autodump).
fn changes_list(req: &Request) -> bool {
    match req {
        Request::Start(_) | Request::Apply(_) | Request::Delete(_) | Request::Scale(_) => true,
        Request::Restart(r) => r.update_env.is_some() || r.app_env.is_some(),
        _ => false,
    }
}

impl Daemon {
    pub async fn handle(&self, req: Request) -> Response {
        let changes = changes_list(&req);
        let answer = self.dispatch(req).await;
        // A failed start may still have started some apps, so any answer counts.
        if changes {
            self.list_changed();
            // Written before the answer: an app the caller has heard of is known to a
            // successor even if this daemon dies at once (the writer task would take a turn).
            if self.ctx.keeper.is_enabled() {
                crate::daemon::live::save(self).await;
            }
        }
        match answer {
            Ok(r) => r,
            Err(error) => Response::error(error),
        }
    }

    /// The answer's frame, ready to write. `List` is written from the kept views (the one
    /// request whose answer grows with the fleet and is asked for again and again).
    pub async fn answer(&self, req: Request) -> Vec<u8> {
        if matches!(req, Request::List) {
            return self.list_frame();
        }
        let resp = self.handle(req).await;
        crate::protocol::frame::encode(&resp).unwrap_or_else(|e| {
            let failed = Response::error(Error::failed(format!("cannot encode the answer: {e}")));
            crate::protocol::frame::encode(&failed).unwrap_or_default()
        })
    }

    async fn dispatch(&self, req: Request) -> Result<Response, Error> {
        let procs = |infos: Vec<ProcInfo>| Response::Procs {
            procs: self.render(&infos),
        };
        Ok(match req {
            Request::Hello(_) => return Err(Error::invalid("already greeted")),
            Request::Subscribe => {
                return Err(Error::invalid(
                    "subscribe must be the connection's only request",
                ))
            }
            Request::Queue(_) => {
                return Err(Error::invalid(
                    "a queue request must be the connection's first request",
                ))
            }
            Request::Ping => Response::Pong {
                pid: std::process::id(),
            },
            Request::List => procs(list::list(self)),
            Request::Brief => Response::Briefs {
                procs: self.briefs(),
            },
            Request::Select(t) => procs(list::select(self, &t)?),
            Request::Describe(r) => procs(list::describe(self, &r.target)),
            Request::Start(r) => procs(start::start(self, r).await?),
            Request::Apply(r) => Response::Applied {
                apps: self.reports(apply::apply(self, r).await?),
            },
            Request::Dump(r) => procs(dump::dump(self, r.force)?),
            Request::Scale(r) => procs(scale::scale(self, &r.name, &r.count).await?),
            Request::Stop(t) => procs(stop::stop(self, &t).await?),
            Request::Restart(r) => procs(restart::restart(self, r).await?),
            Request::Delete(t) => procs(delete::delete(self, &t).await?),
            Request::Reset(t) => procs(reset::reset(self, &t)?),
            Request::Flush(t) => procs(flush::flush(self, &t)?),
            Request::ReloadLogs => {
                flush::reload_logs(self)?;
                Response::Done
            }
            Request::SettingsChanged => {
                conf::settings_changed(self)?;
                Response::Done
            }
            Request::SendSignal(r) => procs(signal::send_signal(self, &r).await?),
            Request::SendLine(r) => procs(send::send_line(self, &r).await?),
            Request::SendData(r) => procs(send::send_data(self, &r).await?),
            Request::Trigger(r) => procs(send::trigger(self, &r).await?),
            Request::Kill => {
                kill::kill(self).await;
                Response::Done
            }
        })
    }
}
