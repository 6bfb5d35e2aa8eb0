//! `pm deploy [file] <env> [setup | update | revert [n] | curr | prev | list | exec <cmd> | ref <ref>]`:
//! pm2's ssh + git deployment, from the `deploy` section of an ecosystem file. The work on each
//! host is pm2's own: the `deploy` shell script of the `pm2-deploy` package (a dependency), fed
//! the environment's settings on stdin. What pm2 does in JS around it is here, with two fixes:
//! the settings go to the script through a pipe instead of an `echo '<json>'` that a single
//! quote in any value breaks, and numbers (`port: 2222`) reach it instead of being dropped.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{anyhow, bail, Context};
use serde_json::{Map, Value};

use crate::config::ecosystem;

const HELP: &str = "
-----> Helper: Deployment with pm-native

  Generate a sample ecosystem.config.js with the command
  $ pm ecosystem
  Then edit the file depending on your needs

  Commands:
    setup                run remote setup commands
    update               update deploy to the latest release
    revert [n]           revert to [n]th last deployment or 1
    curr[ent]            output current release commit
    prev[ious]           output previous release commit
    exec|run <cmd>       execute the given <cmd>
    list                 list previous deploy commits
    [ref]                deploy to [ref], the \"ref\" setting, or latest tag

  Basic Examples:

    First initialize remote production host:
    $ pm deploy ecosystem.config.js production setup

    Then deploy new code:
    $ pm deploy ecosystem.config.js production

    If I want to revert to the previous commit:
    $ pm deploy ecosystem.config.js production revert 1

    Execute a command on remote server:
    $ pm deploy ecosystem.config.js production exec \"pm restart all\"

    pm-native looks for ecosystem.config.js by default, so the file name may be left out:
    $ pm deploy production
";

/// The files looked for when the first operand is not one (pm2's list).
const DEFAULT_FILES: &[&str] = &[
    "ecosystem.json",
    "ecosystem.yml",
    "ecosystem.yaml",
    "ecosystem.config.js",
    "ecosystem.config.cjs",
    "ecosystem.config.mjs",
    "ecosystem.json5",
    "package.json",
];

pub fn deploy(args: Vec<String>) -> anyhow::Result<i32> {
    let first = args.first().map(String::as_str);
    if first == Some("help") {
        print!("{HELP}");
        return Ok(0);
    }
    let (file, env) = match first {
        Some(f) if ecosystem::is_config_file(f) => (f.to_string(), args.get(1).cloned()),
        _ => {
            let found = DEFAULT_FILES
                .iter()
                .find(|f| Path::new(f).exists())
                .ok_or_else(|| {
                    anyhow!(
                        "no deployment file here; looked for {}",
                        DEFAULT_FILES.join(", ")
                    )
                })?;
            (found.to_string(), first.map(str::to_string))
        }
    };
    let Some(env) = env else {
        print!("{HELP}");
        return Ok(0);
    };
    let doc = ecosystem::read_document(Path::new(&file)).map_err(|e| anyhow!("{e}"))?;
    let mut conf = doc
        .get("deploy")
        .and_then(|d| d.get(&env))
        .cloned()
        .ok_or_else(|| anyhow!("{env} environment is not defined in {file} file"))?;
    let Value::Object(ref mut conf_map) = conf else {
        bail!("deploy.{env} in {file} must be an object");
    };
    conf_map
        .entry("post-deploy")
        .or_insert_with(|| Value::String(format!("pm startOrRestart {file} --env {env}")));
    let hosts = settings(conf_map, &env)?;
    let script = script_path()?;
    println!("--> Deploying to {env} environment");
    for host in hosts {
        println!("--> on host {}", host_name(&host));
        let mut one = conf_map.clone();
        one.insert("host".into(), host);
        run_script(&script, &one, &args)?;
    }
    println!("--> Success");
    Ok(0)
}

/// Checks an environment as pm2-deploy's schema does and brings it to what the script reads:
/// `ssh_options` as `-o` flags, `path` absolute, `env` prepended to `post-deploy`, and scalars
/// as strings (the script only finds `"key":"value"`). Returns the hosts, in order.
fn settings(conf: &mut Map<String, Value>, env: &str) -> anyhow::Result<Vec<Value>> {
    let missing: Vec<&str> = ["host", "repo", "path", "ref"]
        .into_iter()
        .filter(|k| conf.get(*k).is_none_or(Value::is_null))
        .collect();
    if !missing.is_empty() {
        bail!("deploy.{env}: {} missing", missing.join(", "));
    }
    for key in ["repo", "path", "ref", "user", "fetch"] {
        match conf.get(key) {
            None | Some(Value::String(_)) => {}
            Some(other) => bail!("deploy.{env}.{key} must be a string, got {other}"),
        }
    }
    if conf.get("user").and_then(Value::as_str) == Some("") {
        bail!("deploy.{env}.user must not be empty");
    }
    if let Some(opts) = conf.remove("ssh_options") {
        let list = match opts {
            Value::Array(a) => a,
            one => vec![one],
        };
        let flags: Vec<String> = list.iter().map(|o| format!("-o {}", scalar(o))).collect();
        conf.insert("ssh_options".into(), Value::String(flags.join(" ")));
    }
    if let Some(Value::String(p)) = conf.get("path") {
        let cwd = std::env::current_dir().context("cannot read the current directory")?;
        let abs = crate::config::paths::resolve(&cwd, p);
        conf.insert("path".into(), Value::String(abs.display().to_string()));
    }
    let exports = match conf.get("env") {
        Some(Value::Object(vars)) => vars
            .iter()
            .map(|(k, v)| format!("{}={}", k.to_uppercase(), shell_word(&scalar(v))))
            .collect::<Vec<_>>(),
        _ => Vec::new(),
    };
    if !exports.is_empty() {
        let exports = format!("export {}", exports.join(" "));
        let cmd = match conf.get("post-deploy").map(scalar) {
            Some(c) if !c.is_empty() => format!("{exports} && {c}"),
            _ => exports,
        };
        conf.insert("post-deploy".into(), Value::String(cmd));
    }
    let hosts = match conf.remove("host") {
        Some(Value::Array(h)) if h.is_empty() => bail!("deploy.{env}.host lists no host"),
        Some(Value::Array(h)) => h,
        Some(h @ (Value::String(_) | Value::Object(_))) => vec![h],
        Some(other) => bail!("deploy.{env}.host must be a host name or a list, got {other}"),
        None => unreachable!("checked above"),
    };
    for (_, v) in conf.iter_mut() {
        if matches!(v, Value::Number(_) | Value::Bool(_)) {
            *v = Value::String(scalar(v));
        }
    }
    Ok(hosts)
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Quoted for the remote shell when it holds anything a shell would read.
fn shell_word(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_./:-,@%+=".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

fn host_name(h: &Value) -> String {
    match h {
        Value::Object(o) => o.get("host").map(scalar).unwrap_or_default(),
        other => scalar(other),
    }
}

fn run_script(script: &Path, conf: &Map<String, Value>, args: &[String]) -> anyhow::Result<()> {
    let line = serde_json::to_string(conf).context("cannot encode the deploy settings")?;
    // Through bash, which the script is written for, so a lost exec bit does not matter.
    let mut child = Command::new("bash")
        .arg(script)
        .args(args)
        .stdin(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot run {}", script.display()))?;
    if let Some(mut stdin) = child.stdin.take() {
        // The script reads one line; a script that exits first is judged by its status.
        let _ = writeln!(stdin, "{line}");
    }
    let status = child.wait().context("cannot wait for the deploy script")?;
    if !status.success() {
        match status.code() {
            Some(code) => bail!("Deploy failed with exit code: {code}"),
            None => bail!("Deploy failed: the deploy script was killed"),
        }
    }
    Ok(())
}

/// pm2-deploy's `deploy` script, found as Node would find the package from this binary: in the
/// `node_modules` of its folder's ancestors (pm-native's own, or the project's where npm hoisted
/// it), then beside the platform package's binary, then from the current directory.
fn script_path() -> anyhow::Result<PathBuf> {
    let mut starts = Vec::new();
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.canonicalize().ok())
        .and_then(|e| e.parent().map(Path::to_path_buf))
    {
        starts.push(dir.join("..").join("pm-native"));
        starts.push(dir);
    }
    if let Ok(cwd) = std::env::current_dir() {
        starts.push(cwd);
    }
    for start in &starts {
        for dir in start.ancestors() {
            let p = dir.join("node_modules").join("pm2-deploy").join("deploy");
            if p.is_file() {
                return Ok(p);
            }
        }
    }
    bail!("pm deploy needs the pm2-deploy package, which was not found: npm install pm2-deploy")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn conf(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    #[test]
    fn settings_are_checked_and_brought_to_the_scripts_shape() {
        let mut c = conf(json!({
            "host": ["a", "b"], "repo": "git@x:r.git", "path": "/srv/app", "ref": "origin/main",
            "port": 2222, "ssh_options": ["StrictHostKeyChecking=no", "BatchMode=yes"],
            "env": { "node_env": "production", "msg": "it's" }, "post-deploy": "pm reload all",
        }));
        let hosts = settings(&mut c, "production").expect("valid");
        assert_eq!(hosts, vec![json!("a"), json!("b")]);
        assert_eq!(c["port"], json!("2222"));
        assert_eq!(
            c["ssh_options"],
            json!("-o StrictHostKeyChecking=no -o BatchMode=yes")
        );
        assert_eq!(
            c["post-deploy"],
            json!("export NODE_ENV=production MSG='it'\\''s' && pm reload all")
        );
        assert!(!c.contains_key("host"));
    }

    #[test]
    fn a_bad_environment_is_one_line_naming_what_is_wrong() {
        let err = |v: Value| settings(&mut conf(v), "prod").expect_err("bad").to_string();
        assert_eq!(
            err(json!({ "host": "h" })),
            "deploy.prod: repo, path, ref missing"
        );
        assert!(
            err(json!({ "host": 3, "repo": "r", "path": "/p", "ref": "main" }))
                .contains("deploy.prod.host must be")
        );
        assert!(
            err(json!({ "host": "h", "repo": "r", "path": "/p", "ref": "main", "user": "" }))
                .contains("user must not be empty")
        );
        assert!(
            err(json!({ "host": [], "repo": "r", "path": "/p", "ref": "main" }))
                .contains("no host")
        );
    }
}
