//! `pm attach <pm_id> [separator]` (pm2's `attach`): the app's output in this terminal, and
//! each line typed sent to its stdin, until stdin ends (Ctrl-D) or the daemon goes away.

use std::io::{BufRead, Write};

use super::client::Client;
use crate::config::Home;
use crate::protocol::event::BusEvent;
use crate::protocol::{Request, SendLineRequest};

pub fn attach(home: &Home, id: &str, separator: Option<&str>) -> anyhow::Result<i32> {
    let Ok(pm_id) = id.parse::<u32>() else {
        anyhow::bail!("pm_id must be a process number (not a process name)");
    };
    // Known before the first line is typed: an unknown id fails now, not at the first send.
    if !super::list(home)?.iter().any(|p| p.pm_id == pm_id) {
        anyhow::bail!("process {pm_id} not found");
    }
    let mut bus = Client::connect(home)?.subscribe()?;
    std::thread::spawn(move || {
        let mut out = std::io::stdout();
        while let Ok(ev) = bus.next_event() {
            let line = match ev {
                BusEvent::Out(l) | BusEvent::Err(l) if l.process.pm_id == pm_id => l,
                BusEvent::Kill(_) => break,
                _ => continue,
            };
            let _ = out.write_all(line.data.as_bytes());
            if !line.data.ends_with('\n') {
                let _ = out.write_all(b"\n");
            }
            let _ = out.flush();
        }
        // The daemon is gone: nothing more to show or to send to.
        std::process::exit(0);
    });
    let mut client = Client::connect(home)?;
    for line in std::io::stdin().lock().lines() {
        let line = line?;
        // pm2 sends `line + separator`; the daemon ends what it writes with the newline.
        let mut text = line + separator.unwrap_or("\n");
        if text.ends_with('\n') {
            text.pop();
        }
        client.call_ok(&Request::SendLine(SendLineRequest {
            target: pm_id.to_string(),
            cwd: None,
            line: text,
        }))?;
    }
    Ok(0)
}
