//! `pm serve [path] [port]` (alias `expose`): pm2's static file server, started as an app that
//! runs the server the daemon keeps in the home, configured by PM2_SERVE_* variables as pm2's.

use anyhow::{anyhow, bail, Context};
use serde_json::{Map, Value};

use super::args::ServeArgs;
use super::client::Client;
use super::start::{caller_env, print_reports};
use super::Out;
use crate::config::{ecosystem, Home};
use crate::protocol::{AppSpec, ApplyRequest, OnExisting, Request, Response};

pub fn serve(home: &Home, a: ServeArgs, out: &Out) -> anyhow::Result<i32> {
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    // pm2 lets PM2_SERVE_PORT / PM2_SERVE_PATH in the caller's environment win.
    let port_text = std::env::var("PM2_SERVE_PORT")
        .ok()
        .or(a.port_arg.clone())
        .or(a.port.clone())
        .unwrap_or_else(|| "8080".into());
    let port: u16 = port_text
        .trim()
        .parse()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| {
            anyhow!("serve: the port must be a number from 1 to 65535, got \"{port_text}\"")
        })?;
    let given = std::env::var("PM2_SERVE_PATH")
        .ok()
        .or(a.path.clone())
        .unwrap_or_else(|| ".".into());
    let path = crate::config::paths::resolve(&cwd, &given);
    if !path.is_dir() {
        bail!("serve: {} is not a directory", path.display());
    }
    if a.monitor.is_some() {
        eprintln!("{}", super::tolerated::warning("--monitor"));
    }
    let mut env = Map::new();
    let mut set = |k: &str, v: String| {
        env.insert(k.to_string(), Value::String(v));
    };
    set("PM2_SERVE_PORT", port.to_string());
    set("PM2_SERVE_PATH", path.display().to_string());
    set("PM2_SERVE_SPA", a.spa.to_string());
    set("PM2_SERVE_FTP", a.ftp.to_string());
    match (&a.basic_auth_username, &a.basic_auth_password) {
        (Some(u), Some(p)) => {
            set("PM2_SERVE_BASIC_AUTH", "true".into());
            set("PM2_SERVE_BASIC_AUTH_USERNAME", u.clone());
            set("PM2_SERVE_BASIC_AUTH_PASSWORD", p.clone());
        }
        (None, None) => {}
        _ => bail!("serve: basic auth needs both --basic-auth-username and --basic-auth-password"),
    }
    let app = AppSpec {
        name: Some(
            a.name
                .unwrap_or_else(|| format!("static-page-server-{port}")),
        ),
        script: ecosystem::SERVE_SCRIPT.into(),
        cwd: Some(path.display().to_string()),
        env,
        ..Default::default()
    };
    let req = Request::Apply(ApplyRequest {
        apps: vec![app],
        env: caller_env(),
        force: false,
        on_existing: OnExisting::Start,
        from_file: false,
        word: None,
        update_env: false,
        update: Default::default(),
    });
    let reports = match Client::connect(home)?.call_ok(&req)? {
        Response::Applied { apps } => apps,
        other => bail!("unexpected answer from the daemon: {other:?}"),
    };
    let script = home.serve_file().display().to_string();
    print_reports(&reports, &script, false, false, out);
    out.line(format!("[PM2] Serving {} on port {port}", path.display()));
    super::show_table(home, out)?;
    Ok(0)
}
