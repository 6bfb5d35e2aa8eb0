//! JavaScript ecosystem files: the daemon stays V8-free, so the CLI runs `node` once to evaluate
//! the file and carries on with the JSON it prints.

use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::error::{one_line, EcosystemError};

/// `$PM_NODE` if set, else `node` from `PATH`.
pub fn node_binary() -> OsString {
    std::env::var_os("PM_NODE")
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| OsString::from("node"))
}

#[derive(Debug, Clone, Copy)]
pub(super) enum EvalMode {
    /// `import()` the file: CommonJS or ES module, whatever Node decides for it.
    Module,
    /// Evaluate the file's text as one JS expression, as pm2 does for `.json` files.
    Expression,
}

/// Long enough for any sane config; bounded so a file that never finishes cannot hang the CLI.
const EVAL_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs in `node -e`. The answer goes to stdout as one JSON envelope, `{"ok": value}` or
/// `{"error": "one line"}`; the file's own console output is moved to stderr so it cannot corrupt
/// it. `import()` rather than `require()`: it loads CommonJS and ES modules alike on Node 20.
const EVAL_SCRIPT: &str = r#"'use strict';
const fs = require('fs');
const { pathToFileURL } = require('url');
const [mode, file] = process.argv.slice(1);
const out = process.stdout.write.bind(process.stdout);
process.stdout.write = process.stderr.write.bind(process.stderr);
function send(msg) {
  let text;
  try { text = JSON.stringify(msg); }
  catch (e) { text = JSON.stringify({ error: 'cannot turn the exported value into JSON: ' + e.message }); }
  out(text + '\n', () => process.exit(0));
}
function where(e) {
  const stack = String((e && e.stack) || '');
  for (const prefix of [file, pathToFileURL(file).href]) {
    const i = stack.indexOf(prefix + ':');
    if (i === -1) continue;
    const m = /^:(\d+)(?::(\d+))?/.exec(stack.slice(i + prefix.length));
    if (m) return m[2] ? ` (line ${m[1]}, column ${m[2]})` : ` (line ${m[1]})`;
  }
  if (mode === 'module' && e instanceof SyntaxError) {
    const r = require('child_process').spawnSync(process.execPath, ['--check', file], { encoding: 'utf8' });
    const m = /:(\d+)\s*$/.exec(String(r.stderr || '').split('\n')[0]);
    if (m) return ` (line ${m[1]})`;
  }
  return '';
}
function describe(e) {
  if (e instanceof Error) return `${e.name}: ${e.message}${where(e)}`;
  return `threw ${String(e)}`;
}
(async () => {
  let value;
  try {
    if (mode === 'expression') {
      const text = fs.readFileSync(file, 'utf8');
      value = require('vm').runInThisContext('(' + text + ')', { filename: file, timeout: 1000 });
    } else {
      const m = await import(pathToFileURL(file).href);
      value = 'default' in m ? m.default : { ...m };
      if (value && value.__esModule && 'default' in value) value = value.default;
    }
  } catch (e) {
    return send({ error: describe(e) });
  }
  if (typeof value === 'function') {
    return send({ error: 'the file exports a function; export an object such as { apps: [...] }' });
  }
  if (value === undefined) {
    return send({ error: 'the file exports nothing; use module.exports = { apps: [...] }' });
  }
  send({ ok: value });
})();
"#;

/// Evaluates `file` with `node` and returns the value it exports (or, for `Expression`, is).
pub(super) fn eval_js(
    node: &OsStr,
    file: &Path,
    mode: EvalMode,
    origin: &str,
) -> Result<Value, EcosystemError> {
    let fail = |message: String| EcosystemError::Eval {
        origin: origin.to_string(),
        message: one_line(&message),
    };
    let mode_arg = match mode {
        EvalMode::Module => "module",
        EvalMode::Expression => "expression",
    };
    let mut child = Command::new(node)
        .arg("-e")
        .arg(EVAL_SCRIPT)
        .arg(mode_arg)
        .arg(file)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        // Inherited: whatever the file prints shows up as it does under pm2.
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => EcosystemError::NodeMissing {
                origin: origin.to_string(),
                node: node.to_string_lossy().into_owned(),
            },
            _ => fail(format!("cannot start {}: {e}", node.to_string_lossy())),
        })?;

    // Read on a thread so a large answer cannot fill the pipe while we wait for the exit.
    let mut stdout = child.stdout.take();
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(s) = stdout.as_mut() {
            let _ = s.read_to_end(&mut buf);
        }
        buf
    });
    let deadline = Instant::now() + EVAL_TIMEOUT;
    let mut pause = Duration::from_millis(1);
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                let _ = reader.join();
                return Err(fail(format!(
                    "node did not finish evaluating it within {} s",
                    EVAL_TIMEOUT.as_secs()
                )));
            }
            Ok(None) => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(20));
            }
            Err(e) => return Err(fail(format!("waiting for node failed: {e}"))),
        }
    };
    let bytes = reader.join().unwrap_or_default();
    let envelope = String::from_utf8_lossy(&bytes).lines().rev().find_map(|l| {
        serde_json::from_str::<Value>(l)
            .ok()
            .filter(Value::is_object)
    });
    match envelope {
        Some(Value::Object(mut m)) => {
            if let Some(v) = m.remove("ok") {
                Ok(v)
            } else {
                let msg = m
                    .get("error")
                    .and_then(Value::as_str)
                    .unwrap_or("node reported an unknown error");
                Err(fail(msg.to_string()))
            }
        }
        _ => Err(fail(format!(
            "node exited ({status}) without returning the configuration"
        ))),
    }
}
