//! Tests of the util.inspect clone against what Node prints for the same values.
use super::*;
use serde_json::json;
use std::io::{Read, Write};
use std::process::{Command, Stdio};

/// Prints one `util.inspect` per input line, exactly like pm2's `jlist(true)`.
const NODE_SCRIPT: &str = r"
    const util = require('util');
    let input = '';
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (chunk) => { input += chunk; });
    process.stdin.on('end', () => {
      const out = input.split('\n').filter(Boolean)
        .map((line) => util.inspect(JSON.parse(line), false, null, false));
      process.stdout.write(out.join(DELIMITER));
    });";
/// NUL never appears raw in inspect output (it is escaped as `\x00`).
const DELIMITER: &str = "\n\u{0}\n";

/// Runs every value through one `node` process. Node is required, not optional: these tests are
/// the only check that the clone matches `util.inspect`, so without node they fail rather than
/// pass having compared nothing.
fn node_inspect_all(values: &[Value]) -> Vec<String> {
    let script = NODE_SCRIPT.replace("DELIMITER", "'\\n\\u0000\\n'");
    let mut child = Command::new("node")
        .args(["-e", &script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|err| {
            panic!(
                "this test compares with Node's util.inspect and needs `node` on PATH \
                 (Node 20 for byte equality): cannot run node: {err}"
            )
        });
    let input: String = values.iter().map(|v| format!("{v}\n")).collect();
    let mut stdin = child.stdin.take().expect("stdin is piped");
    // Write from a thread so a full stdout pipe cannot deadlock us.
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let mut output = String::new();
    child
        .stdout
        .take()
        .expect("stdout is piped")
        .read_to_string(&mut output)
        .expect("node output is UTF-8");
    writer
        .join()
        .expect("writer thread")
        .expect("write to node");
    let status = child.wait().expect("wait for node");
    assert!(
        status.success(),
        "node failed to inspect the values: {status}"
    );
    output.split(DELIMITER).map(str::to_owned).collect()
}

/// Fails with the first value whose rendering differs from node's.
fn assert_matches_node(values: &[Value]) -> usize {
    let expected = node_inspect_all(values);
    assert_eq!(expected.len(), values.len(), "node returned a wrong count");
    for (value, expected) in values.iter().zip(&expected) {
        let actual = inspect(value);
        if &actual != expected {
            let first_diff = actual
                .lines()
                .zip(expected.lines())
                .enumerate()
                .find(|(_, (a, e))| a != e);
            let json = value.to_string();
            let shown = if json.len() > 2000 {
                "<too long>"
            } else {
                &json
            };
            panic!(
                "mismatch for value {shown}\nfirst differing line (index, (ours, node)): \
                 {first_diff:?}\n--- node\n{expected}\n--- ours\n{actual}"
            );
        }
    }
    values.len()
}

/// xorshift64* so the corpus is deterministic without the `rand` crate.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

#[rustfmt::skip]
const FRAGMENTS: &[&str] = &[
    "a", "b", "xyz", "Hello", " ", "  ", "_", "-", "/", ".", ":", "'", "\"", "`", "${", "$",
    "{", "\n", "\n", "\t", "\r", "\\", "\u{0}", "\u{1b}", "\u{7f}", "\u{85}", "\u{a0}", "é",
    "e\u{301}", "ü", "Ω", "Ж", "日本", "한", "😀", "🚀", "ที่", "हिंदी", "👍🏽", "\u{200b}",
    "\u{fe0f}", "\u{2028}", "/usr/local/bin", "node_modules", "--port=3000", "0", "42",
];
#[rustfmt::skip]
const KEYS: &[&str] = &[
    "name", "pm_id", "a", "_x", "A1", "camelCase", "snake_case", "a-b", "with space", "0",
    "1", "12", "007", "-1", "1.5", "4294967294", "4294967295", "", "__proto__", "constructor",
    "$dollar", "ключ", "x'y", "q\"t", "b`t", "k\nl", "Heap Size", "feature.profiler.cpu_js",
];

fn gen_string(rng: &mut Rng) -> String {
    let pieces = match rng.below(10) {
        0..=4 => rng.below(4),
        5..=7 => rng.below(20),
        _ => 20 + rng.below(60),
    };
    (0..pieces).map(|_| rng.pick(FRAGMENTS)).collect()
}

fn gen_number(rng: &mut Rng) -> Value {
    let f = match rng.below(12) {
        0 => return json!(rng.below(100)),
        1 => return json!(-(rng.below(100_000) as i64)),
        2 => return json!(rng.next()),
        3 => return json!(rng.next() as i64),
        4 => -0.0,
        5 => rng.below(1000) as f64 / 10.0,
        6 => f64::from_bits(rng.next()),
        7 => 10f64.powi(rng.below(50) as i32 - 25) * (rng.below(9) + 1) as f64,
        8 => rng.next() as f64 * 1e-9,
        9 => rng.below(1_000_000) as f64 / 3.0,
        10 => 1.0 / (rng.below(1000) + 1) as f64,
        _ => 1e21 + rng.below(10) as f64 * 1e20,
    };
    serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)
}

fn gen_value(rng: &mut Rng, depth: usize) -> Value {
    let kind = if depth >= 5 {
        rng.below(4)
    } else {
        rng.below(10)
    };
    match kind {
        0 => gen_number(rng),
        1 => Value::String(gen_string(rng)),
        2 => [Value::Null, json!(true), json!(false)][rng.below(3)].clone(),
        3 => Value::String(rng.pick(KEYS).to_owned()),
        4 | 5 => {
            // Arrays of 7..=30 (or >100) short scalars exercise groupArrayElements.
            let len = match rng.below(8) {
                0 => 0,
                1..=3 => rng.below(7),
                4..=6 => 7 + rng.below(24),
                _ => 95 + rng.below(40),
            };
            let flavour = rng.below(4);
            (0..len)
                .map(|_| match flavour {
                    0 => gen_number(rng),
                    1 => json!(rng.below(2000)),
                    2 => Value::String(rng.pick(FRAGMENTS).to_owned()),
                    _ => gen_value(rng, depth + 1),
                })
                .collect()
        }
        _ => {
            let len = match rng.below(8) {
                0 => 0,
                7 => 20 + rng.below(20),
                _ => 1 + rng.below(6),
            };
            let mut map = Map::new();
            for _ in 0..len {
                let key = if rng.below(4) == 0 {
                    gen_string(rng)
                } else {
                    rng.pick(KEYS).to_owned()
                };
                map.insert(key, gen_value(rng, depth + 1));
            }
            Value::Object(map)
        }
    }
}

/// Compares ~620 values with the `node` on PATH (must be Node 20 for byte equality).
/// `SEED=<u64> cargo test differential` explores another corpus.
#[test]
fn differential_against_node() {
    let seed = std::env::var("SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x9e37_79b9_7f4a_7c15u64);
    let mut rng = Rng(seed);
    let mut values: Vec<Value> = (0..600).map(|_| gen_value(&mut rng, 0)).collect();
    // Long strings: splitting at every indentation, truncation at maxStringLength
    // (including a surrogate pair cut in half at the 10000th UTF-16 unit).
    for indent in 0..12 {
        let mut nested = json!(format!(
            "{}\n{}",
            "x".repeat(70 + indent),
            "it's \"long\"\n\n"
        ));
        for _ in 0..indent {
            nested = json!({ "k": nested });
        }
        values.push(nested);
    }
    values.push(json!("a".repeat(10_001)));
    values.push(json!(format!("{}😀tail", "a".repeat(9_999))));
    values.push(json!([format!("{}\n", "b\n".repeat(6_000))]));
    values.push(json!((0..101).collect::<Vec<_>>()));
    values.push(json!((0..100).collect::<Vec<_>>()));
    values.push(json!([1, 2, 3, 4, 5, 6, "7"]));
    // Display widths drive groupArrayElements' padding: CJK, emoji, combining marks.
    let wide = ["日本", "한국", "😀😀", "ab", "é", "e\u{301}x", "c", "d"];
    let marks = ["ที่นี่", "हिंदी", "a\u{200d}b", "x\u{ad}y", "q", "r", "s", "t"];
    values.push(json!(wide));
    values.push(json!(marks));
    let count = assert_matches_node(&values);
    eprintln!("{count} values matched node's util.inspect");
}

const PM2_ENTRY: &str = r#"{
  "pid": 3860,
  "name": "api-server",
  "pm2_env": {
"name": "api-server",
"filter_env": [],
"namespace": "default",
"args": [
  "--port",
  "3000"
],
"env": {
  "HOME": "/home/deploy",
  "PATH": "/home/deploy/.nvm/versions/node/v20.20.2/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
  "LANG": "en_US.UTF-8",
  "SHELL": "/bin/bash",
  "USER": "deploy",
  "PWD": "/srv/api",
  "NODE_ENV": "production",
  "PORT": "3000",
  "DATABASE_URL": "postgres://api:s3cr3t@db.internal:5432/api?sslmode=require",
  "LOG_FORMAT": "{\"level\":\"info\",\"msg\":\"it's ok\"}",
  "GREETING": "héllo wörld — 日本語 😀",
  "PM2_HOME": "/home/deploy/.pm2",
  "PM2_USAGE": "CLI",
  "PM2_INTERACTOR_PROCESSING": "true",
  "api-server": {},
  "unique_id": "a2c33756-468c-4df7-b84a-a4486e153dc7"
},
"merge_logs": true,
"vizion": true,
"autostart": true,
"autorestart": true,
"watch": false,
"instance_var": "NODE_APP_INSTANCE",
"pmx": true,
"automation": true,
"treekill": true,
"username": "deploy",
"windowsHide": true,
"kill_retry_time": 100,
"node_args": [
  "--max-old-space-size=4096",
  "--enable-source-maps"
],
"pm_exec_path": "/srv/api/server.js",
"pm_cwd": "/srv/api",
"exec_interpreter": "node",
"exec_mode": "fork_mode",
"instances": 1,
"pm_out_log_path": "/home/deploy/.pm2/logs/api-server-out.log",
"pm_err_log_path": "/home/deploy/.pm2/logs/api-server-error.log",
"pm_pid_path": "/home/deploy/.pm2/pids/api-server-0.pid",
"km_link": false,
"vizion_running": false,
"NODE_APP_INSTANCE": 0,
"HOME": "/home/deploy",
"PATH": "/home/deploy/.nvm/versions/node/v20.20.2/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
"LANG": "en_US.UTF-8",
"SHELL": "/bin/bash",
"USER": "deploy",
"PWD": "/srv/api",
"NODE_ENV": "production",
"PORT": "3000",
"DATABASE_URL": "postgres://api:s3cr3t@db.internal:5432/api?sslmode=require",
"LOG_FORMAT": "{\"level\":\"info\",\"msg\":\"it's ok\"}",
"GREETING": "héllo wörld — 日本語 😀",
"PM2_HOME": "/home/deploy/.pm2",
"PM2_USAGE": "CLI",
"PM2_INTERACTOR_PROCESSING": "true",
"unique_id": "a2c33756-468c-4df7-b84a-a4486e153dc7",
"status": "online",
"pm_uptime": 1795674060038,
"axm_actions": [
  {
    "action_name": "km:heapdump",
    "action_type": "internal",
    "arity": 2
  },
  {
    "action_name": "km:cpu:profiling:start",
    "action_type": "internal",
    "arity": 2
  },
  {
    "action_name": "km:cpu:profiling:stop",
    "action_type": "internal",
    "arity": 1
  },
  {
    "action_name": "km:heap:sampling:start",
    "action_type": "internal",
    "arity": 2
  },
  {
    "action_name": "km:heap:sampling:stop",
    "action_type": "internal",
    "arity": 1
  }
],
"axm_monitor": {
  "Heap Size": {
    "historic": true,
    "unit": "MiB",
    "type": "internal/v8/heap/total",
    "value": "7.23"
  },
  "Heap Usage": {
    "historic": true,
    "unit": "%",
    "type": "internal/v8/heap/usage",
    "value": 71.03
  },
  "Used Heap Size": {
    "historic": true,
    "unit": "MiB",
    "type": "internal/v8/heap/used",
    "value": "5.13"
  },
  "Active requests": {
    "historic": true,
    "type": "internal/libuv/requests",
    "value": 0
  },
  "Active handles": {
    "historic": true,
    "type": "internal/libuv/handles",
    "value": 2
  },
  "Event Loop Latency": {
    "historic": true,
    "unit": "ms",
    "type": "internal/libuv/latency/p50",
    "value": "0.47"
  },
  "Event Loop Latency p95": {
    "historic": true,
    "unit": "ms",
    "type": "internal/libuv/latency/p95",
    "value": "0.47"
  }
},
"axm_options": {
  "error": true,
  "heapdump": true,
  "feature.profiler.heapsnapshot": false,
  "feature.profiler.heapsampling": true,
  "feature.profiler.cpu_js": true,
  "latency": true,
  "catchExceptions": true,
  "profiling": true,
  "metrics": {
    "v8": true,
    "network": false,
    "eventLoop": true,
    "runtime": true,
    "http": true
  },
  "standalone": false,
  "tracing": {
    "enabled": false,
    "outbound": false
  },
  "module_conf": {},
  "apm": {
    "type": "node",
    "version": "8.0.0"
  },
  "module_name": "api-server",
  "module_version": "7.0.4"
},
"axm_dynamic": {},
"created_at": 1795674060038,
"pm_id": 0,
"restart_time": 0,
"unstable_restarts": 0,
"node_version": "20.20.2",
"versioning": null,
"prev_restart_delay": 0,
"exit_code": 0,
"ignore_watch": [
  "node_modules",
  "logs",
  ".git",
  "tmp",
  "*.log",
  "coverage",
  "dist",
  "build"
]
  },
  "pm_id": 0,
  "monit": {
"memory": 53891072,
"cpu": 3.7
  }
}"#;

#[test]
fn realistic_pm2_jlist_entry() {
    let entry: Value = serde_json::from_str(PM2_ENTRY).expect("fixture is valid JSON");
    let list = json!([entry.clone(), entry]);
    assert_matches_node(&[list]);
}

#[test]
fn fixed_expectations() {
    let cases = [
        (json!({}), "{}"),
        (json!([]), "[]"),
        (json!(-0.0), "-0"),
        (json!(1e21), "1e+21"),
        (json!(1.5e-7), "1.5e-7"),
        (json!(0.000001), "0.000001"),
        (json!(123456789012345680000.0), "123456789012345680000"),
        (json!(u64::MAX), "18446744073709552000"),
        (json!("it's"), "\"it's\""),
        (json!("it's \"x\""), "`it's \"x\"`"),
        (json!("it's \"x\" `y`"), "'it\\'s \"x\" `y`'"),
        (json!("tab\tnul\u{0}c1\u{85}"), "'tab\\tnul\\x00c1\\x85'"),
        (json!({"b": 1, "1": 2, "0": 3}), "{ '0': 3, '1': 2, b: 1 }"),
        (
            json!({"a": 1, "4294967295": 2, "4294967294": 3, "01": 4, "5": 5}),
            "{ '5': 5, '4294967294': 3, a: 1, '4294967295': 2, '01': 4 }",
        ),
        (
            json!({"__proto__": 1, "a-b": 2, "": 3}),
            "{ ['__proto__']: 1, 'a-b': 2, '': 3 }",
        ),
        (json!({"a": {"b": {"c": {}}}}), "{ a: { b: { c: {} } } }"),
        (
            json!({"a": {"b": {"c": {"d": 1}}}}),
            "{\n  a: { b: { c: { d: 1 } } }\n}",
        ),
        (
            json!([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 100]),
            "[\n    1, 2, 3, 4,  5,\n    6, 7, 8, 9, 10,\n  100\n]",
        ),
    ];
    for (value, expected) in cases {
        assert_eq!(inspect(&value), expected, "for {value}");
    }
}
