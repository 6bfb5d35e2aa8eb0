//! `pm set`, `pm get`, `pm conf`, `pm unset` and `pm install`: pm2's settings verbs over its
//! `module_conf.json`, with pm2's lines. The built-in log rotation reads the `pm2-logrotate:*`
//! keys, so those are checked before anything is written, and a running daemon applies them
//! before the command returns.

use anyhow::{bail, Context};
use serde_json::Value;

use super::client::Client;
use super::Out;
use crate::config::settings::{self, Settings, LOGROTATE, LOGROTATE_KEYS};
use crate::config::Home;
use crate::protocol::Request;

/// `pm set <key> <value>`.
pub fn set(
    home: &Home,
    key: Option<String>,
    value: Option<String>,
    out: &Out,
) -> anyhow::Result<i32> {
    let (Some(key), Some(value)) = (key, value) else {
        bail!(
            "usage: pm set <key> <value> (pm2 would open an editor; edit {} instead)",
            settings::path(home).display()
        );
    };
    ensure_home(home)?;
    let s = settings::set_checked(&settings::path(home), &key, &value)?;
    warn_unknown(&key, out)?;
    let module = module_of(&key);
    if let Some(m) = &module {
        tell_daemon(home)?;
        restart_module(home, m, out)?;
        out.line("[PM2] Setting changed");
    }
    display(&s, module.as_deref(), out);
    Ok(0)
}

/// `pm multiset "<key> <value> ..."`: pm2's pairs, each checked and set in turn; the app of the
/// first key is restarted once.
pub fn multiset(home: &Home, serial: &str, out: &Out) -> anyhow::Result<i32> {
    let words = crate::sys::words::split(serial).map_err(|e| anyhow::anyhow!("multiset: {e}"))?;
    if words.is_empty() || words.len() % 2 != 0 {
        bail!("usage: pm multiset \"<key> <value> [<key> <value> ...]\"");
    }
    ensure_home(home)?;
    let mut s = None;
    for pair in words.chunks(2) {
        s = Some(settings::set_checked(
            &settings::path(home),
            &pair[0],
            &pair[1],
        )?);
        warn_unknown(&pair[0], out)?;
    }
    let module = module_of(&words[0]);
    tell_daemon(home)?;
    if let Some(m) = &module {
        restart_module(home, m, out)?;
    }
    if let Some(s) = s {
        display(&s, module.as_deref(), out);
    }
    Ok(0)
}

/// pm2 restarts the app a setting is for, with the caller's env, so it reads the new value
/// (the daemon adds the app's section of the settings to its env).
fn restart_module(home: &Home, module: &str, out: &Out) -> anyhow::Result<()> {
    if module == LOGROTATE {
        return Ok(());
    }
    let Some(mut c) = Client::connect_existing(home)? else {
        return Ok(());
    };
    let req = Request::Restart(crate::protocol::RestartRequest {
        targets: vec![module.to_string()],
        cwd: None,
        update_env: Some(super::start::caller_env()),
        app_env: None,
        graceful: false,
        update: Default::default(),
    });
    // No app of that name: the setting is kept for when one starts, as in pm2.
    if c.call_ok(&req).is_ok() {
        out.line(format!("[PM2] Module {module} restarted"));
    }
    Ok(())
}

/// `pm get [key]`: everything, one module's keys, or one value.
pub fn get(home: &Home, key: Option<String>, out: &Out) -> anyhow::Result<i32> {
    let s = Settings::load(&settings::path(home))?;
    let Some(key) = key.filter(|k| k != "all") else {
        display(&s, None, out);
        return Ok(0);
    };
    let Some(value) = s.get(&key)? else {
        if let Some(k) = settings::logrotate_key(&key)?.filter(|k| !k.is_empty()) {
            if let Some(default) = settings::logrotate_defaults().iter().find(|d| d.0 == k) {
                bail!(
                    "{key} is not set (the built-in rotation uses {})",
                    js_string(&default.1)
                );
            }
        }
        bail!("{key} is not set");
    };
    match module_of(&key) {
        None => {
            display(&s, Some(&key), out);
            out.line("Modules configuration. Copy/Paste line to edit values.");
        }
        Some(module) => {
            let name = key[module.len() + 1..].to_string();
            out.line(format!(
                "Value for module {module} key {name}: {}",
                js_string(value)
            ));
        }
    }
    Ok(0)
}

/// `pm conf [key] [value]` (alias `config`): set with a value, get with a key, list without.
pub fn conf(
    home: &Home,
    key: Option<String>,
    value: Option<String>,
    out: &Out,
) -> anyhow::Result<i32> {
    match (key, value) {
        (Some(k), Some(v)) => set(home, Some(k), Some(v), out),
        (k, _) => get(home, k, out),
    }
}

/// `pm unset <key>` (`all` empties the store), then the settings as they are now.
pub fn unset(home: &Home, key: &str, out: &Out) -> anyhow::Result<i32> {
    let path = settings::path(home);
    // A rotation setting removed falls back to its default, always usable; but a key whose
    // removal leaves another bad value in force must not pass silently.
    ensure_home(home)?;
    let s = settings::unset(&path, key)?;
    if key == "all" || settings::logrotate_key(key)?.is_some() {
        s.rotate_policy()?;
        tell_daemon(home)?;
    }
    display(&s, None, out);
    Ok(0)
}

/// `pm install <module>`: only pm2-logrotate, which is built in; its default settings go into
/// the store as `pm2 install pm2-logrotate` would put them, so `pm get` shows them.
pub fn install(home: &Home, module: &str, out: &Out) -> anyhow::Result<i32> {
    // `pm2-logrotate@3.0.0` and `pm2-logrotate@latest` name the same module.
    let name = match module.rsplit_once('@') {
        Some((n, _)) if !n.is_empty() => n,
        _ => module,
    };
    if name != LOGROTATE {
        bail!("modules are not supported by pm-native, {module} was not installed (log rotation is built in: pm conf {LOGROTATE})");
    }
    ensure_home(home)?;
    settings::install_logrotate(&settings::path(home))?;
    tell_daemon(home)?;
    out.line(format!(
        "[PM2][Module] {LOGROTATE} is built into pm-native: nothing to download, rotation is on (settings: pm conf {LOGROTATE})"
    ));
    Ok(0)
}

/// The settings live in the home, which a `pm set` before any daemon has to create (0700).
fn ensure_home(home: &Home) -> anyhow::Result<()> {
    home.ensure()
        .with_context(|| format!("cannot create {}", home.root.display()))
}

/// The module part of `module:key` or `module.key`, as pm2 takes it for its restart.
fn module_of(key: &str) -> Option<String> {
    let sep = if key.contains(':') { ':' } else { '.' };
    key.split_once(sep).map(|(m, _)| m.to_string())
}

/// A running daemon applies the new settings before we return; with none, the next one reads
/// them at start.
fn tell_daemon(home: &Home) -> anyhow::Result<()> {
    if let Some(mut c) = Client::connect_existing(home)? {
        c.call_ok(&Request::SettingsChanged)?;
    }
    Ok(())
}

/// A key under `pm2-logrotate` the rotation does not read is stored (pm2 stores anything) but
/// named, so a typo does not pass for a setting.
fn warn_unknown(key: &str, out: &Out) -> anyhow::Result<()> {
    let Some(k) = settings::logrotate_key(key)? else {
        return Ok(());
    };
    if k == "rotateModule" {
        out.line(format!("[PM2][WARN] {LOGROTATE}:rotateModule has no effect: pm-native runs no modules, and pm.log is always rotated"));
    } else if !LOGROTATE_KEYS.contains(&k.as_str()) {
        out.line(format!(
            "[PM2][WARN] {LOGROTATE}:{k} is stored but not read by the built-in rotation (it reads {})",
            LOGROTATE_KEYS.join(", ")
        ));
    }
    Ok(())
}

/// pm2's `dispKeys`: each object at the top as a module, each of its keys as the line that
/// sets it.
fn display(s: &Settings, only: Option<&str>, out: &Out) {
    for (module, v) in s.all() {
        if only.is_some_and(|o| o != module) {
            continue;
        }
        let Value::Object(keys) = v else { continue };
        out.line(format!("Module: {module}"));
        for (k, v) in keys {
            out.line(format!("$ pm set {module}:{k} {}", js_string(v)));
        }
    }
}

/// A value as JavaScript's `String(v)` shows it, which is what pm2 prints.
fn js_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "null".into(),
        Value::Array(a) => a.iter().map(js_string).collect::<Vec<_>>().join(","),
        Value::Object(_) => "[object Object]".into(),
        other => other.to_string(),
    }
}

/// `pm logrotate [-u user]`: pm2's system logrotate configuration for this home, for users who
/// keep rotating with logrotate rather than the built-in rotation. Unlike pm2's template it
/// does not `copytruncate` (which loses what is written between the copy and the truncate):
/// the files are renamed and `pm reloadLogs` reopens them. `PM_LOGROTATE_DIR` names another
/// folder than /etc/logrotate.d.
pub fn logrotate(home: &Home, user: Option<String>, out: &Out) -> anyhow::Result<i32> {
    let dir = std::env::var_os("PM_LOGROTATE_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| "/etc/logrotate.d".into());
    if !nix::unistd::geteuid().is_root() && std::env::var_os("PM_LOGROTATE_DIR").is_none() {
        let me = nix::unistd::User::from_uid(nix::unistd::getuid())
            .ok()
            .flatten()
            .map_or_else(|| "root".into(), |u| u.name);
        bail!(
            "You have to run this command as root. Execute the following command: sudo env PATH=$PATH pm logrotate -u {me}"
        );
    }
    if !dir.is_dir() {
        bail!(
            "{} does not exist we can not copy the default configuration.",
            dir.display()
        );
    }
    let user = user.unwrap_or_else(|| "root".into());
    if user.is_empty()
        || !user
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
    {
        bail!("logrotate: \"{user}\" is not a user name");
    }
    let pm = std::env::current_exe().context("cannot find the pm binary")?;
    let root = home.root.display();
    let text = format!(
        "{root}/pm.log {root}/logs/*.log {{\n        rotate 12\n        weekly\n        missingok\n        notifempty\n        compress\n        delaycompress\n        create 0640 {user} {user}\n        sharedscripts\n        postrotate\n                PM_HOME={root} {pm} reloadLogs > /dev/null 2>&1 || true\n        endscript\n}}\n",
        pm = pm.display()
    );
    let path = dir.join(format!("pm2-{user}"));
    crate::config::paths::write_atomic_mode(&path, text.as_bytes(), 0o644)
        .with_context(|| format!("cannot write {}", path.display()))?;
    out.line(format!(
        "[PM2] Logrotate configuration added to {}",
        path.display()
    ));
    Ok(0)
}
