//! The daemon client behind `lib/pm2.js` (pm2's programmatic API): the same RPC socket, frames
//! and handshake as the CLI (`crate::cli::client`), async on the addon's runtime so JS is never
//! blocked, plus app loading through the CLI's own ecosystem parser.
//!
//! The CLI client starts a missing daemon by re-running its own executable; inside Node that
//! would be `node`, so here the native binary (`binPath`) is run as `pm ping` instead, which
//! starts the daemon under the CLI's start lock (exactly one daemon, however many race).

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use napi::bindgen_prelude::Function;
use napi::threadsafe_function::ThreadsafeFunctionCallMode;
use napi_derive::napi;
use serde_json::Value;
use tokio::net::UnixStream;
use tokio::sync::oneshot;

use crate::config::{ecosystem, Home};
use crate::protocol::{frame, AppSpec, Hello, Request, Response, PROTOCOL_VERSION, VERSION};

/// A bus that lost the daemon tries again this often (as pm2's axon socket reconnects).
const BUS_RETRY: Duration = Duration::from_millis(500);
/// How long killDaemon waits for the daemon to let go of its socket.
const KILL_WAIT: Duration = Duration::from_secs(5);

fn home_of(home: Option<String>) -> Home {
    match home.filter(|h| !h.is_empty()) {
        Some(h) => Home::at(crate::config::paths::absolute(Path::new(&h))),
        None => Home::from_env(),
    }
}

fn err(msg: impl std::fmt::Display) -> napi::Error {
    napi::Error::from_reason(msg.to_string())
}

/// The daemon's home directory: `home` if given, else `PM_HOME`, `PM2_HOME`, `~/.pm`.
#[napi]
pub fn home_dir(home: Option<String>) -> String {
    home_of(home).root.display().to_string()
}

/// Connects and greets; when nothing answers and `bin` is given, starts the daemon first.
/// Returns the stream and whether a daemon had to be started.
async fn connect(home: &Home, bin: Option<&str>) -> Result<(UnixStream, bool), String> {
    let mut started = false;
    let stream = match UnixStream::connect(home.rpc_socket()).await {
        Ok(s) => s,
        Err(e) => {
            let Some(bin) = bin else {
                return Err(format!("no daemon on {}: {e}", home.rpc_socket().display()));
            };
            start_daemon(home, bin).await?;
            started = true;
            UnixStream::connect(home.rpc_socket())
                .await
                .map_err(|e| format!("the daemon started but does not answer: {e}"))?
        }
    };
    Ok((greet(stream).await?, started))
}

async fn greet(mut s: UnixStream) -> Result<UnixStream, String> {
    let hello = Request::Hello(Hello {
        protocol: PROTOCOL_VERSION,
        version: VERSION.into(),
    });
    frame::write(&mut s, &hello)
        .await
        .map_err(|e| format!("cannot talk to the daemon: {e}"))?;
    match frame::read::<_, Response>(&mut s).await {
        Ok(Response::Hello(h)) if h.protocol == PROTOCOL_VERSION => Ok(s),
        Ok(Response::Hello(h)) => Err(format!(
            "the running daemon is pm-native {} (protocol {}), this library is {VERSION} (protocol {PROTOCOL_VERSION}); run `pm kill` to stop it, then retry",
            h.version, h.protocol
        )),
        _ => Err("the daemon did not answer the handshake; run `pm kill` to stop it, then retry".into()),
    }
}

/// Runs `<bin> ping` with this home. A blocking wait on its own thread: tokio's child wait
/// needs SIGCHLD, which libuv may own in a Node process.
async fn start_daemon(home: &Home, bin: &str) -> Result<(), String> {
    let (bin, root) = (PathBuf::from(bin), home.root.clone());
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(&bin)
            .arg("ping")
            .env("PM_HOME", &root)
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|e| format!("cannot run {}: {e}", bin.display()))
    })
    .await
    .map_err(err_string)??;
    if !out.status.success() {
        return Err(format!(
            "cannot start the daemon: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(())
}

fn err_string(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Makes sure a daemon runs; resolves `true` when this call had to start it.
#[napi]
pub async fn ensure_daemon(home: Option<String>, bin: String) -> napi::Result<bool> {
    let home = home_of(home);
    connect(&home, Some(&bin)).await.map(|c| c.1).map_err(err)
}

/// Sends one request (a JSON `Request`) and resolves with the daemon's JSON `Response`.
/// Starts the daemon when none runs, except for `kill`.
#[napi]
pub async fn daemon_request(
    home: Option<String>,
    bin: String,
    request: String,
) -> napi::Result<String> {
    let home = home_of(home);
    let req: Request =
        serde_json::from_str(&request).map_err(|e| err(format!("invalid request: {e}")))?;
    if matches!(req, Request::Hello(_) | Request::Subscribe) {
        return Err(err(
            "hello and subscribe are not requests (use subscribeBus)",
        ));
    }
    let is_kill = matches!(req, Request::Kill);
    let spawn = (!is_kill).then_some(bin.as_str());
    let mut s = match connect(&home, spawn).await {
        Ok((s, _)) => s,
        // Killing a daemon that is not there is done already.
        Err(_) if is_kill => return Ok(serde_json::json!({ "kind": "done" }).to_string()),
        Err(e) => return Err(err(e)),
    };
    frame::write(&mut s, &req).await.map_err(err)?;
    let resp: Value = frame::read(&mut s)
        .await
        .map_err(|e| err(format!("the daemon closed the connection: {e}")))?;
    if is_kill {
        // Answered before it exits: wait until it has let go of the socket, so a start that
        // follows talks to a new daemon rather than the dying one.
        let deadline = tokio::time::Instant::now() + KILL_WAIT;
        while UnixStream::connect(home.rpc_socket()).await.is_ok()
            && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    Ok(resp.to_string())
}

/// Apps from an ecosystem file (JSON, YAML, JS), parsed as `pm start <file>` does. Resolves
/// with a JSON array of apps ready for a `start` request.
#[napi]
pub async fn apps_from_file(
    path: String,
    env_name: Option<String>,
    only: Option<Vec<String>>,
) -> napi::Result<String> {
    tokio::task::spawn_blocking(move || {
        let p = crate::config::paths::absolute(Path::new(&path));
        if !p.exists() {
            return Err(format!("File {} not found", p.display()));
        }
        let apps = ecosystem::load(&p, env_name.as_deref(), &only.unwrap_or_default())
            .map_err(err_string)?;
        let cwd = p.parent().map(Path::to_path_buf).unwrap_or_default();
        finish_apps(apps, &cwd)
    })
    .await
    .map_err(err)?
    .map_err(err)
}

/// Apps from a pm2 app object, an array of them, or `{ apps: [...] }` (given as JSON), with
/// relative paths resolved against `cwd`. Resolves with a JSON array of apps.
#[napi]
pub fn apps_from_json(json: String, cwd: String, env_name: Option<String>) -> napi::Result<String> {
    let v: Value = serde_json::from_str(&json).map_err(err)?;
    let cwd = PathBuf::from(cwd);
    let apps =
        ecosystem::from_value(v, &cwd, env_name.as_deref(), &[], "the app options").map_err(err)?;
    finish_apps(apps, &cwd).map_err(err)
}

/// What `pm start` does after parsing: pm2's environment defaults, the cwd, and a script that
/// must exist (a command line with a space is run by a shell, so it is left alone).
fn finish_apps(mut apps: Vec<AppSpec>, cwd: &Path) -> Result<String, String> {
    for app in &mut apps {
        crate::config::apply_env_defaults(app);
        if app.cwd.is_none() {
            app.cwd = Some(cwd.display().to_string());
        }
        if !Path::new(&app.script).is_file() && !app.script.contains(' ') {
            return Err(format!("Script not found: {}", app.script));
        }
    }
    serde_json::to_string(&apps).map_err(err_string)
}

/// A live `launchBus` subscription; `close()` ends it and lets Node exit.
#[napi]
pub struct BusSubscription {
    stop: Mutex<Option<oneshot::Sender<()>>>,
}

#[napi]
impl BusSubscription {
    #[napi]
    pub fn close(&self) {
        if let Some(tx) = self.stop.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = tx.send(());
        }
    }
}

/// Subscribes to the daemon's event bus. `onFrame` receives each frame as JSON: first
/// `{"kind":"done"}` once subscribed (or `{"kind":"error","message"}` if that failed), then
/// `{"kind":"event","channel","data"}` per event. A lost daemon is reconnected to quietly.
#[napi]
pub fn subscribe_bus(
    home: Option<String>,
    bin: String,
    on_frame: Function<'_, String, ()>,
) -> napi::Result<BusSubscription> {
    // Not weak: like pm2's bus socket, a subscription keeps Node running until closed.
    let tsfn = on_frame
        .build_threadsafe_function::<String>()
        .callee_handled::<false>()
        .build()?;
    let (tx, mut rx) = oneshot::channel::<()>();
    let home = home_of(home);
    napi::bindgen_prelude::spawn(async move {
        let send = |s: String| {
            let _ = tsfn.call(s, ThreadsafeFunctionCallMode::NonBlocking);
        };
        let mut spawn = Some(bin);
        loop {
            tokio::select! {
                _ = &mut rx => return,
                r = stream_bus(&home, spawn.as_deref(), &send) => {
                    if let (Err(e), Some(_)) = (r, spawn.as_ref()) {
                        send(serde_json::json!({ "kind": "error", "message": e }).to_string());
                        return;
                    }
                }
            }
            // Connected once: from now on, wait for a daemon rather than start one.
            spawn = None;
            tokio::select! {
                _ = &mut rx => return,
                _ = tokio::time::sleep(BUS_RETRY) => {}
            }
        }
    });
    Ok(BusSubscription {
        stop: Mutex::new(Some(tx)),
    })
}

/// One subscription: forwards frames until the connection ends. Errors only before the
/// subscription is acknowledged.
async fn stream_bus(home: &Home, bin: Option<&str>, send: &impl Fn(String)) -> Result<(), String> {
    let (mut s, _) = connect(home, bin).await?;
    frame::write(&mut s, &Request::Subscribe)
        .await
        .map_err(err_string)?;
    match frame::read::<_, Response>(&mut s).await {
        Ok(Response::Done) => {}
        Ok(Response::Error { message }) => return Err(message),
        Ok(other) => return Err(format!("unexpected answer to subscribe: {other:?}")),
        Err(e) => return Err(e.to_string()),
    }
    if bin.is_some() {
        send(serde_json::json!({ "kind": "done" }).to_string());
    }
    while let Ok(v) = frame::read::<_, Value>(&mut s).await {
        send(v.to_string());
    }
    Ok(())
}

/// pm2's rule for a config file rather than a script: the name contains `.json`, `.yml`,
/// `.yaml`, `.config.js`, `.config.cjs` or `.config.mjs`.
#[napi]
pub fn is_config_file(path: String) -> bool {
    ecosystem::is_config_file(&path)
}
