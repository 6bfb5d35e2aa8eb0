//! `kill`: stops every app and tells the bus (`pm2:kill`). The server answers and then shuts the
//! daemon down, so the client hears back before the socket goes away.

use crate::daemon::Daemon;
use crate::supervisor::{Control, Event};

pub async fn kill(d: &Daemon) {
    let all = d.registry().all();
    let _ = d.each(all, Control::Stop).await;
    let _ = d.ctx.bus.send(Event {
        channel: crate::protocol::event::PM2_KILL.into(),
        data: serde_json::json!({ "status": "killed", "msg": "pm2 has been killed via CLI" }),
    });
}
