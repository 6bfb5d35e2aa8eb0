//! Splitting one string into words, for the options pm2 accepts either as a list or as a single
//! string: `args`, `node_args` / `interpreter_args` and `ignore_watch` in an ecosystem file, and
//! `--node-args` / `--interpreter-args` / `--ignore-watch` on the command line. Every such place
//! calls [`split`], so a string means the same wherever it is written.
//!
//! Text without quotes splits exactly as pm2 7 splits it (`lib/tools/Config.js`,
//! `validateJSON`): on whitespace, every other character kept as typed, so `C:\x`, `\.log$` and
//! `#tag` stay whole words. Existing files and scripts rely on that.
//!
//! Text with a quote follows POSIX shell rules (the `shlex` crate), so
//! `--node-args="--max-old-space-size=100 --title 'a b'"` gives `--title` the one word `a b`:
//! quotes group, `--title="a b"` becomes `--title=a b`, `''` is an empty word, a backslash
//! escapes the next character outside single quotes, and a word starting with `#` begins a
//! comment. pm2 only understands quotes around a whole word or after `key=` (where it keeps
//! them), drops empty words and reads an unclosed quote as a plain character; here an unclosed
//! quote is an error, so a typo stops the start instead of running the app with mangled words.

/// The string could not be split: a quote is not closed, or it ends in a lone backslash.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot split {0:?} into words: a quote is not closed or it ends in a backslash")]
pub struct SplitError(pub String);

/// The words of `s` (see the module doc for the rules).
pub fn split(s: &str) -> Result<Vec<String>, SplitError> {
    if !s.contains(['"', '\'']) {
        return Ok(s
            .split(is_js_space)
            .filter(|w| !w.is_empty())
            .map(str::to_string)
            .collect());
    }
    shlex::split(s).ok_or_else(|| SplitError(s.to_string()))
}

/// JavaScript's `\s`, which pm2's split uses: Rust's `char::is_whitespace` plus U+FEFF and
/// minus U+0085, so unquoted text splits at exactly the same places as under pm2.
fn is_js_space(c: char) -> bool {
    c == '\u{feff}' || (c.is_whitespace() && c != '\u{85}')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        split(s).unwrap_or_else(|e| panic!("{e}"))
    }

    /// What pm2 7.0.4 stores for the same strings (`pm2 start` of an ecosystem file, then
    /// `pm2 jlist`): unquoted text must split the same way, or existing set-ups change.
    #[test]
    fn unquoted_text_splits_as_pm2_does() {
        assert_eq!(words("--a  --b"), ["--a", "--b"]);
        assert_eq!(
            words(" a\tb\n c\r\u{a0}d\u{feff}e\u{3000}f "),
            ["a", "b", "c", "d", "e", "f"]
        );
        assert_eq!(
            words("--max-old-space-size=100"),
            ["--max-old-space-size=100"]
        );
        // Backslashes and `#` are ordinary characters without quotes (regexes, Windows paths).
        assert_eq!(
            words(r"node_modules \.log$ #x C:\x a\ b"),
            ["node_modules", r"\.log$", "#x", r"C:\x", r"a\", "b"]
        );
        // U+0085 is not whitespace in JavaScript.
        assert_eq!(words("a\u{85}b"), ["a\u{85}b"]);
        assert!(words("").is_empty());
        assert!(words(" \t\n ").is_empty());
    }

    #[test]
    fn quoted_text_splits_as_a_shell_does() {
        assert_eq!(
            words("--max-old-space-size=100 --title 'a b'"),
            ["--max-old-space-size=100", "--title", "a b"]
        );
        assert_eq!(words(r#"--title="a b" "c d""#), ["--title=a b", "c d"]);
        assert_eq!(words(r#"a 'b c' "d" ''"#), ["a", "b c", "d", ""]);
        assert_eq!(words(r#""it's" 'say "hi"'"#), ["it's", r#"say "hi""#]);
        assert_eq!(words(r#"'x' a\ b \"y"#), ["x", "a b", "\"y"]);
        assert_eq!(words("'a' #comment"), ["a"]);
        assert_eq!(words("'a'\t'b'\n'c'"), ["a", "b", "c"]);
    }

    #[test]
    fn an_unclosed_quote_is_an_error_naming_the_text() {
        for bad in ["--name O'Brien", r#"--title "a b"#, r#"'a' b\"#] {
            let e = split(bad).expect_err(bad);
            assert_eq!(e, SplitError(bad.to_string()));
            assert_eq!(
                e.to_string(),
                format!("cannot split {bad:?} into words: a quote is not closed or it ends in a backslash")
            );
        }
    }
}
