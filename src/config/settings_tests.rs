use super::*;
use crate::logs::RotatePolicy;

/// What pm2 7.0.4 wrote for `pm2 set pm2-logrotate:max_size 10M`, `... retain 5`,
/// `... compress true`, `pm2 set foo bar` and `pm2 set a.b:c 1`, byte for byte.
const PM2_WROTE: &str = r#"{
    "pm2-logrotate": {
        "max_size": "10M",
        "retain": "5",
        "compress": "true"
    },
    "foo": "bar",
    "a": {
        "b:c": "1"
    }
}"#;

#[test]
fn writes_what_pm2_writes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(FILE_NAME);
    set(&path, "pm2-logrotate:max_size", "10M").expect("set");
    set(&path, "pm2-logrotate:retain", "5").expect("set");
    set(&path, "pm2-logrotate:compress", "true").expect("set");
    set(&path, "foo", "bar").expect("set");
    let s = set(&path, "a.b:c", "1").expect("set");
    assert_eq!(std::fs::read_to_string(&path).expect("read"), PM2_WROTE);
    assert_eq!(
        s.get("pm2-logrotate:max_size").expect("key"),
        Some(&Value::String("10M".into()))
    );
    assert_eq!(
        s.get("a.b:c").expect("key"),
        Some(&Value::String("1".into()))
    );
    assert_eq!(s.get("pm2-logrotate:nope").expect("key"), None);
    assert_eq!(s.get("foo:bar").expect("key"), None);

    let s = unset(&path, "pm2-logrotate:retain").expect("unset");
    assert!(s.get("pm2-logrotate.retain").expect("key").is_none());
    let reread = Settings::load(&path).expect("load");
    assert_eq!(reread.all(), s.all());
    assert!(!std::fs::read_to_string(&path)
        .expect("read")
        .contains("retain"));
    unset(&path, "never:was").expect("unset");
    assert!(Settings::load(&path)
        .expect("load")
        .all()
        .get("never")
        .is_none());

    unset(&path, "all").expect("unset all");
    assert_eq!(std::fs::read_to_string(&path).expect("read"), "{}");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .expect("list")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(leftovers, vec![FILE_NAME], "temp files left behind");
}

#[test]
fn a_value_replaces_a_level_and_a_level_replaces_a_value() {
    let mut s = Settings::load(Path::new("/nonexistent/module_conf.json")).expect("empty");
    s.set("x", "1").expect("set");
    s.set("x:y", "2").expect("set");
    assert_eq!(
        s.to_json(),
        "{\n    \"x\": {\n        \"y\": \"2\"\n    }\n}"
    );
    s.set("x", "3").expect("set");
    assert_eq!(s.get("x").expect("key"), Some(&Value::String("3".into())));
}

#[test]
fn keys_split_as_pm2_splits_them() {
    let k = |s: &str| split_key(s).expect("valid key");
    assert_eq!(k("pm2-logrotate:max_size"), ["pm2-logrotate", "max_size"]);
    assert_eq!(k("a.b:c"), ["a", "b:c"]);
    assert_eq!(k("plain"), ["plain"]);
    assert_eq!(k(r#"mod:"a:b":c"#), ["mod", "a:b", "c"]);
    assert_eq!(k(r#"a"b.c"d.e"#), ["ab.cd", "e"]);
    for bad in ["a:__proto__", "constructor", ".", ""] {
        assert!(split_key(bad).is_err(), "{bad:?} accepted");
    }
    assert_eq!(k("a::"), ["a"]);
}

#[test]
fn a_broken_store_is_reported_not_overwritten() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(FILE_NAME);
    std::fs::write(&path, "{ not json").expect("write");
    let err = set(&path, "a:b", "1").expect_err("broken");
    assert!(err.to_string().contains(FILE_NAME), "{err}");
    assert_eq!(std::fs::read_to_string(&path).expect("read"), "{ not json");
    std::fs::write(&path, "[1]").expect("write");
    assert!(matches!(
        Settings::load(&path),
        Err(SettingsError::NotObject { .. })
    ));
}

#[test]
fn logrotate_defaults() {
    let s = Settings::load(Path::new("/nonexistent/module_conf.json")).expect("empty");
    let p = s.rotate_policy().expect("defaults");
    assert_eq!(p, RotatePolicy::default());
    assert_eq!(p.max_size, 10 * 1024 * 1024);
    assert_eq!(p.retain, Some(30));
    assert!(!p.compress);
    assert_eq!(p.date_format, "YYYY-MM-DD_HH-mm-ss");
    assert_eq!(p.rotate_interval, "0 0 * * *");
    assert_eq!(p.tz, None);
}

/// `pm2 install pm2-logrotate` seeds the store from its package.json, booleans included.
#[test]
fn logrotate_as_pm2_install_left_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(FILE_NAME);
    std::fs::write(
        &path,
        r#"{"pm2-logrotate": {"max_size": "500K", "retain": "7", "compress": false,
            "dateFormat": "YYYY-MM-DD", "workerInterval": "30",
            "rotateInterval": "*/5 * * * *", "rotateModule": true, "TZ": "Etc/GMT+1"}}"#,
    )
    .expect("write");
    let p = Settings::load(&path)
        .expect("load")
        .rotate_policy()
        .expect("policy");
    assert_eq!(
        p,
        RotatePolicy {
            max_size: 500 * 1024,
            retain: Some(7),
            compress: false,
            date_format: "YYYY-MM-DD".into(),
            rotate_interval: "*/5 * * * *".into(),
            tz: Some(crate::sys::zone::Zone::named("Etc/GMT+1").expect("zone")),
        }
    );
}

#[test]
fn logrotate_values_parse_or_say_why_not() {
    let policy = |key: &str, value: &str| {
        let mut s = Settings::load(Path::new("/nonexistent/x.json")).expect("empty");
        s.set(&format!("{LOGROTATE}:{key}"), value).expect("set");
        s.rotate_policy()
    };
    assert_eq!(policy("max_size", "1G").expect("1G").max_size, 1 << 30);
    assert_eq!(policy("max_size", "").expect("empty").max_size, 10 << 20);
    assert_eq!(policy("retain", "all").expect("all").retain, None);
    assert_eq!(policy("retain", "").expect("empty").retain, None);
    assert_eq!(policy("retain", "0").expect("0").retain, Some(0));
    assert!(policy("compress", "true").expect("true").compress);
    for (key, value, says) in [
        ("max_size", "10m", "upper case"),
        ("retain", "five", "number of files"),
        ("compress", "yes", "true or false"),
        ("rotateInterval", "every day", "cron"),
        ("TZ", "Mars/Olympus", "time zone"),
        ("dateFormat", "YYYY/MM", "file name"),
    ] {
        let err = policy(key, value).expect_err(value).to_string();
        assert!(
            err.contains(key) && err.contains(value) && err.contains(says),
            "{err}"
        );
    }
}

#[test]
fn sizes_as_pm2_logrotate_reads_them() {
    assert_eq!(parse_size("10M"), Ok(10 * 1024 * 1024));
    assert_eq!(parse_size("1G"), Ok(1024 * 1024 * 1024));
    assert_eq!(parse_size("500K"), Ok(500 * 1024));
    assert_eq!(parse_size("4096"), Ok(4096));
    assert_eq!(parse_size(" 10 M "), Ok(10 * 1024 * 1024));
    for bad in [
        "",
        "M",
        "abc",
        "1.5M",
        "-1",
        "0",
        "0K",
        "10m",
        "99999999999999999999G",
    ] {
        assert!(parse_size(bad).is_err(), "{bad:?} accepted");
    }
}

#[test]
fn set_checked_refuses_a_bad_rotation_value_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(FILE_NAME);
    set_checked(&path, "pm2-logrotate:max_size", "1M").expect("set");
    let before = std::fs::read_to_string(&path).expect("read");
    for (k, v) in [("max_size", "1m"), ("retain", "x"), ("workerInterval", "0")] {
        let e = set_checked(&path, &format!("pm2-logrotate:{k}"), v).expect_err(k);
        assert!(
            e.to_string()
                .starts_with(&format!("pm2-logrotate:{k} = {v}: ")),
            "{e}"
        );
    }
    assert_eq!(std::fs::read_to_string(&path).expect("read"), before);
    // Other modules' values are pm2's business, stored as given.
    set_checked(&path, "other:max_size", "1m").expect("not a rotation key");
}

#[test]
fn install_writes_pm2_logrotates_defaults_and_keeps_what_is_set() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(FILE_NAME);
    set(&path, "pm2-logrotate:retain", "5").expect("set");
    let s = install_logrotate(&path).expect("install");
    let section = s.get(LOGROTATE).expect("key").expect("section");
    assert_eq!(section["retain"], "5");
    assert_eq!(section["max_size"], "10M");
    assert_eq!(section["compress"], false);
    assert_eq!(section["rotateModule"], true);
    let p = s.rotate_policy().expect("usable");
    assert_eq!((p.max_size, p.retain), (10 << 20, Some(5)));
}

#[test]
fn app_override_holds_only_what_the_app_gives() {
    let conf: Map<String, Value> = serde_json::from_str(
        r#"{"max_size": "1K", "retain": "all", "rotateInterval": "0 * * * *"}"#,
    )
    .expect("json");
    let o = app_override(&conf).expect("valid");
    assert_eq!(o.max_size, Some(1024));
    assert_eq!(o.retain, Some(None));
    assert_eq!(o.compress, None);
    assert_eq!(o.date_format, None);
    assert_eq!(o.rotate_interval.as_deref(), Some("0 * * * *"));
    let bad: Map<String, Value> = serde_json::from_str(r#"{"compress": "yes"}"#).expect("json");
    assert!(app_override(&bad).is_err());
}
