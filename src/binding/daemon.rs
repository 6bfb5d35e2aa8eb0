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
    // A daemon killed a moment ago: its main thread is gone, but its socket stays open (and
    // accepts) until its last thread has exited, closing connections unanswered. Soon nothing
    // answers, and a new daemon is started.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(3);
    loop {
        match connect_once(home, bin).await {
            Err(Greet::Closed(_)) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await
            }
            Err(Greet::Closed(e) | Greet::Refused(e)) => return Err(e),
            Ok(c) => return Ok(c),
        }
    }
}

/// Why connecting failed: a connection closed without an answer (a daemon on its way out), or
/// anything else.
enum Greet {
    Closed(String),
    Refused(String),
}

async fn connect_once(home: &Home, bin: Option<&str>) -> Result<(UnixStream, bool), Greet> {
    let mut started = false;
    let stream = match UnixStream::connect(home.rpc_socket()).await {
        Ok(s) => s,
        Err(e) => {
            let Some(bin) = bin else {
                let shown = home.rpc_socket().display().to_string();
                return Err(Greet::Refused(format!("no daemon on {shown}: {e}")));
            };
            start_daemon(home, bin).await.map_err(Greet::Refused)?;
            started = true;
            UnixStream::connect(home.rpc_socket()).await.map_err(|e| {
                Greet::Refused(format!("the daemon started but does not answer: {e}"))
            })?
        }
    };
    Ok((greet(stream).await?, started))
}

async fn greet(mut s: UnixStream) -> Result<UnixStream, Greet> {
    let hello = Request::Hello(Hello {
        protocol: PROTOCOL_VERSION,
        version: VERSION.into(),
    });
    frame::write(&mut s, &hello)
        .await
        .map_err(|e| Greet::Closed(format!("cannot talk to the daemon: {e}")))?;
    let unanswered =
        "the daemon did not answer the handshake; run `pm kill` to stop it, then retry";
    match frame::read::<_, Response>(&mut s).await {
        Ok(Response::Hello(h)) if h.protocol == PROTOCOL_VERSION => Ok(s),
        Ok(Response::Hello(h)) => Err(Greet::Refused(format!(
            "the running daemon is pm-native {} (protocol {}), this library is {VERSION} (protocol {PROTOCOL_VERSION}); run `pm kill` to stop it, then retry",
            h.version, h.protocol
        ))),
        Ok(_) => Err(Greet::Refused(unanswered.into())),
        Err(_) => Err(Greet::Closed(unanswered.into())),
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

/// What one request came to: the daemon's JSON answer, or why it was refused.
enum Answer {
    Json(String),
    Refused(crate::protocol::Error),
}

/// Sends one request (a JSON `Request`) and resolves with the daemon's JSON `Response`; a
/// refusal rejects with an `Error` whose `message` is pm2's and whose `code` is the daemon's
/// (`not_found`, `no_process`, ...), so callers branch on the code rather than the wording.
/// Starts the daemon when none runs, except for `kill`.
#[napi(ts_return_type = "Promise<string>")]
pub fn daemon_request(
    env: &napi::Env,
    home: Option<String>,
    bin: String,
    request: String,
) -> napi::Result<napi::bindgen_prelude::PromiseRaw<'_, String>> {
    env.spawn_future_with_callback(
        exchange(home_of(home), bin, request),
        |env, answer| match answer {
            Answer::Json(json) => Ok(json),
            Answer::Refused(e) => Err(coded_error(env, e.code(), &e.to_string())),
        },
    )
}

/// A JS `Error` with `message` and `code` both set (napi's own errors carry a status there).
fn coded_error(env: &napi::Env, code: &str, message: &str) -> napi::Error {
    use napi::bindgen_prelude::JsObjectValue;
    use napi::JsValue;
    let made = env
        .create_error(napi::Error::from_reason(message))
        .and_then(|mut obj| {
            obj.set_named_property("code", code)?;
            Ok(napi::Error::from(obj.to_unknown()))
        });
    made.unwrap_or_else(|e| e)
}

async fn exchange(home: Home, bin: String, request: String) -> napi::Result<Answer> {
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
        Err(_) if is_kill => {
            return Ok(Answer::Json(
                serde_json::json!({ "kind": "done" }).to_string(),
            ))
        }
        Err(e) => return Err(err(e)),
    };
    frame::write(&mut s, &req).await.map_err(err)?;
    let resp: Response = frame::read(&mut s)
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
    Ok(match resp {
        Response::Error { error, .. } => Answer::Refused(error),
        other => Answer::Json(serde_json::to_string(&other).map_err(err)?),
    })
}

/// Apps from an ecosystem file (JSON, YAML, JS), parsed as `pm start <file>` does; `only` is
/// pm2's `--only` as given (split here, as the CLI splits it). Resolves
/// with a JSON array of apps ready for a `start` request.
#[napi]
pub async fn apps_from_file(
    path: String,
    env_name: Option<String>,
    only: Option<String>,
) -> napi::Result<String> {
    tokio::task::spawn_blocking(move || {
        let p = crate::config::paths::absolute(Path::new(&path));
        if !p.exists() {
            return Err(format!("File {} not found", p.display()));
        }
        let only = only
            .as_deref()
            .map(crate::protocol::app::split_only)
            .unwrap_or_default();
        let apps = ecosystem::load(&p, env_name.as_deref(), &only).map_err(err_string)?;
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
/// must exist (a command line with a space is run by a shell, so it is left alone). Each app
/// gets its name as the daemon will derive it, so JS never derives one.
fn finish_apps(mut apps: Vec<AppSpec>, cwd: &Path) -> Result<String, String> {
    for app in &mut apps {
        app.name = Some(app.resolved_name());
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
        Ok(Response::Error { message, .. }) => return Err(message),
        Ok(other) => return Err(format!("unexpected answer to subscribe: {other:?}")),
        Err(e) => return Err(e.to_string()),
    }
    if bin.is_some() {
        send(serde_json::json!({ "kind": "done" }).to_string());
    }
    while let Ok(ev) = frame::read::<_, Response>(&mut s).await {
        match serde_json::to_string(&ev) {
            Ok(json) => send(json),
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok(())
}

/// pm2's rule for a config file rather than a script: the name contains `.json`, `.yml`,
/// `.yaml`, `.config.js`, `.config.cjs` or `.config.mjs`.
#[napi]
pub fn is_config_file(path: String) -> bool {
    ecosystem::is_config_file(&path)
}
