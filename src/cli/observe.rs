//! `pm metrics` and `pm dashboard`: they write the `pm-native:*` settings, which the daemon
//! reads at start and on every settings change, so what they turn on outlives the daemon.

use anyhow::bail;
use clap::Args;

use super::client::Client;
use super::Out;
use crate::config::settings::{self, Settings, PM_NATIVE};
use crate::config::Home;
use crate::protocol::Request;

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// The port to listen on (default: 9209 for metrics, 9615 for the dashboard).
    #[arg(long)]
    pub port: Option<u16>,
    /// The address to listen on: loopback unless another is asked for.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Stop serving.
    #[arg(long, conflicts_with_all = ["port"])]
    pub off: bool,
    /// `pm metrics` only: serve /metrics to anyone who can reach it, without a token.
    #[arg(long = "no-token")]
    pub no_token: bool,
}

/// The service's token, kept across runs (a scrape config holds it), new when there is none;
/// unset when the service stops or is asked to run open.
fn token(s: &mut Settings, what: &str, keep: bool) -> anyhow::Result<Option<String>> {
    let key = format!("{PM_NATIVE}:{what}_token");
    if !keep {
        s.unset(&key)?;
        return Ok(None);
    }
    let token = match s.get(&key)?.and_then(|v| v.as_str()) {
        Some(t) if t.len() >= 32 => t.to_string(),
        _ => uuid::Uuid::new_v4().simple().to_string(),
    };
    s.set(&key, &token)?;
    Ok(Some(token))
}

fn configure(
    home: &Home,
    what: &str,
    a: &ServeArgs,
    default_port: u16,
) -> anyhow::Result<Settings> {
    if a.host.parse::<std::net::IpAddr>().is_err() {
        bail!("--host {}: not an IP address", a.host);
    }
    let path = settings::path(home);
    let mut s = Settings::load(&path)?;
    if a.off {
        s.unset(&format!("{PM_NATIVE}:{what}_port"))?;
        s.unset(&format!("{PM_NATIVE}:{what}_host"))?;
    } else {
        let port = a.port.unwrap_or(default_port);
        if port == 0 {
            bail!("--port 0: choose a port, the address must stay the same across restarts");
        }
        s.set(&format!("{PM_NATIVE}:{what}_port"), &port.to_string())?;
        s.set(&format!("{PM_NATIVE}:{what}_host"), &a.host)?;
    }
    Ok(s)
}

/// Saves the settings and has the daemon (started if need be) apply them.
fn save_and_apply(home: &Home, s: &Settings) -> anyhow::Result<()> {
    s.save()?;
    Client::connect(home)?.call_ok(&Request::SettingsChanged)?;
    Ok(())
}

fn url_host(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

pub fn metrics(home: &Home, a: ServeArgs, out: &Out) -> anyhow::Result<i32> {
    let mut s = configure(home, "metrics", &a, 9209)?;
    let token = token(&mut s, "metrics", !a.off && !a.no_token)?;
    save_and_apply(home, &s)?;
    if a.off {
        out.line("[PM2] Prometheus metrics no longer served");
        return Ok(0);
    }
    out.line(format!(
        "[PM2] Prometheus metrics on http://{}:{}/metrics",
        url_host(&a.host),
        a.port.unwrap_or(9209)
    ));
    match token {
        // Printed even with --silent: without it the endpoint cannot be scraped.
        Some(t) => println!("[PM2] scrape with the header Authorization: Bearer {t} (Prometheus: authorization: {{ credentials: {t} }})"),
        None => out.line("[PM2][WARN] served without a token: anyone who reaches the port reads every app's name and figures"),
    }
    Ok(0)
}

pub fn dashboard(home: &Home, a: ServeArgs, out: &Out) -> anyhow::Result<i32> {
    if a.no_token {
        bail!("--no-token: the dashboard acts on the apps and always wants its token");
    }
    let mut s = configure(home, "dashboard", &a, 9615)?;
    let token = token(&mut s, "dashboard", !a.off)?.unwrap_or_default();
    save_and_apply(home, &s)?;
    if a.off {
        out.line("[PM2] Dashboard no longer served");
    } else {
        // The URL is the key: anyone who can read it can act on the apps.
        println!(
            "http://{}:{}/?token={token}",
            url_host(&a.host),
            a.port.unwrap_or(9615)
        );
    }
    Ok(0)
}
