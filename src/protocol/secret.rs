//! Which values are secrets, and what a person sees of them: `'***'`. One rule for every
//! surface people read (`describe`, `report`, `env`, `monit`, the dashboard, `/metrics` labels,
//! the daemon's log). Apps still receive the real values, and `jlist` / `prettylist` carry
//! them whole, as pm2's do, for scripts (they are reachable only through the 0600 socket).
//!
//! Secret are: values of variables named like `*_SECRET`, `*_TOKEN`, `*_PASSWORD`, `*_KEY`,
//! `*_PASS` (or the bare words, in any case), of variables an app names in `secrets` (`--secret
//! KEY`), and the password of any `scheme://user:password@host` in a shown text. A secret value
//! is also masked where it turns up inside other shown text (an argument, a name).

use std::collections::BTreeSet;

use serde_json::Value;

use super::ProcView;

pub const MASK: &str = "***";

/// The app option listing the variables to mask beyond those the name rule catches.
pub const OPTION: &str = "secrets";

/// Secret values shorter than this are masked as variables, not searched for in other text:
/// "1" or "on" would mask every digit or word of a line.
const MIN_SEARCHED: usize = 4;

/// Whether a variable's name says it holds a credential.
pub fn is_secret_name(key: &str) -> bool {
    let k = key.to_ascii_uppercase();
    ["SECRET", "TOKEN", "PASSWORD", "KEY", "PASS"]
        .iter()
        .any(|s| k == *s || k.strip_suffix(s).is_some_and(|rest| rest.ends_with('_')))
}

/// Every `scheme://user:password@host` in `text` with the password replaced by `***`.
pub fn mask_urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        // The authority ends where the path, query, fragment or the word does.
        let end = tail
            .find(|c: char| "/?#".contains(c) || c.is_whitespace() || "\"'`<>".contains(c))
            .unwrap_or(tail.len());
        let authority = &tail[..end];
        match authority.rfind('@').and_then(|at| {
            let colon = authority[..at].find(':')?;
            Some((colon, at))
        }) {
            Some((colon, at)) => {
                out.push_str(&authority[..=colon]);
                out.push_str(MASK);
                out.push_str(&authority[at..]);
            }
            None => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// The secrets of one app: which variable names to mask and the values to look for.
#[derive(Debug, Default, Clone)]
pub struct Secrets {
    named: BTreeSet<String>,
    /// Longest first, so a secret containing another is masked whole.
    values: Vec<String>,
}

impl Secrets {
    /// From an app's environment and the names it lists in `secrets`.
    pub fn new<'a>(
        env: impl IntoIterator<Item = (&'a str, &'a str)>,
        named: impl IntoIterator<Item = &'a str>,
    ) -> Secrets {
        let named: BTreeSet<String> = named.into_iter().map(str::to_string).collect();
        let mut values: Vec<String> = env
            .into_iter()
            .filter(|(k, v)| (is_secret_name(k) || named.contains(*k)) && v.len() >= MIN_SEARCHED)
            .map(|(_, v)| v.to_string())
            .collect();
        values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        values.dedup();
        Secrets { named, values }
    }

    /// The names an app lists in its `secrets` option (a list of names, or one name).
    pub fn listed(option: Option<&Value>) -> Vec<&str> {
        match option {
            Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
            Some(Value::String(s)) => vec![s.as_str()],
            _ => Vec::new(),
        }
    }

    /// The secrets of an app started with `caller_env` (the daemon's view of it).
    pub fn of_app(spec: &super::AppSpec, caller_env: &super::Env) -> Secrets {
        let env = caller_env
            .iter()
            .chain(spec.env.iter())
            .filter_map(|(k, v)| Some((k.as_str(), v.as_str()?)));
        Secrets::new(env, Secrets::listed(spec.extra.get(OPTION)))
    }

    /// The secrets of a process as `jlist` describes it.
    pub fn of_view(v: &ProcView) -> Secrets {
        let e = &v.pm2_env;
        let env = e
            .env
            .iter()
            .filter_map(|(k, v)| Some((k.as_str(), v.as_str()?)));
        Secrets::new(env, Secrets::listed(e.options.get(OPTION)))
    }

    pub fn is_secret(&self, key: &str) -> bool {
        is_secret_name(key) || self.named.contains(key)
    }

    /// A variable as a person sees it.
    pub fn var(&self, key: &str, value: &str) -> String {
        if self.is_secret(key) {
            MASK.into()
        } else {
            self.text(value)
        }
    }

    /// Any shown text, with each secret value in it and each URL password masked.
    pub fn text(&self, text: &str) -> String {
        let mut t = mask_urls(text);
        for v in &self.values {
            if t.contains(v.as_str()) {
                t = t.replace(v.as_str(), MASK);
            }
        }
        t
    }

    /// [`Secrets::json`] of an object's entries.
    pub fn object(&self, m: &serde_json::Map<String, Value>) -> serde_json::Map<String, Value> {
        m.iter()
            .map(|(k, x)| {
                let x = if self.is_secret(k) && !x.is_null() {
                    Value::String(MASK.into())
                } else {
                    self.json(x)
                };
                (k.clone(), x)
            })
            .collect()
    }

    /// A JSON value with every string in it shown as [`Secrets::text`], and every object key
    /// that names a secret masked whole.
    pub fn json(&self, v: &Value) -> Value {
        match v {
            Value::String(s) => Value::String(self.text(s)),
            Value::Array(a) => Value::Array(a.iter().map(|x| self.json(x)).collect()),
            Value::Object(m) => Value::Object(self.object(m)),
            other => other.clone(),
        }
    }
}

/// An app's `secrets` option: variable names, as a list or one name.
pub fn check(spec: &super::AppSpec) -> Result<(), String> {
    match spec.extra.get(OPTION) {
        None | Some(Value::Null | Value::String(_)) => Ok(()),
        Some(Value::Array(a)) if a.iter().all(Value::is_string) => Ok(()),
        Some(other) => Err(format!(
            "secrets must be a list of variable names, got {other}"
        )),
    }
}

/// A process as a person may see it: every variable a secret's name or the app's `secrets`
/// names is `***`, and every secret value or URL password in its name, script, arguments,
/// paths and options is masked. For `describe`, `env`, `monit`, the dashboard and `/metrics`.
pub fn shown(v: &ProcView) -> ProcView {
    let s = Secrets::of_view(v);
    let mut v = v.clone();
    let e = &mut v.pm2_env;
    for t in [
        &mut v.name,
        &mut e.name,
        &mut e.namespace,
        &mut e.pm_exec_path,
        &mut e.pm_cwd,
        &mut e.exec_interpreter,
        &mut e.pm_out_log_path,
        &mut e.pm_err_log_path,
        &mut e.pm_pid_path,
    ] {
        *t = s.text(t);
    }
    if let Some(p) = e.pm_log_path.as_mut() {
        *p = s.text(p);
    }
    for a in e.node_args.iter_mut().flatten() {
        *a = s.text(a);
    }
    e.env = s.object(&e.env);
    e.lifted = s.object(&e.lifted);
    e.options = s.object(&e.options);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none() -> Secrets {
        Secrets::default()
    }

    #[test]
    fn names_that_say_credential_are_secret() {
        for k in [
            "API_TOKEN",
            "aws_secret",
            "DB_PASS",
            "STRIPE_KEY",
            "PASSWORD",
            "key",
        ] {
            assert!(is_secret_name(k), "{k}");
        }
        for k in ["MONKEY", "PATH", "PASSWORDS", "KEYS", "TOKENIZER", "BYPASS"] {
            assert!(!is_secret_name(k), "{k}");
        }
        assert_eq!(none().var("API_TOKEN", "abc"), "***");
        assert_eq!(none().var("MONKEY", "banana"), "banana");
    }

    #[test]
    fn url_passwords_are_masked_anywhere_in_a_text() {
        let s = none();
        assert_eq!(
            s.var("DATABASE_URL", "postgres://app:hunter2@db:5432/x"),
            "postgres://app:***@db:5432/x"
        );
        assert_eq!(
            s.text("curl https://u:p1@a.b/x && curl 'redis://:p2@r:6379'"),
            "curl https://u:***@a.b/x && curl 'redis://:***@r:6379'"
        );
        for plain in [
            "https://example.com/a@b",
            "https://user@host/",
            "no url here",
            "a://",
            "ends with ://",
        ] {
            assert_eq!(s.text(plain), plain);
        }
        assert_eq!(s.text("é://ü:ö@ä"), "é://ü:***@ä", "not bytes: characters");
    }

    #[test]
    fn named_and_name_rule_values_are_masked_inside_other_text() {
        let env = [
            ("STRIPE_KEY", "sk_live_123"),
            ("LICENSE", "ABCD-EFGH"),
            ("SHORT_TOKEN", "ab"),
            ("HOME", "/root"),
        ];
        let s = Secrets::new(env, ["LICENSE"]);
        assert!(s.is_secret("LICENSE"));
        assert_eq!(s.var("LICENSE", "ABCD-EFGH"), "***");
        assert_eq!(
            s.text("--key=sk_live_123 --license ABCD-EFGH ab /root"),
            "--key=*** --license *** ab /root",
            "values under 4 characters are not searched for"
        );
        let j = s.json(&serde_json::json!({"args": ["sk_live_123"], "STRIPE_KEY": "x", "n": 1}));
        assert_eq!(
            j,
            serde_json::json!({"args": ["***"], "STRIPE_KEY": "***", "n": 1})
        );
    }

    #[test]
    fn the_secrets_option_is_a_list_or_one_name() {
        let list = serde_json::json!(["A", "B", 3]);
        assert_eq!(Secrets::listed(Some(&list)), ["A", "B"]);
        assert_eq!(Secrets::listed(Some(&"A".into())), ["A"]);
        assert!(Secrets::listed(None).is_empty());
    }
}
