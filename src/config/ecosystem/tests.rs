//! Tests of ecosystem loading: formats, --env/--only, paths, and errors as one line.
use super::js::{eval_js, EvalMode};
use super::*;
use serde_json::json;
use std::ffi::OsStr;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    std::fs::write(&p, text).expect("write fixture");
    p
}

fn names(apps: &[AppSpec]) -> Vec<String> {
    apps.iter().map(AppSpec::resolved_name).collect()
}

fn err_text(e: EcosystemError) -> String {
    let s = e.to_string();
    assert!(!s.contains('\n'), "error is not one line: {s:?}");
    s
}

fn dir_str(d: &tempfile::TempDir) -> String {
    d.path().to_string_lossy().into_owned()
}

#[test]
fn config_file_names_follow_pm2() {
    for yes in [
        "ecosystem.json",
        "process.json",
        "/srv/app/pm2.yml",
        "apps.yaml",
        "ecosystem.config.js",
        "ecosystem.config.cjs",
        "ecosystem.config.mjs",
        // pm2 matches anywhere in the name, so JSON5 (and backups) count.
        "process.json5",
    ] {
        assert!(is_config_file(yes), "{yes}");
    }
    for no in [
        "app.js",
        "server.mjs",
        "index.cjs",
        "ecosystem.js",
        "run.sh",
        "/srv/my.json-api/app.js",
        "npm",
    ] {
        assert!(!is_config_file(no), "{no}");
    }
}

#[test]
fn json_file_with_env_numbers_extra_fields_and_deploy() {
    let d = tempfile::tempdir().expect("tempdir");
    write(d.path(), "app.js", "");
    let f = write(
        d.path(),
        "ecosystem.json",
        r#"{
          "apps": [{
            "name": "api", "script": "app.js", "instances": "4", "exec_mode": "cluster",
            "env": {"PORT": 3000, "DEBUG": "x", "FLAG": true},
            "max_memory_restart": "200M", "custom_thing": {"a": 1}
          }],
          "deploy": {"production": {"host": "h"}}
        }"#,
    );
    let apps = load(&f, None, &[]).expect("load");
    assert_eq!(apps.len(), 1);
    let a = &apps[0];
    assert_eq!(a.name.as_deref(), Some("api"));
    assert_eq!(a.script, format!("{}/app.js", dir_str(&d)));
    assert_eq!(a.instances, crate::protocol::Instances::Count(4));
    assert_eq!(a.exec_mode, Some(crate::protocol::ExecMode::Cluster));
    assert_eq!(a.env.get("PORT"), Some(&json!(3000)));
    assert_eq!(a.env.get("FLAG"), Some(&json!(true)));
    let keys: Vec<&String> = a.env.keys().collect();
    assert_eq!(keys, ["PORT", "DEBUG", "FLAG"], "file order kept");
    assert_eq!(a.max_memory_restart, Some(200 * 1024 * 1024));
    assert_eq!(a.extra.get("custom_thing"), Some(&json!({"a": 1})));
    // No cwd given: left for the CLI to fill with the shell's directory, as pm2 does.
    assert_eq!(a.cwd, None);
}

#[test]
fn yaml_file_with_merge_keys() {
    let d = tempfile::tempdir().expect("tempdir");
    let f = write(
        d.path(),
        "ecosystem.yml",
        "common: &common\n  NODE_ENV: development\n  PORT: 8080\napps:\n  - name: web\n    script: /bin/true\n    env:\n      <<: *common\n      PORT: 9000\n  - script: /srv/worker.js\n    instances: max\n",
    );
    let apps = load(&f, None, &[]).expect("load");
    assert_eq!(names(&apps), ["web", "worker"]);
    assert_eq!(apps[0].env.get("NODE_ENV"), Some(&json!("development")));
    assert_eq!(apps[0].env.get("PORT"), Some(&json!(9000)));
    assert_eq!(apps[1].instances, crate::protocol::Instances::Max);
    assert_eq!(apps[1].script, "/srv/worker.js");
}

#[test]
fn js_module_exports() {
    let d = tempfile::tempdir().expect("tempdir");
    let f = write(
        d.path(),
        "ecosystem.config.js",
        "const path = require('path');\nconsole.log('noise on stdout');\nmodule.exports = {\n  apps: [{ name: 'a', script: path.join(__dirname, 'a.js'), env: { N: 1 + 1 } }],\n  deploy: { production: { host: 'x' } }\n};\n",
    );
    let apps = load(&f, None, &[]).expect("load");
    assert_eq!(names(&apps), ["a"]);
    assert_eq!(apps[0].script, format!("{}/a.js", dir_str(&d)));
    assert_eq!(apps[0].env.get("N"), Some(&json!(2)));
}

#[test]
fn cjs_and_bare_array() {
    let d = tempfile::tempdir().expect("tempdir");
    let f = write(
        d.path(),
        "ecosystem.config.cjs",
        "module.exports = [{ script: '/srv/one.js' }, { script: '/srv/two.js', name: 'second' }];\n",
    );
    let apps = load(&f, None, &[]).expect("load");
    assert_eq!(names(&apps), ["one", "second"]);
}

#[test]
fn mjs_export_default_and_single_app_object() {
    let d = tempfile::tempdir().expect("tempdir");
    let f = write(
        d.path(),
        "ecosystem.config.mjs",
        "const config = { apps: [{ name: 'm', script: '/srv/m.js' }] };\nexport default config;\n",
    );
    assert_eq!(names(&load(&f, None, &[]).expect("load mjs")), ["m"]);

    let f = write(
        d.path(),
        "single.config.js",
        "module.exports = { name: 'solo', script: '/srv/solo.js' };\n",
    );
    assert_eq!(names(&load(&f, None, &[]).expect("load single")), ["solo"]);

    let f = write(
        d.path(),
        "single.json",
        r#"{"script": "/srv/s.js", "name": "s"}"#,
    );
    assert_eq!(
        names(&load(&f, None, &[]).expect("load single json")),
        ["s"]
    );
}

#[test]
fn env_name_merges_like_pm2() {
    let d = tempfile::tempdir().expect("tempdir");
    let f = write(
        d.path(),
        "ecosystem.json",
        r#"{
          "apps": [
            {"name": "api", "script": "/srv/api.js", "port": 4000,
             "env": {"A": "env", "B": "env", "PORT": 1},
             "env_production": {"B": "prod", "C": 3}},
            {"name": "web", "script": "/srv/web.js", "append_env_to_name": true, "env": {"A": "web"}}
          ],
          "deploy": {"production": {"env": {"A": "deploy", "D": "deploy"}}}
        }"#,
    );
    let apps = load(&f, Some("production"), &[]).expect("load");
    let api = &apps[0];
    assert_eq!(
        Value::Object(api.env.clone()),
        json!({"A": "env", "D": "deploy", "B": "prod", "PORT": 4000, "C": 3})
    );
    // env_production stays visible, as in pm2's pm2_env.
    assert_eq!(
        api.extra.get("env_production"),
        Some(&json!({"B": "prod", "C": 3}))
    );
    // No env_production on this app: env (over the deploy env) only, and the name gets the suffix.
    assert_eq!(apps[1].name.as_deref(), Some("web-production"));
    assert_eq!(
        Value::Object(apps[1].env.clone()),
        json!({"A": "web", "D": "deploy"})
    );

    // Without --env, env_* is not applied.
    let plain = load(&f, None, &[]).expect("load");
    assert_eq!(
        Value::Object(plain[0].env.clone()),
        json!({"A": "env", "B": "env", "PORT": 4000})
    );
    assert_eq!(plain[1].name.as_deref(), Some("web"));
}

#[test]
fn only_filters_and_reports_unknown_names() {
    let d = tempfile::tempdir().expect("tempdir");
    let f = write(
        d.path(),
        "ecosystem.json",
        r#"{"apps": [{"name": "api", "script": "/srv/api.js"}, {"script": "/srv/worker.js"}, {"name": "broken"}]}"#,
    );
    let apps = load(&f, None, &["worker".into()]).expect("only worker");
    assert_eq!(names(&apps), ["worker"]);
    let apps = load(&f, None, &["api,worker".into(), "nope".into()]).expect("only two");
    assert_eq!(names(&apps), ["api", "worker"]);

    let e = err_text(load(&f, None, &["web".into()]).expect_err("no match"));
    assert_eq!(
        e,
        format!(
            "--only web: no app named \"web\" in ecosystem file {} (it has: api, worker, broken)",
            f.display()
        )
    );
    // The selected app without a script is an error; unselected it was not.
    let e = err_text(load(&f, None, &["broken".into()]).expect_err("no script"));
    assert!(e.contains("app #3 (\"broken\"): No script path"), "{e}");
}

#[test]
fn relative_paths_resolve_against_the_file_and_cwd() {
    let d = tempfile::tempdir().expect("tempdir");
    let base = dir_str(&d);
    write(d.path(), "srv/api/index.js", "");
    write(d.path(), "top.js", "");
    let f = write(
        d.path(),
        "conf/ecosystem.json",
        r#"{"apps": [
          {"name": "api", "cwd": "../srv/api", "script": "./index.js",
           "out_file": "logs/out.log", "error_file": "/var/log/err.log", "pid_file": "NULL", "log_file": "/dev/null"},
          {"name": "top", "script": "../top.js", "log": "../all.log"},
          {"name": "cmd", "script": "sh"},
          {"name": "line", "script": "python3 -m http.server"},
          {"name": "gone", "script": "missing.js"},
          {"name": "home", "script": "/srv/x.js", "cwd": "~/work"}
        ]}"#,
    );
    let apps = load(&f, None, &[]).expect("load");
    let api = &apps[0];
    assert_eq!(api.cwd.as_deref(), Some(format!("{base}/srv/api").as_str()));
    assert_eq!(api.script, format!("{base}/srv/api/index.js"));
    assert_eq!(
        api.out_file.as_deref(),
        Some(format!("{base}/srv/api/logs/out.log").as_str())
    );
    assert_eq!(api.error_file.as_deref(), Some("/var/log/err.log"));
    assert_eq!(api.pid_file.as_deref(), Some("NULL"));
    assert_eq!(api.log_file.as_deref(), Some("/dev/null"));

    assert_eq!(apps[1].script, format!("{base}/top.js"));
    assert_eq!(
        apps[1].log_file.as_deref(),
        Some(format!("{base}/all.log").as_str())
    );
    // A bare command is looked up in PATH, as pm2 does with `which`.
    assert!(
        apps[2].script.starts_with('/') && apps[2].script.ends_with("/sh"),
        "{}",
        apps[2].script
    );
    assert_eq!(apps[3].script, "python3 -m http.server");
    assert_eq!(apps[4].script, format!("{base}/conf/missing.js"));
    // Without HOME this check would have nothing to compare with, so it fails instead of passing.
    let home = std::env::var("HOME")
        .ok()
        .filter(|h| !h.is_empty())
        .expect("this test needs HOME set, to check that `~/work` expands to it");
    assert_eq!(
        apps[5].cwd.as_deref(),
        Some(format!("{home}/work").as_str())
    );
}

#[test]
fn pm2_aliases_and_camel_case_keys() {
    let apps = from_value(
        json!({"apps": [{
            "cmd": "/srv/a.js", "outFile": "/tmp/o.log", "maxMemoryRestart": "1G",
            "node_args": "--inspect", "interpreter_args": ["--ignored"], "err": "/tmp/e.log",
            "log_file": true, "name": "my app", "cron_restart": 0, "exec_interpreter": "bun"
        }]}),
        Path::new("/base"),
        None,
        &[],
        STDIN_ORIGIN,
    )
    .expect("from_value");
    let a = &apps[0];
    assert_eq!(a.script, "/srv/a.js");
    assert_eq!(a.out_file.as_deref(), Some("/tmp/o.log"));
    assert_eq!(a.error_file.as_deref(), Some("/tmp/e.log"));
    assert_eq!(a.max_memory_restart, Some(1024 * 1024 * 1024));
    assert_eq!(a.interpreter_args, ["--inspect"]);
    assert_eq!(a.interpreter.as_deref(), Some("bun"));
    assert_eq!(a.cron_restart.as_deref(), Some("0"));
    let log = a.log_file.clone().unwrap_or_default();
    assert!(log.ends_with("/logs/my-app.log"), "{log}");
    assert!(a.extra.is_empty(), "{:?}", a.extra);
}

#[test]
fn malformed_json_is_one_line_with_path_and_position() {
    let d = tempfile::tempdir().expect("tempdir");
    let f = write(
        d.path(),
        "eco.json",
        "{\n  \"apps\": [\n    {\"script\": \"a.js\" \"name\": 1}\n  ]\n}\n",
    );
    let e = err_text(load(&f, None, &[]).expect_err("bad json"));
    assert!(
        e.starts_with(&format!(
            "ecosystem file {}: invalid JSON at line 3 column",
            f.display()
        )),
        "{e}"
    );
}

#[test]
fn json_with_comments_is_accepted_like_pm2() {
    let d = tempfile::tempdir().expect("tempdir");
    let f = write(
        d.path(),
        "process.json",
        "{\n  // pm2 evaluates JSON as JS\n  apps: [{ script: '/srv/c.js', },],\n}\n",
    );
    assert_eq!(names(&load(&f, None, &[]).expect("json5-ish")), ["c"]);
}

#[test]
fn malformed_yaml_is_one_line_with_path() {
    let d = tempfile::tempdir().expect("tempdir");
    let f = write(
        d.path(),
        "eco.yaml",
        "apps:\n  - name: a\n    script: [unclosed\n  - name: b\n",
    );
    let e = err_text(load(&f, None, &[]).expect_err("bad yaml"));
    assert!(
        e.starts_with(&format!("ecosystem file {}: invalid YAML: ", f.display())),
        "{e}"
    );
    assert!(e.contains("line"), "{e}");
}

#[test]
fn js_that_throws_is_one_line_with_location() {
    let d = tempfile::tempdir().expect("tempdir");
    let f = write(
        d.path(),
        "eco.config.js",
        "const x = 1;\nthrow new Error('boom\\nsecond line');\n",
    );
    let e = err_text(load(&f, None, &[]).expect_err("throws"));
    assert_eq!(
        e,
        format!(
            "ecosystem file {}: Error: boom second line (line 2, column 7)",
            f.display()
        )
    );

    let f = write(
        d.path(),
        "syntax.config.mjs",
        "export default {\n  apps: [}\n",
    );
    let e = err_text(load(&f, None, &[]).expect_err("syntax"));
    assert_eq!(
        e,
        format!(
            "ecosystem file {}: SyntaxError: Unexpected token '}}' (line 2)",
            f.display()
        )
    );

    let f = write(
        d.path(),
        "fn.config.js",
        "module.exports = () => ({ apps: [] });\n",
    );
    let e = err_text(load(&f, None, &[]).expect_err("function"));
    assert!(e.contains("exports a function"), "{e}");
}

#[test]
fn missing_file_and_missing_node() {
    let d = tempfile::tempdir().expect("tempdir");
    for name in ["nope.json", "nope.config.js"] {
        let f = d.path().join(name);
        let e = err_text(load(&f, None, &[]).expect_err("missing"));
        assert!(
            e.starts_with(&format!(
                "ecosystem file {}: cannot read it: No such file",
                f.display()
            )),
            "{e}"
        );
    }
    let f = write(d.path(), "eco.config.js", "module.exports = {apps: []};");
    let e = eval_js(
        OsStr::new("/nonexistent/node"),
        &f,
        EvalMode::Module,
        "/x/eco.config.js",
    )
    .expect_err("no node");
    assert_eq!(
        err_text(e),
        "ecosystem file /x/eco.config.js: cannot evaluate it: Node.js binary \"/nonexistent/node\" not found (install Node.js or set PM_NODE to its path)"
    );
}

#[test]
fn invalid_apps_name_the_app_and_field() {
    let check = |v: Value, want: &str| {
        let e = err_text(
            from_value(v, Path::new("/b"), None, &[], "/x/eco.yaml").expect_err("invalid"),
        );
        assert_eq!(e, want);
    };
    check(
        json!({"apps": [{"script": "/a.js"}, {"name": "api", "script": "/b.js", "instances": "lots"}]}),
        "ecosystem file /x/eco.yaml: app #2 (\"api\"): instances must be a number, 'max' or a negative number, got \"lots\"",
    );
    check(
        json!({"apps": [{"name": "api", "script": "/b.js", "autorestart": "maybe"}]}),
        "ecosystem file /x/eco.yaml: app #1 (\"api\"): autorestart: expected true or false, got \"maybe\"",
    );
    check(
        json!({"apps": [{"name": 42, "script": "/b.js"}]}),
        "ecosystem file /x/eco.yaml: app #1: name: invalid type: integer `42`, expected a string",
    );
    check(
        json!({"apps": ["app.js"]}),
        "ecosystem file /x/eco.yaml: app #1: expected an app object, got a string",
    );
    check(json!({"apps": [{"name": "x"}]}), "ecosystem file /x/eco.yaml: app #1 (\"x\"): No script path - aborting (\"script\" is required)");
    check(
        json!({"deploy": {}}),
        "ecosystem file /x/eco.yaml: no \"apps\" array",
    );
    check(
        json!({"apps": []}),
        "ecosystem file /x/eco.yaml: the \"apps\" array is empty",
    );
    check(
        Value::Null,
        "ecosystem file /x/eco.yaml: the file is empty (expected an object with an \"apps\" array)",
    );
    check(
        json!("apps"),
        "ecosystem file /x/eco.yaml: expected an object with an \"apps\" array, got a string",
    );
    check(
        json!({"apps": [{"name": "q", "script": "/a.js", "node_args": "--title 'a b"}]}),
        "ecosystem file /x/eco.yaml: app #1 (\"q\"): interpreter_args: cannot split \"--title 'a b\" into words: a quote is not closed or it ends in a backslash",
    );
    check(
        json!({"apps": [{"script": "/a.js", "env": ["A=1"]}]}),
        "ecosystem file /x/eco.yaml: app #1: env: expected an object of variables, got an array",
    );
}

#[test]
fn stdin_values_use_the_given_base_dir() {
    let apps = from_value(
        json!([{"script": "srv.js", "cwd": "sub", "name": "s"}]),
        Path::new("/work/here"),
        None,
        &[],
        STDIN_ORIGIN,
    )
    .expect("from_value");
    assert_eq!(apps[0].cwd.as_deref(), Some("/work/here/sub"));
    assert_eq!(apps[0].script, "/work/here/sub/srv.js");
    let e = err_text(
        from_value(json!({}), Path::new("/"), None, &[], STDIN_ORIGIN).expect_err("empty"),
    );
    assert_eq!(e, "ecosystem JSON from stdin: no \"apps\" array");
}

#[test]
fn samples_are_pm2s_templates_and_load() {
    assert!(sample().starts_with("module.exports = {\n  apps : [{\n    script: 'index.js',"));
    assert!(sample().contains("pm2 reload ecosystem.config.js --env production"));
    assert!(sample_simple().contains("name   : \"app1\""));
    let d = tempfile::tempdir().expect("tempdir");
    let f = write(d.path(), "ecosystem.config.js", sample());
    let apps = load(&f, Some("production"), &[]).expect("sample loads");
    assert_eq!(names(&apps), ["index", "service-worker"]);
    assert_eq!(apps[0].watch, Some(json!(".")));
    let f = write(d.path(), "simple/ecosystem.config.js", sample_simple());
    assert_eq!(names(&load(&f, None, &[]).expect("simple loads")), ["app1"]);
}

#[test]
fn string_args_split_into_words() {
    let apps = from_value(
        json!({"apps": [
            {"script": "/a.js", "args": "--port  1 \\.log$", "node_args": "--max-old-space-size=100 --title 'a b'"},
            {"script": "/b.js", "args": "--title=\"a b\" ''", "ignore_watch": "node_modules \\.log$"}
        ]}),
        Path::new("/b"),
        None,
        &[],
        STDIN_ORIGIN,
    )
    .expect("from_value");
    // Unquoted: pm2's split, backslashes kept. Quoted: a shell's.
    assert_eq!(apps[0].args, ["--port", "1", "\\.log$"]);
    assert_eq!(
        apps[0].interpreter_args,
        ["--max-old-space-size=100", "--title", "a b"]
    );
    assert_eq!(apps[1].args, ["--title=a b", ""]);
    assert_eq!(apps[1].ignore_watch, ["node_modules", "\\.log$"]);
}
